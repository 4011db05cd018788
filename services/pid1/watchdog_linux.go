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
	d := us.svc.ex.wdTimeout
	if d <= 0 || d >= time.Duration(1<<62) {
		return
	}
	gen := us.svc.gen
	us.svc.ex.wdTimer = time.AfterFunc(d, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if us.svc.gen == gen {
			m.watchdogExpired(us)
		}
	})
}

// disarmWatchdog stops the watchdog timer. m.mu held.
func (m *Manager) disarmWatchdog(us *unitState) {
	if us.svc.ex.wdTimer != nil {
		us.svc.ex.wdTimer.Stop()
		us.svc.ex.wdTimer = nil
	}
}

// watchdogExpired handles a missed ping or WATCHDOG=trigger: the main
// process gets SIGABRT (so that it dumps core), then the service stops as
// after KillSignal=, SIGKILL following after TimeoutStopSec=. m.mu held.
func (m *Manager) watchdogExpired(us *unitState) {
	m.disarmWatchdog(us)
	if us.svc.mainPID == 0 || us.svc.phase == phaseStop || us.svc.phase == phaseStopPost {
		return
	}
	m.log.Error("watchdog timeout, aborting", "unit", us.u.Name, "limit", us.svc.ex.wdTimeout.String())
	us.result = resultWatchdog
	us.svc.queue = nil
	us.svc.phase = phaseStop
	_ = unix.Kill(us.svc.mainPID, unix.SIGABRT)
	m.setState(us, StateDeactivating, subStopWatchdog)
	m.armStopTimeout(us)
}

// armStopTimeout SIGKILLs the main and control processes (and the cgroup)
// if us is still deactivating after TimeoutStopSec=. m.mu held.
func (m *Manager) armStopTimeout(us *unitState) {
	s := us.u.Service
	if us.svc.stopTmr != nil {
		us.svc.stopTmr.Stop()
		us.svc.stopTmr = nil
	}
	if s.TimeoutStop <= 0 || s.TimeoutStop >= time.Duration(1<<62) {
		return
	}
	us.svc.stopTmr = time.AfterFunc(s.TimeoutStop, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if us.active != StateDeactivating {
			return
		}
		m.log.Warn("stop timed out, killing", "unit", us.u.Name)
		if us.result == resultSuccess {
			us.result = resultTimeout
		}
		for _, pid := range []int{us.svc.mainPID, us.svc.ctrlPID} {
			if pid > 0 {
				_ = unix.Kill(-pid, unix.SIGKILL)
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		if us.svc.ex.cgroup != "" {
			signalCgroup(us.svc.ex.cgroup, unix.SIGKILL)
		}
	})
}
