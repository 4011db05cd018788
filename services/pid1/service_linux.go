package pid1

import (
	"errors"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/unit"
)

// proc is a child process we started.
type proc struct {
	pid  int
	us   *unitState
	main bool
	cmd  unit.ExecCommand
}

// startService runs ExecStartPre=, then the main command. m.mu held.
func (m *Manager) startService(us *unitState) {
	if us.restart != nil {
		us.restart.Stop()
		us.restart = nil
	}
	if m.startLimitHit(us) {
		m.log.Warn("start request repeated too quickly", "unit", us.u.Name)
		us.result = "start-limit-hit"
		m.setState(us, StateFailed, "failed")
		m.releaseConnection(us)
		return
	}
	if us.sub == "auto-restart" {
		// The unit never went inactive, but each start is a new invocation
		// for upstream, with its own $INVOCATION_ID.
		us.rt.invocationID = newInvocationID()
	}
	us.result = "success"
	us.ready = false
	us.status = ""
	us.gen++
	m.armStartTimeout(us)
	if err := m.prepareExec(us); err != nil {
		m.startFailed(us, err)
		return
	}
	s := us.u.Service
	if !hasCredentials(s) {
		m.execService(us, collectedCredentials{})
		return
	}
	// Reading credentials may block (a socket that never answers holds
	// us for up to credentialSocketTimeout): it runs without m.mu, so
	// every other unit and client goes on meanwhile. The unit is
	// activating, in the sub-state of its first command (upstream sets
	// credentials up in the forked child), and may be stopped or time out.
	us.phase = phaseCredentials
	us.queue = nil
	sub := "start-pre"
	if len(s.ExecStartPre) == 0 {
		sub = "start"
	}
	m.setState(us, StateActivating, sub)
	gen, name := us.gen, us.u.Name
	go func() {
		all, err := m.collectCredentials(name, s)
		m.mu.Lock()
		defer m.mu.Unlock()
		m.credentialsCollected(us, gen, collectedCredentials{all, err})
	}()
}

// phaseCredentials is the phase of a service whose credentials are being
// collected, before any of its commands runs.
const phaseCredentials = "credentials"

// credentialsCollected continues the start of generation gen of us with
// its credentials, unless that start was abandoned meanwhile (stopped,
// timed out, restarted). m.mu held.
func (m *Manager) credentialsCollected(us *unitState, gen int, cc collectedCredentials) {
	if us.gen != gen || us.phase != phaseCredentials {
		m.log.Debug("credentials collected for an abandoned start, dropped", "unit", us.u.Name)
		return
	}
	us.phase = ""
	if m.closed {
		cc.err = errors.New("the manager is shutting down")
	}
	m.execService(us, cc)
}

// execService completes the execution environment of us with the collected
// credentials and runs ExecStartPre=, then the main command. m.mu held.
func (m *Manager) execService(us *unitState, cc collectedCredentials) {
	if err := m.finishExec(us, cc); err != nil {
		m.startFailed(us, err)
		return
	}
	s := us.u.Service
	us.ex.wdTimeout = s.Watchdog
	us.queue = append([]unit.ExecCommand{}, s.ExecStartPre...)
	us.phase = "start-pre"
	sub := "start-pre"
	if len(us.queue) == 0 {
		sub = "start"
	}
	m.setState(us, StateActivating, sub)
	m.advance(us)
}

// startFailed ends a start whose execution environment could not be set
// up: the unit fails with result "resources". m.mu held.
func (m *Manager) startFailed(us *unitState, err error) {
	m.log.Error("cannot set up the execution environment", "unit", us.u.Name, "err", err)
	us.result = "resources"
	if us.startTmr != nil {
		us.startTmr.Stop()
		us.startTmr = nil
	}
	m.removeCredentials(us)
	m.releaseCgroup(us)
	m.setState(us, StateFailed, "failed")
	m.releaseConnection(us)
}

// armStartTimeout starts TimeoutStartSec= for the current start of us: when
// it is still activating then, it is terminated with result "timeout".
// m.mu held.
func (m *Manager) armStartTimeout(us *unitState) {
	s := us.u.Service
	if s.TimeoutStart <= 0 || s.TimeoutStart >= time.Duration(1<<62) {
		return
	}
	gen := us.gen
	us.startTmr = time.AfterFunc(s.TimeoutStart, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if us.gen != gen || us.active != StateActivating || us.sub == "auto-restart" {
			return
		}
		m.log.Warn("start operation timed out, terminating", "unit", us.u.Name)
		us.result = "timeout"
		m.terminate(us)
	})
}

// terminate aborts whatever us is doing: its control process is killed and
// the main process is stopped. m.mu held.
func (m *Manager) terminate(us *unitState) {
	us.queue = nil
	if us.ctrlPID != 0 {
		_ = unix.Kill(-us.ctrlPID, unix.SIGTERM)
		_ = unix.Kill(us.ctrlPID, unix.SIGTERM)
	}
	switch us.phase {
	case "stop", "stop-post":
		return
	}
	us.phase = "stop"
	if us.mainPID != 0 {
		m.killMain(us)
	} else if us.ctrlPID == 0 {
		m.stopPost(us)
	}
}

// advance runs the next queued command of the current phase, or moves to
// the next phase. m.mu held.
func (m *Manager) advance(us *unitState) {
	s := us.u.Service
	for {
		if len(us.queue) > 0 {
			c := us.queue[0]
			us.queue = us.queue[1:]
			main := us.phase == "start" && s.Type != "oneshot"
			oneshotMain := us.phase == "start" && s.Type == "oneshot"
			pid, err := m.spawn(us, c, main || oneshotMain)
			if err != nil {
				m.log.Error("cannot execute", "unit", us.u.Name, "cmd", c.Path, "err", err)
				if c.IgnoreFailure {
					continue
				}
				m.phaseFailed(us, "exit-code")
				return
			}
			if main || oneshotMain {
				us.mainPID = pid
				m.trackMainStart(us, pid)
				if main {
					m.armWatchdog(us)
				}
			} else {
				us.ctrlPID = pid
			}
			if main {
				// simple/exec: up as soon as the process runs; notify waits for READY=1.
				if s.Type == "notify" || s.Type == "notify-reload" {
					m.setState(us, StateActivating, "start")
					return
				}
				us.queue = append([]unit.ExecCommand{}, s.ExecStartPost...)
				us.phase = "start-post"
				if len(us.queue) == 0 {
					us.phase = "running"
					m.setState(us, StateActive, "running")
					return
				}
				m.setState(us, StateActivating, "start-post")
				continue
			}
			return // wait for this control or oneshot process
		}
		switch us.phase {
		case "start-pre":
			us.phase = "start"
			us.queue = append([]unit.ExecCommand{}, s.ExecStart...)
			if s.Type == "oneshot" && len(us.queue) == 0 {
				us.phase = "start-post"
				us.queue = append([]unit.ExecCommand{}, s.ExecStartPost...)
			}
			if len(us.queue) > 0 {
				m.setState(us, StateActivating, us.phase)
			}
		case "start":
			// oneshot: all ExecStart= done
			us.phase = "start-post"
			us.queue = append([]unit.ExecCommand{}, s.ExecStartPost...)
		case "start-post":
			us.phase = "running"
			if s.Type == "oneshot" {
				if s.RemainAfterExit {
					m.setState(us, StateActive, "exited")
				} else {
					m.stopPost(us) // leftovers are killed and ExecStopPost= runs, as upstream
				}
				return
			}
			m.setState(us, StateActive, "running")
			return
		case "reload":
			us.phase = "running"
			m.setState(us, StateActive, "running")
			return
		case "stop":
			if us.mainPID != 0 {
				m.killMain(us)
				return // wait for the main process
			}
			m.stopPost(us)
			return
		case "stop-post":
			m.finishStopped(us, us.result != "success")
			return
		default:
			return
		}
	}
}

// phaseFailed handles a failed start or control command. m.mu held.
func (m *Manager) phaseFailed(us *unitState, result string) {
	if us.result == "success" {
		us.result = result
	}
	us.queue = nil
	if us.mainPID != 0 {
		us.phase = "stop"
		m.killMain(us)
		return
	}
	m.stopPost(us)
}

// stopPost ends what is left in the cgroup, then runs ExecStopPost=.
func (m *Manager) stopPost(us *unitState) {
	m.drainCgroup(us, func() { m.stopPostNow(us) })
}

func (m *Manager) stopPostNow(us *unitState) {
	us.phase = "stop-post"
	us.queue = append([]unit.ExecCommand{}, us.u.Service.ExecStopPost...)
	m.setState(us, StateDeactivating, "stop-post")
	m.advance(us)
}

// finishStopped settles a service that has no processes left: restart it,
// or leave it inactive or failed. m.mu held.
func (m *Manager) finishStopped(us *unitState, failed bool) {
	s := us.u.Service
	if us.stopTmr != nil {
		us.stopTmr.Stop()
		us.stopTmr = nil
	}
	if us.startTmr != nil {
		us.startTmr.Stop()
		us.startTmr = nil
	}
	us.phase = ""
	restart := !us.stopping && m.shouldRestart(us)
	m.disarmWatchdog(us)
	m.removeRuntimeDirs(us, restart)
	m.removeCredentials(us)
	m.releaseCgroup(us)
	if restart {
		us.nRestarts++
		m.setState(us, StateActivating, "auto-restart")
		us.restart = time.AfterFunc(s.RestartSec, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if us.sub != "auto-restart" || m.closed {
				return
			}
			us.restart = nil
			m.startService(us)
		})
		return
	}
	if failed {
		m.setState(us, StateFailed, "failed")
	} else {
		m.setState(us, StateInactive, "dead")
	}
	m.releaseConnection(us)
}

func (m *Manager) shouldRestart(us *unitState) bool {
	if us.result == "start-limit-hit" {
		return false
	}
	clean := us.result == "success"
	switch us.u.Service.Restart {
	case "always":
		return true
	case "on-success":
		return clean
	case "on-failure":
		return !clean
	case "on-abnormal":
		return us.result == "signal" || us.result == "core-dump" || us.result == "timeout" || us.result == "watchdog"
	case "on-abort":
		return us.result == "signal" || us.result == "core-dump"
	case "on-watchdog":
		return us.result == "watchdog"
	}
	return false
}

// stopService runs ExecStop= and then signals the main process. m.mu held.
func (m *Manager) stopService(us *unitState) {
	if us.restart != nil {
		us.restart.Stop()
		us.restart = nil
	}
	if us.sub == "auto-restart" {
		m.finishStopped(us, false)
		return
	}
	s := us.u.Service
	us.queue = nil
	m.disarmWatchdog(us)
	if us.ctrlPID != 0 && us.phase != "running" && us.phase != "reload" {
		_ = unix.Kill(-us.ctrlPID, unix.SIGTERM)
		_ = unix.Kill(us.ctrlPID, unix.SIGTERM)
	}
	if us.phase == "running" { // ExecStop= runs for a started service, RemainAfterExit ones included
		us.queue = append(us.queue, s.ExecStop...)
	}
	us.phase = "stop"
	m.setState(us, StateDeactivating, "stop")
	m.armStopTimeout(us)
	if us.ctrlPID == 0 {
		m.advance(us)
	}
}

func (m *Manager) killMain(us *unitState) {
	sig, _ := unit.SignalNumber(us.u.Service.KillSignal)
	if us.u.Service.KillMode == "none" {
		return
	}
	// Each process gets the signal once: some take a second SIGTERM as "quit now".
	if us.u.Service.KillMode == "control-group" {
		if us.ex.cgroup != "" {
			signalCgroup(us.ex.cgroup, syscall.Signal(sig))
			return
		}
		// Its process group stands in for the cgroup; a main process that left
		// the group is signalled on its own below.
		_ = unix.Kill(-us.mainPID, syscall.Signal(sig))
		_ = unix.Kill(-us.mainPID, unix.SIGCONT)
		if pg, err := unix.Getpgid(us.mainPID); err != nil || pg == us.mainPID {
			return
		}
	}
	_ = unix.Kill(us.mainPID, syscall.Signal(sig))
	_ = unix.Kill(us.mainPID, unix.SIGCONT)
}

func (m *Manager) reloadService(us *unitState) {
	s := us.u.Service
	if len(s.ExecReload) == 0 {
		m.finishJob(us.job, ResultDone)
		return
	}
	us.phase = "reload"
	us.queue = append([]unit.ExecCommand{}, s.ExecReload...)
	m.setState(us, StateReloading, "reload")
	m.advance(us)
}

// childExited handles the death of one of our children. m.mu held.
func (m *Manager) childExited(p *proc, ws unix.WaitStatus) {
	us := p.us
	result := "success"
	switch {
	case ws.Exited() && ws.ExitStatus() != 0:
		result = "exit-code"
	case ws.Signaled():
		result = "signal"
		if ws.CoreDump() {
			result = "core-dump"
		}
	}
	m.log.Info("process exited", "unit", us.u.Name, "pid", p.pid, "main", p.main, "status", describeStatus(ws))
	if p.cmd.IgnoreFailure {
		result = "success"
	}
	s := us.u.Service
	if p.main {
		us.mainPID = 0
		m.disarmWatchdog(us)
		m.trackMainExit(us, p.pid, ws)
		if s.Type == "oneshot" && us.phase == "start" {
			if result != "success" {
				m.phaseFailed(us, result)
				return
			}
			m.advance(us)
			return
		}
		switch us.phase {
		case "stop", "stop-post":
			// expected: SIGTERM during stop counts as clean
			if ws.Signaled() && (ws.Signal() == unix.SIGTERM || ws.Signal() == unix.SIGHUP || ws.Signal() == unix.SIGINT || ws.Signal() == unix.SIGPIPE) {
				result = "success"
			}
			if result != "success" && us.result == "success" {
				us.result = result
			}
			if us.phase == "stop" && us.ctrlPID == 0 {
				m.stopPost(us)
			}
			return
		}
		if result != "success" || us.phase != "running" {
			if result == "success" {
				result = "protocol" // exited before it reported readiness
			}
			if us.result == "success" {
				us.result = result
			}
			if us.ctrlPID != 0 {
				_ = unix.Kill(us.ctrlPID, unix.SIGTERM)
				us.phase = "stop"
				return
			}
			m.stopPost(us)
			return
		}
		if s.RemainAfterExit {
			m.setState(us, StateActive, "exited")
			return
		}
		m.stopPost(us)
		return
	}
	us.ctrlPID = 0
	if result != "success" {
		switch us.phase {
		case "start-pre", "start-post":
			m.phaseFailed(us, result)
			return
		case "reload":
			us.phase = "running"
			if j := us.job; j != nil && j.typ == JobReload {
				m.finishJob(j, ResultFailed)
			}
			m.setState(us, StateActive, "running")
			return
		}
	}
	if us.phase == "stop" && us.mainPID == 0 && len(us.queue) == 0 {
		m.stopPost(us)
		return
	}
	m.advance(us)
}

func describeStatus(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return "exit " + strconv.Itoa(ws.ExitStatus())
}

// reap collects every exited child and dispatches by pid. It is the only
// place children are waited for.
func (m *Manager) reap() {
	for m.reapSome(64) {
	}
}

// reapSome handles up to max exited children under one hold of the lock,
// with one dispatch of the job queue for all of them, and reports whether
// there may be more.
func (m *Manager) reapSome(max int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dispatching = true // state changes only ask for a dispatch: run it once below
	defer func() {
		m.dispatching = false
		if m.redispatch {
			m.dispatch()
		}
	}()
	for n := 0; n < max; n++ {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			n--
			continue
		}
		if pid <= 0 || err != nil {
			return false
		}
		p := m.pids[pid]
		delete(m.pids, pid)
		if p != nil && (ws.Exited() || ws.Signaled()) {
			m.childExited(p, ws)
		}
	}
	return true
}
