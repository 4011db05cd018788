package harness

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Daemon is a long-running process a test started: its stdout and stderr go to Out, and it is
// stopped by its pid (never by name) when the test ends, its output logged if the test failed.
type Daemon struct {
	Cmd *exec.Cmd
	Out *SyncBuffer

	sig   os.Signal
	grace time.Duration
	done  chan struct{}
	err   error
	once  sync.Once
}

// DaemonOption adjusts how StartDaemon's process is stopped.
type DaemonOption func(*Daemon)

// StopSignal sets the signal Stop and the cleanup send first (default SIGTERM).
func StopSignal(sig os.Signal) DaemonOption { return func(d *Daemon) { d.sig = sig } }

// StopGrace sets how long a stop waits for the process to exit before SIGKILL (default 5 s).
func StopGrace(grace time.Duration) DaemonOption { return func(d *Daemon) { d.grace = grace } }

// StartDaemon starts cmd with its output captured and registers its stop with t.Cleanup;
// the test fails at once if it cannot start.
func StartDaemon(t testing.TB, cmd *exec.Cmd, opts ...DaemonOption) *Daemon {
	t.Helper()
	d := &Daemon{Cmd: cmd, Out: &SyncBuffer{}, sig: syscall.SIGTERM, grace: 5 * time.Second, done: make(chan struct{})}
	for _, o := range opts {
		o(d)
	}
	cmd.Stdout, cmd.Stderr = d.Out, d.Out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", strings.Join(cmd.Args, " "), d.Out.String())
		}
	})
	return d
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
