package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Daemon is a long-running process a test started: its stdout and stderr go to Out, and it is
// stopped by its pid (never by name) when the test ends, its output logged if the test failed.
// With NotifySocket or WaitReady it has a NOTIFY_SOCKET of its own whose messages are kept
// (Notifications).
type Daemon struct {
	Cmd *exec.Cmd
	Out *SyncBuffer

	sig          os.Signal
	grace        time.Duration
	notify       bool
	readyTimeout time.Duration // > 0: StartDaemon waits for READY=1
	ns           *notifySock
	shown        int // bytes of Out a failure message already showed
	done         chan struct{}
	err          error
	once         sync.Once
}

// DaemonOption adjusts how StartDaemon starts, waits for and stops its process.
type DaemonOption func(*Daemon)

// StopSignal sets the signal Stop and the cleanup send first (default SIGTERM).
func StopSignal(sig os.Signal) DaemonOption { return func(d *Daemon) { d.sig = sig } }

// StopGrace sets how long a stop waits for the process to exit before SIGKILL (default 5 s).
func StopGrace(grace time.Duration) DaemonOption { return func(d *Daemon) { d.grace = grace } }

// StartDaemon starts cmd with its output captured and registers its stop with t.Cleanup;
// the test fails at once if it cannot start (or, with WaitReady, does not get ready).
func StartDaemon(t testing.TB, cmd *exec.Cmd, opts ...DaemonOption) *Daemon {
	t.Helper()
	d := &Daemon{Cmd: cmd, Out: &SyncBuffer{}, sig: syscall.SIGTERM, grace: 5 * time.Second, done: make(chan struct{})}
	for _, o := range opts {
		o(d)
	}
	if d.notify {
		ns, err := listenNotify()
		if err != nil {
			t.Fatalf("notify socket for %s: %v", d.name(), err)
		}
		d.ns = ns
		cmd.Env = envWith(cmd.Env, ns.path)
	}
	cmd.Stdout, cmd.Stderr = d.Out, d.Out
	if err := cmd.Start(); err != nil {
		if d.ns != nil {
			d.ns.close()
		}
		t.Fatal(err)
	}
	go func() { d.err = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.Stop()
		if d.ns != nil {
			d.ns.close()
		}
		if t.Failed() {
			if out := d.Out.String(); d.shown == 0 {
				t.Logf("%s output:\n%s", strings.Join(cmd.Args, " "), out)
			} else if len(out) > d.shown {
				t.Logf("%s output after the failure:\n%s", strings.Join(cmd.Args, " "), out[d.shown:])
			}
		}
	})
	if d.readyTimeout > 0 {
		if _, err := d.waitNotified("READY=1", 1, d.readyTimeout); err != nil {
			d.shown = len(d.Out.String())
			t.Fatalf("%s not ready: %v\n%s output:\n%s", d.name(), err, strings.Join(cmd.Args, " "), d.Out.String())
		}
	}
	return d
}

// name is the program's base name, for messages (the program ip netns exec runs, for one).
func (d *Daemon) name() string {
	a := d.Cmd.Args
	if len(a) >= 5 && filepath.Base(a[0]) == "ip" && a[1] == "netns" && a[2] == "exec" {
		return filepath.Base(a[4])
	}
	return filepath.Base(d.Cmd.Path)
}

// Done is closed when the process has exited (and its output has been read).
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Err waits for the process to exit and returns what cmd.Wait reported.
func (d *Daemon) Err() error {
	<-d.done
	return d.err
}

// Stop stops the process with its stop signal, then SIGKILL after the grace period, and waits
// for it; only the first Stop or StopWith signals, later calls return at once.
func (d *Daemon) Stop() { d.StopWith(d.sig) }

// StopWith is Stop with another first signal (networkd's SIGUSR2, a restart, for instance).
func (d *Daemon) StopWith(sig os.Signal) {
	d.once.Do(func() {
		_ = d.Cmd.Process.Signal(sig)
		select {
		case <-d.done:
		case <-time.After(d.grace):
			_ = d.Cmd.Process.Kill()
			<-d.done
		}
	})
}
