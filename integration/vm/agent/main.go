// Command agent is the VM harness's guest agent: a static program started in the test VM
// (by the harness's busybox init, or by the init under test) through which the host runs
// commands and moves files. It talks the line-framed JSON protocol of
// integration/vm/internal/agentproto over the virtio-serial port named "stead.agent".
//
// On start it makes sure /proc, /sys and /dev are mounted, loads the kernel modules listed
// in -modules (one path per line, in order; the harness writes the list), finds the port
// under /sys/class/virtio-ports and serves requests until the machine goes down.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/integration/vm/internal/agentproto"
)

func main() {
	port := flag.String("port", agentproto.PortName, "name of the virtio-serial port to serve")
	device := flag.String("device", "", "serve this character device instead of searching for -port")
	modules := flag.String("modules", "/etc/stead-vm/modules", "file listing kernel modules to load first, one path per line")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("stead-vm-agent: ")

	// A predictable PATH whoever started us (a bare init passes none; busybox init's lacks
	// /usr/local): commands are looked up with it. Requests may override it.
	os.Setenv("PATH", defaultPath)
	if os.Getenv("HOME") == "" {
		os.Setenv("HOME", "/root")
	}
	ensureMounts()
	loadModules(*modules)
	path := *device
	if path == "" {
		path = findPort(*port)
	}
	for {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			log.Printf("open %s: %v", path, err)
			time.Sleep(time.Second)
			continue
		}
		log.Printf("serving on %s", path)
		a := &agent{w: f, running: map[uint64]context.CancelFunc{}}
		err = a.serve(f)
		log.Printf("read %s: %v; reopening", path, err)
		f.Close()
		time.Sleep(time.Second)
	}
}

// ensureMounts mounts what the agent needs when the init that started it has not.
func ensureMounts() {
	for _, m := range []struct{ target, fstype string }{
		{"/proc", "proc"},
		{"/sys", "sysfs"},
		{"/dev", "devtmpfs"},
	} {
		if mounted(m.target) {
			continue
		}
		os.MkdirAll(m.target, 0o755)
		if err := unix.Mount(m.fstype, m.target, m.fstype, unix.MS_NOSUID, ""); err != nil {
			log.Printf("mount %s on %s: %v", m.fstype, m.target, err)
		}
	}
}

// mounted reports whether something is mounted on dir, per /proc/self/mounts.
func mounted(dir string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false // no /proc: nothing is known to be mounted
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == dir {
			return true
		}
	}
	return false
}

func loadModules(list string) {
	b, err := os.ReadFile(list)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			log.Print(err)
		}
		return
	}
	for _, p := range strings.Fields(string(b)) {
		f, err := os.Open(p)
		if err != nil {
			log.Print(err)
			continue
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			log.Printf("load %s: %v", p, err)
		}
	}
}

// findPort waits for the virtio-serial port called name and returns its device node,
// creating the node when no devtmpfs provides it.
func findPort(name string) string {
	start := time.Now()
	next := 10 * time.Second
	for {
		dirs, _ := filepath.Glob("/sys/class/virtio-ports/*")
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, "name"))
			if err != nil || strings.TrimSpace(string(b)) != name {
				continue
			}
			node := filepath.Join("/dev", filepath.Base(d))
			if _, err := os.Stat(node); err == nil {
				return node
			}
			dev, err := os.ReadFile(filepath.Join(d, "dev"))
			if err != nil {
				continue
			}
			var major, minor uint32
			if _, err := fmt.Sscanf(strings.TrimSpace(string(dev)), "%d:%d", &major, &minor); err != nil {
				continue
			}
			if err := unix.Mknod(node, unix.S_IFCHR|0o600, int(unix.Mkdev(major, minor))); err != nil {
				log.Printf("mknod %s: %v", node, err)
				continue
			}
			return node
		}
		if time.Since(start) > next {
			log.Printf("still no virtio-serial port named %q after %v", name, time.Since(start).Round(time.Second))
			next *= 2
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type agent struct {
	wmu sync.Mutex
	w   io.Writer

	mu      sync.Mutex
	running map[uint64]context.CancelFunc
}

// serve reads requests until a read fails with something other than EOF. A virtio-serial
// port reads EOF while no host is connected: keep polling then.
func (a *agent) serve(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		switch {
		case err == nil:
			a.dispatch(line)
			line = line[:0]
		case errors.Is(err, bufio.ErrBufferFull):
			if len(line) > agentproto.MaxLine {
				log.Printf("dropping a message over %d bytes", agentproto.MaxLine)
				line = line[:0]
				br.Reset(r) // resynchronise on the next newline (the rest is skipped as junk)
			}
		case errors.Is(err, io.EOF):
			time.Sleep(20 * time.Millisecond)
		default:
			return err
		}
	}
}

func (a *agent) dispatch(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	var req agentproto.Request
	if err := json.Unmarshal(line, &req); err != nil {
		log.Printf("skipping a malformed message (%d bytes): %v", len(line), err)
		return
	}
	switch req.Op {
	case agentproto.OpPing:
		a.reply(&agentproto.Response{ID: req.ID, Uptime: uptime(), PID: os.Getpid()})
	case agentproto.OpCancel:
		a.mu.Lock()
		if c := a.running[req.Target]; c != nil {
			c()
		}
		a.mu.Unlock()
		a.reply(&agentproto.Response{ID: req.ID})
	case agentproto.OpPoweroff:
		a.reply(&agentproto.Response{ID: req.ID})
		go func() {
			time.Sleep(200 * time.Millisecond)
			unix.Sync()
			if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
				log.Printf("poweroff: %v", err)
			}
		}()
	default:
		go a.reply(a.handle(&req))
	}
}

func (a *agent) handle(req *agentproto.Request) *agentproto.Response {
	resp := &agentproto.Response{ID: req.ID}
	var err error
	switch req.Op {
	case agentproto.OpRun:
		err = a.run(req, resp)
	case agentproto.OpPut:
		if req.Path == "" || !filepath.IsAbs(req.Path) {
			err = fmt.Errorf("put: path %q is not absolute", req.Path)
			break
		}
		if err = os.MkdirAll(filepath.Dir(req.Path), 0o755); err != nil {
			break
		}
		mode := os.FileMode(req.Mode).Perm()
		if mode == 0 {
			mode = 0o644
		}
		if err = os.WriteFile(req.Path, req.Data, mode); err == nil && req.Mode != 0 {
			err = os.Chmod(req.Path, mode)
		}
	case agentproto.OpGet:
		resp.Data, err = os.ReadFile(req.Path)
	default:
		err = fmt.Errorf("unknown operation %q", req.Op)
	}
	if err != nil {
		resp.Error = err.Error()
	}
	return resp
}

// limitedBuffer keeps at most max bytes and drops the rest.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

func (a *agent) run(req *agentproto.Request, resp *agentproto.Response) error {
	if len(req.Argv) == 0 {
		return errors.New("run: empty argv")
	}
	ctx, cancel := context.WithCancel(context.Background())
	if req.TimeoutMs > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), time.Duration(req.TimeoutMs)*time.Millisecond)
	}
	defer cancel()
	a.mu.Lock()
	a.running[req.ID] = cancel
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.running, req.ID)
		a.mu.Unlock()
	}()

	cmd := exec.CommandContext(ctx, req.Argv[0], req.Argv[1:]...)
	cmd.Env = environ(req.Env)
	cmd.Dir = req.Dir
	cmd.Stdin = bytes.NewReader(req.Stdin)
	stdout := &limitedBuffer{max: 64 << 20}
	stderr := &limitedBuffer{max: 64 << 20}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A process group of its own, killed whole on timeout or cancel.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Daemons started by the command may keep its output pipes open: stop waiting for them
	// shortly after the command itself exits.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	resp.Stdout, resp.Stderr = stdout.Bytes(), stderr.Bytes()
	if cmd.ProcessState == nil {
		return err // it did not start
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	resp.ExitCode = ws.ExitStatus()
	if ws.Signaled() {
		resp.ExitCode = -1
		resp.Signal = unix.SignalName(ws.Signal())
	}
	resp.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	return nil
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// environ is the agent's environment with the request's additions (later entries win).
func environ(extra []string) []string {
	return append(os.Environ(), extra...)
}

func uptime() float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func (a *agent) reply(resp *agentproto.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		b, _ = json.Marshal(&agentproto.Response{ID: resp.ID, Error: err.Error()})
	}
	b = append(b, '\n')
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if _, err := a.w.Write(b); err != nil {
		log.Printf("write: %v", err)
	}
}
