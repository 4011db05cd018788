// Package vm boots a test system under qemu (TCG) and drives it: the VM harness of stead's
// integration tests.
//
// Boot builds an initramfs (a static busybox, the kernel modules for virtio and the TPM, the
// guest agent, and the caller's init and files), starts qemu-system-x86_64 with the Debian
// cloud kernel, and waits until the guest agent answers over a virtio-serial port. The test
// then runs commands (Run, Exec), moves files (PutFile, GetFile), reads the serial console
// (Console, WaitConsole) and powers the machine off (Poweroff). Cleanup registered with
// t.Cleanup stops the VM's own qemu (and swtpm) by PID.
//
// See docs/vm-harness.md.
package vm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm/internal/agentproto"
)

const agentPortName = agentproto.PortName

// AgentMode says who starts the guest agent.
type AgentMode int

const (
	// AgentAuto: the harness starts it. With the default init, busybox init respawns it; with
	// Options.Init, the kernel first runs WrapperInit (rdinit=), which mounts the API
	// filesystems, starts the agent in the background and execs /init as PID 1.
	AgentAuto AgentMode = iota
	// AgentByInit: the init under test starts AgentPath itself (e.g. from AgentUnit); Boot
	// still waits for it.
	AgentByInit
	// AgentNone: no agent; Boot returns as soon as qemu runs. Use the console.
	AgentNone
)

// Options describe the machine to boot. The zero value boots busybox init with the agent,
// 512 MiB, one CPU, no network.
type Options struct {
	Memory int // MiB; default 512
	CPUs   int // default 1

	// SMBIOS are -smbios arguments, e.g. "type=1,manufacturer=Amazon EC2,product=m5.large"
	// (qemu syntax: a comma inside a value is written ",,"; SMBIOS() does that).
	SMBIOS []string
	// KernelCmdline is appended to DefaultCmdline.
	KernelCmdline string

	// Init is a host path of a binary placed at /init and run as PID 1 instead of busybox
	// init: static, or dynamic with its libraries in Files (DynamicFiles; upstream systemd).
	Init  string
	Agent AgentMode
	// AgentBinary is a prebuilt static guest agent (integration/vm/agent); by default Boot
	// builds it from this checkout. Programs outside `go test` (the demo) pass their own.
	AgentBinary string

	// Files are placed in the initramfs: guest path → content. Parent directories are created.
	Files map[string]File
	// Dirs are extra (empty) directories.
	Dirs []string
	// NoEtcHostname leaves /etc/hostname out of the image (which otherwise names the guest
	// stead-vm): a first boot, where the host name comes from elsewhere (a credential).
	NoEtcHostname bool
	// Modules are kernel modules loaded at boot besides DefaultModules (dependencies
	// included), e.g. "vsock", "virtio_rng".
	Modules []string

	// Net adds a virtio-net NIC on a restricted user network (see Net).
	Net *Net
	// TPM adds a TPM 2.0 (tpm-tis) backed by a swtpm process; TPMStateDir keeps its state
	// across boots (default: a fresh temporary directory).
	TPM         bool
	TPMStateDir string
	// Disk is a host image file attached as a virtio-blk disk (/dev/vda); ".qcow2" files
	// are opened as qcow2, anything else as raw.
	Disk string

	// BootTimeout bounds qemu start → agent reachable; default 3 minutes (TCG on a loaded
	// host can be slow).
	BootTimeout time.Duration
}

// VM is a running test machine.
type VM struct {
	t    testing.TB
	opts Options

	dir, sockDir string
	cmd          *exec.Cmd
	swtpm        *exec.Cmd
	con          *console
	agent        *agentConn

	started  time.Time
	bootTime time.Duration
	uptime   float64

	done    chan struct{}
	waitErr error
	stopMu  sync.Mutex
}

// Boot starts a VM for the test and waits for its agent. It skips the test when the
// prerequisites are missing (see Prereqs) and fails it when the VM does not come up.
func Boot(t testing.TB, o Options) *VM {
	t.Helper()
	runParallel(t)
	k := Prereqs(t)
	v, err := start(t, k, o)
	if err != nil {
		t.Fatalf("vm: %v", err) // cleanup logs the console
	}
	return v
}

// parallelTests are the tests runParallel made parallel.
var parallelTests sync.Map

// runParallel lets a top-level VM test run beside other VM tests (go test's -parallel,
// GOMAXPROCS by default): a TCG guest keeps one host CPU busy, so booting them one after
// the other would leave the others idle. The test pauses here until the sequential tests
// are done. Subtests (whose parent may compare their results after t.Run returns), tests
// that boot a second VM, and benchmarks (STEAD_BENCH, which time the guests) stay as
// they are.
func runParallel(t testing.TB) {
	tt, ok := t.(*testing.T)
	if !ok || strings.Contains(tt.Name(), "/") || os.Getenv("STEAD_BENCH") != "" {
		return
	}
	if _, again := parallelTests.LoadOrStore(tt, true); again {
		return
	}
	tt.Parallel()
}

func start(t testing.TB, k Kernel, o Options) (*VM, error) {
	if o.Net != nil { // before anything runs
		if _, err := netdevArg(o.Net); err != nil {
			return nil, err
		}
	}
	agentBin := o.AgentBinary
	if agentBin == "" {
		agentBin = harness.Binary(t, "integration/vm/agent")
	}
	v := &VM{t: t, opts: o, dir: t.TempDir(), done: make(chan struct{})}
	// Unix socket paths must stay under 108 bytes: a short directory of their own.
	sd, err := os.MkdirTemp("", "stead-vm-")
	if err != nil {
		return nil, err
	}
	v.sockDir = sd
	t.Cleanup(func() { os.RemoveAll(sd) })

	im, err := buildImage(k, agentBin, &o)
	if err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	logDir := os.Getenv("STEAD_VM_LOGDIR")
	logName := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	if logDir != "" {
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			return nil, err
		}
	}
	initrd := filepath.Join(v.dir, "initrd.cpio")
	if logDir != "" { // kept, to rerun the logged qemu command by hand
		initrd = filepath.Join(logDir, logName+".initrd.cpio")
	}
	f, err := os.Create(initrd)
	if err != nil {
		return nil, err
	}
	if err := im.write(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}

	logPath := filepath.Join(v.dir, "console.log")
	if logDir != "" {
		logPath = filepath.Join(logDir, logName+".console.log")
	}
	if v.con, err = newConsole(logPath); err != nil {
		return nil, err
	}
	// Registered before qemu starts, so that it runs after qemu's cleanup (LIFO).
	t.Cleanup(func() { v.con.close() })

	p := qemuPaths{kernel: k.Vmlinuz, initrd: initrd, monitorSock: filepath.Join(sd, "mon.sock")}
	if o.Agent != AgentNone {
		p.agentSock = filepath.Join(sd, "agent.sock")
	}
	if o.TPM {
		if p.tpmSock, err = v.startSwtpm(); err != nil {
			return v, err
		}
	}
	args, err := qemuArgs(&o, p)
	if err != nil {
		return v, err
	}
	v.cmd = exec.Command(QEMU, args...)
	v.cmd.Stdout, v.cmd.Stderr = v.con, v.con
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// guestfwd's socat children inherit qemu's stderr: do not wait for them after qemu exits.
	v.cmd.WaitDelay = 2 * time.Second
	fmt.Fprintf(v.con, "# %s %s\n", QEMU, strings.Join(quoteArgs(args), " "))
	v.started = time.Now()
	if err := v.cmd.Start(); err != nil {
		return v, err
	}
	go func() {
		v.waitErr = v.cmd.Wait()
		close(v.done)
	}()
	t.Cleanup(v.cleanup)

	if o.Agent == AgentNone {
		return v, nil
	}
	timeout := o.BootTimeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := v.connectAgent(ctx, p.agentSock); err != nil {
		return v, err
	}
	v.bootTime = time.Since(v.started)
	t.Logf("vm: agent reachable %v after qemu start (guest uptime %.2fs)", v.bootTime.Round(time.Millisecond), v.uptime)
	return v, nil
}

func quoteArgs(args []string) []string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \"'") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return q
}

func (v *VM) exitedErr() error {
	status := "exit status 0"
	if v.waitErr != nil {
		status = v.waitErr.Error()
	}
	return fmt.Errorf("qemu exited (%s) before the agent answered", status)
}

// connectAgent dials qemu's end of the virtio-serial port and pings until the agent answers.
func (v *VM) connectAgent(ctx context.Context, sock string) error {
	var c net.Conn
	for {
		var err error
		if c, err = net.Dial("unix", sock); err == nil {
			break
		}
		select {
		case <-v.done:
			return v.exitedErr()
		case <-ctx.Done():
			return fmt.Errorf("agent socket %s: %v", sock, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	v.agent = newAgentConn(c)
	// The first ping waits in the socket until the guest opens its port; ping again now and
	// then in case the agent restarted in between.
	got := make(chan *agentproto.Response, 1)
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	ping := func() {
		if r, err := v.agent.call(pctx, &agentproto.Request{Op: agentproto.OpPing}); err == nil {
			select {
			case got <- r:
			default:
			}
		}
	}
	go ping()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case r := <-got:
			v.uptime = r.Uptime
			return nil
		case <-tick.C:
			go ping()
		case <-v.agent.closed:
			select {
			case <-v.done:
				return v.exitedErr()
			case <-time.After(time.Second):
			}
			return fmt.Errorf("agent connection: %v", v.agent.err)
		case <-v.done:
			return v.exitedErr()
		case <-ctx.Done():
			return fmt.Errorf("no answer from the guest agent within %v", time.Since(v.started).Round(time.Second))
		}
	}
}

func (v *VM) startSwtpm() (string, error) {
	state := v.opts.TPMStateDir
	if state == "" {
		state = filepath.Join(v.dir, "tpm")
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return "", err
	}
	sock := filepath.Join(v.sockDir, "swtpm.sock")
	cmd := exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+state,
		"--ctrl", "type=unixio,path="+sock, "--terminate")
	cmd.Stdout, cmd.Stderr = v.con, v.con
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("swtpm: %w", err)
	}
	v.swtpm = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	v.t.Cleanup(func() {
		cmd.Process.Kill() // our own swtpm, by PID
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return sock, nil
		}
		select {
		case err := <-exited:
			return "", fmt.Errorf("swtpm exited: %v", err)
		default:
		}
	}
	return "", errors.New("swtpm did not create its socket within 10s")
}

// BootTime is the time from qemu's start to the agent's first answer.
func (v *VM) BootTime() time.Duration { return v.bootTime }

// GuestUptime is the guest's /proc/uptime when the agent first answered.
func (v *VM) GuestUptime() time.Duration { return time.Duration(v.uptime * float64(time.Second)) }

// Console returns the serial console output so far (with qemu's own messages), without
// carriage returns and terminal control sequences.
func (v *VM) Console() string { return v.con.String() }

// ConsolePath is the file the console is logged to (kept after the test only when
// STEAD_VM_LOGDIR is set).
func (v *VM) ConsolePath() string { return v.con.path }

// WaitConsole waits until the console output contains s. It fails when ctx ends or qemu
// exits first.
func (v *VM) WaitConsole(ctx context.Context, s string) error {
	for {
		ch, ok := v.con.contains(s)
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-v.done:
			if _, ok := v.con.contains(s); ok {
				return nil
			}
			return fmt.Errorf("qemu exited (%v) before the console showed %q", v.waitErr, s)
		case <-ctx.Done():
			return fmt.Errorf("console did not show %q: %w", s, ctx.Err())
		}
	}
}

// Done is closed when qemu has exited.
func (v *VM) Done() <-chan struct{} { return v.done }

// Wait waits for qemu to exit (the guest powered off, or panicked with panic=-1) and
// returns its exit error.
func (v *VM) Wait(ctx context.Context) error {
	select {
	case <-v.done:
		return v.waitErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Command is a command to run in the guest.
type Command struct {
	Argv    []string
	Env     []string // KEY=VALUE, added to the agent's environment
	Dir     string
	Stdin   []byte
	Timeout time.Duration // killed (whole process group) after this; 0: ctx's deadline, if any
}

// Result is what a guest command did. A non-zero exit is not an error of Run.
type Result struct {
	Stdout, Stderr []byte
	ExitCode       int    // -1 when killed by a signal
	Signal         string // e.g. SIGKILL
	TimedOut       bool
}

func (r Result) String() string {
	s := fmt.Sprintf("exit %d", r.ExitCode)
	if r.Signal != "" {
		s += " (" + r.Signal + ")"
	}
	if r.TimedOut {
		s += " (timed out)"
	}
	if len(r.Stderr) > 0 {
		s += "; stderr: " + strings.TrimSpace(string(r.Stderr))
	}
	return s
}

// Run runs argv in the guest and returns its output and exit code.
func (v *VM) Run(ctx context.Context, argv ...string) (Result, error) {
	return v.Exec(ctx, Command{Argv: argv})
}

// Exec runs a command in the guest. When ctx ends first the command is killed.
func (v *VM) Exec(ctx context.Context, c Command) (Result, error) {
	if len(c.Argv) == 0 {
		return Result{}, errors.New("vm: empty argv")
	}
	a, err := v.agentOrErr()
	if err != nil {
		return Result{}, err
	}
	req := &agentproto.Request{Op: agentproto.OpRun, Argv: c.Argv, Env: c.Env, Dir: c.Dir, Stdin: c.Stdin}
	timeout := c.Timeout
	if dl, ok := ctx.Deadline(); ok && (timeout == 0 || time.Until(dl) < timeout) {
		timeout = time.Until(dl)
	}
	if timeout > 0 {
		req.TimeoutMs = max(timeout.Milliseconds(), 1)
	}
	r, err := a.call(ctx, req)
	if err != nil {
		if ctx.Err() != nil && req.ID != 0 {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			a.call(cctx, &agentproto.Request{Op: agentproto.OpCancel, Target: req.ID})
			cancel()
		}
		return Result{}, fmt.Errorf("vm: run %q: %w", c.Argv, err)
	}
	res := Result{Stdout: r.Stdout, Stderr: r.Stderr, ExitCode: r.ExitCode, Signal: r.Signal, TimedOut: r.TimedOut}
	if r.Error != "" {
		return res, fmt.Errorf("vm: run %q: %s", c.Argv, r.Error)
	}
	return res, nil
}

// MustRun runs argv in the guest (for at most 2 minutes), fails t unless it exits 0, and
// returns its standard output with surrounding white space trimmed. t is the calling
// (sub)test.
func (v *VM) MustRun(t testing.TB, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := v.Run(ctx, argv...)
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 0 {
		t.Fatalf("vm: %q: %v\nstdout: %s", argv, r, r.Stdout)
	}
	return strings.TrimSpace(string(r.Stdout))
}

// PutFile writes a file in the guest, creating its parent directories.
func (v *VM) PutFile(ctx context.Context, path string, data []byte, mode fs.FileMode) error {
	a, err := v.agentOrErr()
	if err != nil {
		return err
	}
	if data == nil {
		data = []byte{}
	}
	r, err := a.call(ctx, &agentproto.Request{Op: agentproto.OpPut, Path: path, Data: data, Mode: uint32(mode.Perm())})
	if err == nil && r.Error != "" {
		err = errors.New(r.Error)
	}
	if err != nil {
		return fmt.Errorf("vm: put %s: %w", path, err)
	}
	return nil
}

// GetFile reads a file in the guest (also /proc and /sys files).
func (v *VM) GetFile(ctx context.Context, path string) ([]byte, error) {
	a, err := v.agentOrErr()
	if err != nil {
		return nil, err
	}
	r, err := a.call(ctx, &agentproto.Request{Op: agentproto.OpGet, Path: path})
	if err == nil && r.Error != "" {
		err = errors.New(r.Error)
	}
	if err != nil {
		return nil, fmt.Errorf("vm: get %s: %w", path, err)
	}
	if r.Data == nil {
		return []byte{}, nil
	}
	return r.Data, nil
}

func (v *VM) agentOrErr() (*agentConn, error) {
	if v.agent == nil {
		return nil, errors.New("vm: no agent (AgentNone)")
	}
	select {
	case <-v.done:
		return nil, fmt.Errorf("vm: qemu has exited (%v)", v.waitErr)
	default:
	}
	return v.agent, nil
}

// Poweroff powers the guest off through the agent (sync, then reboot(2) POWER_OFF, as
// `poweroff -f`) and waits for qemu to exit. If that takes more than 30 s — or there is no
// agent — it quits qemu through its monitor, then kills it. It returns an error if the guest
// did not power off by itself.
func (v *VM) Poweroff() error {
	select {
	case <-v.done:
		return nil
	default:
	}
	var perr error
	if v.agent != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, perr = v.agent.call(ctx, &agentproto.Request{Op: agentproto.OpPoweroff})
		cancel()
		if perr == nil {
			select {
			case <-v.done:
				return nil
			case <-time.After(30 * time.Second):
				perr = errors.New("qemu still running 30s after the agent's poweroff")
			}
		}
	} else {
		perr = errors.New("no agent")
	}
	v.stop(5 * time.Second)
	return fmt.Errorf("vm: poweroff: %v; stopped qemu instead", perr)
}

// Stop ends the VM at once: qemu's monitor "quit", then SIGKILL to our qemu after 5 s.
// Cleanup does the same for a VM still running at the end of the test.
func (v *VM) Stop() { v.stop(5 * time.Second) }

// stop quits qemu through its monitor, and kills it (by PID) if it has not exited after grace.
func (v *VM) stop(grace time.Duration) {
	v.stopMu.Lock()
	defer v.stopMu.Unlock()
	select {
	case <-v.done:
		return
	default:
	}
	if c, err := net.DialTimeout("unix", filepath.Join(v.sockDir, "mon.sock"), time.Second); err == nil {
		c.SetDeadline(time.Now().Add(time.Second))
		c.Write([]byte("quit\n"))
		defer c.Close()
	}
	select {
	case <-v.done:
		return
	case <-time.After(grace):
	}
	v.cmd.Process.Kill()
	<-v.done
}

func (v *VM) cleanup() {
	v.stop(5 * time.Second)
	if v.agent != nil {
		v.agent.close()
	}
	if v.t.Failed() {
		v.t.Logf("vm: console log %s:\n%s", v.con.path, tail(v.Console(), 200))
	}
}
