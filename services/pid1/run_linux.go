package pid1

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultTarget is the unit started at boot.
const DefaultTarget = "default.target"

// Run starts the manager: the reaper, the notify socket, the Varlink
// interface, then the default target; it returns when ctx is done, after
// stopping every unit. ready, if set, is called once the default target's
// job has been queued.
func (m *Manager) Run(ctx context.Context, ready func()) error {
	if m.notifyConn == nil { // else inherited over a re-execution
		if err := m.openNotify(); err != nil {
			return err
		}
	}
	if !m.cfg.PID1 {
		// Orphans of our services are re-parented to us and reaped by the
		// reaper below, as they are by PID 1 (not by whoever started us).
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			m.log.Warn("cannot become a child subreaper", "err", err)
		}
	}
	if cg, why := detectCgroups(m.cfg.PID1); cg != nil {
		m.cg = cg
		m.log.Info("services get their own cgroups", "slice", cg.slicePath())
	} else {
		m.log.Info("services run without cgroups", "reason", why)
	}
	go m.readNotify(m.notifyConn, notifyMaxFDs)

	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	defer signal.Stop(sigchld)
	reaperDone := make(chan struct{})
	reaperCtx, stopReaper := context.WithCancel(context.Background())
	go func() {
		defer close(reaperDone)
		tick := time.NewTicker(time.Second) // in case a SIGCHLD was coalesced away before Notify
		defer tick.Stop()
		for {
			m.reap()
			select {
			case <-sigchld:
			case <-tick.C:
			case <-reaperCtx.Done():
				m.reap()
				return
			}
		}
	}()

	vctx, stopVarlink := context.WithCancel(ctx)
	varlinkDone := make(chan error, 1)
	go func() { varlinkDone <- m.serveVarlink(vctx) }()

	m.importSystemCredentials() // syscreds_linux.go
	m.runGenerators()           // generators_linux.go: before any unit is loaded for the boot
	m.forgetIdleUnits()         // what was loaded before (by an early client) lacks their output
	m.started = time.Now()
	if m.resume() { // reexec_linux.go: a re-execution goes on where it was
	} else if j, err := m.Enqueue(DefaultTarget, JobStart); err != nil {
		m.log.Error("cannot start default target", "err", err)
	} else {
		go func() {
			<-j.Done()
			m.mu.Lock()
			m.finished = time.Now()
			m.mu.Unlock()
		}()
	}
	if ready != nil {
		ready()
	}
	<-ctx.Done()

	m.shutdown(30 * time.Second)
	stopVarlink()
	<-varlinkDone
	stopReaper()
	<-reaperDone
	m.notifyConn.Close()
	_ = os.Remove(m.notifyPath)
	m.endFDStores() // keeps what a soft-reboot or kexec hands over
	m.closeTimers()
	m.mu.Lock()
	if m.devnull != nil {
		m.devnull.Close()
		m.devnull = nil
	}
	m.mu.Unlock()
	return nil
}

// shutdown stops every unit and waits up to timeout for them.
func (m *Manager) shutdown(timeout time.Duration) {
	m.mu.Lock()
	m.closed = true
	for _, us := range m.units {
		if us.svc.restart != nil {
			us.svc.restart.Stop()
			us.svc.restart = nil
		}
		if us.active != StateInactive && us.active != StateFailed {
			_, _ = m.addJob(us, JobStop, nil, map[string]bool{})
		}
	}
	m.dispatch()
	m.mu.Unlock()
	deadline := time.After(timeout)
	for {
		m.mu.Lock()
		busy := len(m.pids) > 0 || len(m.jobs) > 0
		ch := m.changed
		m.mu.Unlock()
		if !busy {
			return
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			m.mu.Lock()
			for pid := range m.pids {
				_ = unix.Kill(-pid, unix.SIGKILL)
				_ = unix.Kill(pid, unix.SIGKILL)
			}
			m.mu.Unlock()
			return
		}
	}
}

// ExecShim is the tiny program the manager runs when a variable must hold
// the service's own pid: args are PATH ARGV0 [ARG…]. It sets LISTEN_PID
// (when LISTEN_FDS is set), WATCHDOG_PID (when WATCHDOG_USEC is set) and
// SYSTEMD_EXEC_PID to its own pid — which stays the service's pid across
// exec — and executes PATH. It returns only on failure.
func ExecShim(args []string) error {
	// The sandbox's settings belong to this thread, which execs.
	runtime.LockOSThread()
	finish := func() error { return nil }
	if len(args) > 0 && strings.HasPrefix(args[0], "--sandbox-fd=") {
		var err error
		if finish, err = applySandbox(strings.TrimPrefix(args[0], "--sandbox-fd=")); err != nil {
			return err
		}
		args = args[1:]
	}
	if len(args) < 2 {
		return syscall.EINVAL
	}
	pid := strconv.Itoa(os.Getpid())
	if os.Getenv("LISTEN_FDS") != "" {
		os.Setenv("LISTEN_PID", pid)
	}
	if os.Getenv("WATCHDOG_USEC") != "" {
		os.Setenv("WATCHDOG_PID", pid)
	}
	os.Setenv("SYSTEMD_EXEC_PID", pid)
	if err := finish(); err != nil {
		return err
	}
	return syscall.Exec(args[0], args[1:], os.Environ())
}
