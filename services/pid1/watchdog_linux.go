package pid1

// The service watchdog (WatchdogSec=): the main process pings with
// WATCHDOG=1 at least every WATCHDOG_USEC; a missed ping (or
// WATCHDOG=trigger) aborts it with SIGABRT and the service ends with result
// "watchdog", restarting per Restart=.

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/unit"
)

// signalNumber is unit.SignalNumber as a syscall.Signal.
func signalNumber(s string) (syscall.Signal, error) {
	n, err := unit.SignalNumber(s)
	return syscall.Signal(n), err
}

// armWatchdog (re)starts the watchdog timer of us with its current
// timeout; a zero timeout disarms it. m.mu held.
func (m *Manager) armWatchdog(us *unitState) {
	m.disarmWatchdog(us)
	d := us.ex.wdTimeout
	if d <= 0 || d >= time.Duration(1<<62) {
		return
	}
	gen := us.gen
	us.ex.wdTimer = time.AfterFunc(d, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if us.gen == gen {
			m.watchdogExpired(us)
		}
	})
}

// disarmWatchdog stops the watchdog timer. m.mu held.
func (m *Manager) disarmWatchdog(us *unitState) {
	if us.ex.wdTimer != nil {
		us.ex.wdTimer.Stop()
		us.ex.wdTimer = nil
	}
}

// watchdogExpired handles a missed ping or WATCHDOG=trigger: the main
// process gets SIGABRT (so that it dumps core), then the service stops as
// after KillSignal=, SIGKILL following after TimeoutStopSec=. m.mu held.
func (m *Manager) watchdogExpired(us *unitState) {
	m.disarmWatchdog(us)
	if us.mainPID == 0 || us.phase == "stop" || us.phase == "stop-post" {
		return
	}
	m.log.Error("watchdog timeout, aborting", "unit", us.u.Name, "limit", us.ex.wdTimeout.String())
	us.result = "watchdog"
	us.queue = nil
	us.phase = "stop"
	_ = unix.Kill(us.mainPID, unix.SIGABRT)
	m.setState(us, StateDeactivating, "stop-watchdog")
	m.armStopTimeout(us)
}

// armStopTimeout SIGKILLs the main and control processes (and the cgroup)
// if us is still deactivating after TimeoutStopSec=. m.mu held.
func (m *Manager) armStopTimeout(us *unitState) {
	s := us.u.Service
	if us.stopTmr != nil {
		us.stopTmr.Stop()
		us.stopTmr = nil
	}
	if s.TimeoutStop <= 0 || s.TimeoutStop >= time.Duration(1<<62) {
		return
	}
	us.stopTmr = time.AfterFunc(s.TimeoutStop, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if us.active != StateDeactivating {
			return
		}
		m.log.Warn("stop timed out, killing", "unit", us.u.Name)
		if us.result == "success" {
			us.result = "timeout"
		}
		for _, pid := range []int{us.mainPID, us.ctrlPID} {
			if pid > 0 {
				_ = unix.Kill(-pid, unix.SIGKILL)
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		if us.ex.cgroup != "" {
			signalCgroup(us.ex.cgroup, unix.SIGKILL)
		}
	})
}
