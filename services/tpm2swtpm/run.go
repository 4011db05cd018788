package tpm2swtpm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/stead-os/stead/lib/atomicfile"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/tpm"
)

// Options are tpm2-swtpm's command line.
type Options struct {
	Root       string
	Version    string
	StateDir   string // DefaultStateDir unless set; under Root
	RuntimeDir string // $RUNTIME_DIRECTORY, else DefaultRuntimeDir; under Root
	// TestServer, when set, runs `swtpm socket` serving raw TPM commands on this unix socket
	// instead of `swtpm chardev --vtpm-proxy` (which needs /dev/vtpmx): a test mode.
	TestServer string
	// ReadyTimeout bounds the wait for the TPM to answer (default 2 minutes).
	ReadyTimeout time.Duration

	Log *slog.Logger // replaces lib/daemon's logger (tests)
}

// Main runs tpm2-swtpm on lib/daemon and returns its exit code.
func Main(ctx context.Context, o Options) int {
	d := daemon.New(daemon.Spec{Name: "tpm2-swtpm", Version: o.Version, Root: o.Root, Log: o.Log})
	return d.ExitCode(d.Run(ctx, &service{o: o, log: d.Log()}))
}

type service struct {
	o   Options
	log *slog.Logger
}

func (s *service) Reload(context.Context) error { return nil }

func (s *service) under(p string) string { return filepath.Join(s.o.Root, p) }

func (s *service) runtimeDir() string {
	if s.o.RuntimeDir != "" {
		return s.under(s.o.RuntimeDir)
	}
	if v := os.Getenv("RUNTIME_DIRECTORY"); v != "" {
		first, _, _ := strings.Cut(v, ":")
		return first // the service manager's, already a host path
	}
	return s.under(DefaultRuntimeDir)
}

func (s *service) stateDir() string {
	if s.o.StateDir != "" {
		return s.under(s.o.StateDir)
	}
	return s.under(DefaultStateDir)
}

// Run prepares the state, starts swtpm, calls ready once the TPM answers and stops swtpm
// (as the unit's ExecStop= does) when ctx ends.
func (s *service) Run(ctx context.Context, ready func()) error {
	key, err := LoadKey(s.o.Root)
	if err != nil {
		return err
	}
	defer clear(key)
	rt, state := s.runtimeDir(), s.stateDir()
	if err := os.MkdirAll(rt, 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return fmt.Errorf("TPM state directory: %w", err)
	}
	swtpm, err := exec.LookPath("swtpm")
	if err != nil {
		return fmt.Errorf("swtpm is not installed: %w", err)
	}
	done, err := Manufactured(state)
	if err != nil {
		return fmt.Errorf("checking for the TPM's manufacture marker: %w", err)
	}
	if done {
		s.log.Info("the TPM state directory holds a manufactured TPM", "dir", state)
	} else {
		s.log.Info("the TPM state directory holds no manufactured TPM, manufacturing one", "dir", state)
		if err := s.manufacture(ctx, rt, state, key); err != nil {
			return err
		}
	}
	// A reboot resets a TPM: the RAM saved at the last stop is not resumed. It is only set
	// aside until swtpm has shown the key fits, so that a wrong boot secret leaves the state
	// exactly as it was.
	volatile := filepath.Join(state, volatileState)
	aside := volatile + ".previous"
	if err := os.Rename(volatile, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	keyFile := filepath.Join(rt, "secret")
	if err := os.WriteFile(keyFile, []byte(KeyHex(key)), 0o600); err != nil {
		return err
	}
	defer os.Remove(keyFile) // swtpm removes it once read (remove=true)
	err = s.serve(ctx, ready, swtpm, rt, state, keyFile)
	if errors.Is(err, errWrongKey) {
		if rerr := os.Rename(aside, volatile); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			s.log.Warn("cannot put the TPM's volatile state back", "err", rerr)
		}
		return err
	}
	os.Remove(aside)
	return err
}

// errWrongKey is serve's failure when the state does not decrypt with the key.
var errWrongKey = errors.New("the TPM state does not decrypt with the key derived from the boot secret")

// manufacture creates a new TPM in state with swtpm_setup, its state encrypted with key,
// and then writes the marker. What an interrupted attempt left is removed first.
func (s *service) manufacture(ctx context.Context, rt, state string, key []byte) error {
	setup, err := exec.LookPath("swtpm_setup")
	if err != nil {
		return fmt.Errorf("swtpm_setup is not installed: %w", err)
	}
	if err := clearDir(state); err != nil {
		return fmt.Errorf("clearing the incomplete TPM state directory: %w", err)
	}
	keyFile := filepath.Join(rt, "setup-key")
	if err := os.WriteFile(keyFile, []byte(KeyHex(key)), 0o600); err != nil {
		return err
	}
	defer os.Remove(keyFile)
	config := filepath.Join(rt, "swtpm_setup.conf") // no certificates: nothing to configure
	if err := os.WriteFile(config, nil, 0o600); err != nil {
		return err
	}
	defer os.Remove(config)
	cmd := exec.CommandContext(ctx, setup, "--tpm2", "--tpm-state", state, "--keyfile", keyFile,
		"--cipher", "aes-128-cbc", "--pcr-banks", "sha256", "--config", config, "--not-overwrite")
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+rt)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("swtpm_setup: %w: %s", err, strings.TrimSpace(string(out)))
	}
	s.log.Debug("swtpm_setup", "output", string(out))
	if err := syncDir(state); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(state, ManufacturedMarker), nil, 0o600); err != nil {
		return fmt.Errorf("writing the manufacture marker: %w", err)
	}
	s.log.Info("TPM manufactured", "dir", state)
	return syncDir(state)
}

var newDevice = regexp.MustCompile(`New TPM device: (/dev/tpm[0-9]+)`)

// serve runs swtpm until ctx ends or swtpm exits.
func (s *service) serve(ctx context.Context, ready func(), swtpm, rt, state, keyFile string) error {
	ctrl := filepath.Join(rt, "socket")
	args := []string{"chardev", "--vtpm-proxy"}
	if s.o.TestServer != "" {
		args = []string{"socket", "--server=type=unixio,path=" + s.under(s.o.TestServer)}
	}
	args = append(args, "--tpm2", "--flags=startup-clear",
		"--ctrl=type=unixio,path="+ctrl,
		"--key=file="+keyFile+",format=hex,mode=aes-cbc,remove=true",
		"--tpmstate=dir="+state+",mode=0600")
	cmd := exec.Command(swtpm, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	s.log.Info("starting swtpm", "args", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return err
	}
	var (
		mu       sync.Mutex
		messages strings.Builder
		device   = make(chan string, 1)
		wg       sync.WaitGroup
	)
	read := func(r io.Reader) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			s.log.Info("swtpm: " + line)
			mu.Lock()
			messages.WriteString(line + "\n")
			mu.Unlock()
			if m := newDevice.FindStringSubmatch(line); m != nil {
				select {
				case device <- m[1]:
				default:
				}
			}
		}
	}
	wg.Add(2)
	go read(stdout)
	go read(stderr)
	exited := make(chan error, 1)
	go func() { wg.Wait(); exited <- cmd.Wait() }()

	readyCtx, cancelReady := context.WithCancel(ctx)
	defer cancelReady()
	answered := make(chan error, 1)
	go func() { answered <- s.waitTPM(readyCtx, device) }()

	var notUp error
	for {
		select {
		case err := <-answered:
			answered = nil
			if err != nil {
				if ctx.Err() == nil {
					notUp = err
					_ = cmd.Process.Kill()
				}
				continue // on to swtpm's exit
			}
			s.log.Info("software TPM ready")
			ready()
		case err := <-exited:
			mu.Lock()
			msgs := messages.String()
			mu.Unlock()
			switch {
			case err != nil && keyMismatch(msgs):
				return fmt.Errorf("%w (a different boot secret?) in %s; leaving it untouched: %v", errWrongKey, state, err)
			case notUp != nil:
				return fmt.Errorf("the software TPM did not come up: %w", notUp)
			case err != nil:
				return fmt.Errorf("swtpm: %w", err)
			case ctx.Err() == nil && answered != nil:
				return errors.New("swtpm exited before the TPM came up")
			}
			return nil // stopped by swtpm_ioctl -s (the unit's ExecStop=)
		case <-ctx.Done():
			s.stop(ctrl, cmd, exited)
			return nil
		}
	}
}

// waitTPM waits until the TPM answers: on the vtpm proxy, once swtpm named its device and the
// kernel made the resource manager's node; in the test mode, on the socket.
func (s *service) waitTPM(ctx context.Context, device <-chan string) error {
	timeout := s.o.ReadyTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	path := s.under(s.o.TestServer)
	if s.o.TestServer == "" {
		select {
		case d := <-device: // /dev/tpmN; the kernel adds /dev/tpmrmN
			path = s.under("/dev/tpmrm" + strings.TrimPrefix(d, "/dev/tpm"))
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	for {
		t, err := tpm.Open(path)
		if err == nil {
			t.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", path, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop is the unit's ExecStop=: swtpm_ioctl saves the volatile state (-v), then asks swtpm to
// shut down (-s); SIGTERM, then SIGKILL, if it does not.
func (s *service) stop(ctrl string, cmd *exec.Cmd, exited <-chan error) {
	if ioctl, err := exec.LookPath("swtpm_ioctl"); err == nil {
		for _, op := range []string{"-v", "-s"} {
			c := exec.Command(ioctl, "--unix", ctrl, op)
			if out, err := c.CombinedOutput(); err != nil {
				s.log.Debug("swtpm_ioctl "+op, "err", err, "output", strings.TrimSpace(string(out)))
			}
		}
	}
	select {
	case <-exited:
		return
	case <-time.After(5 * time.Second):
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}
