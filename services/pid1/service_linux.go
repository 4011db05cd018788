package pid1

import (
	"errors"
	"os"
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
	gen  *genExit // a generator (generators_linux.go), not a unit's process
	log  *os.File // the read end of its output pipe, copied by copyOutput
}

// startService runs ExecStartPre=, then the main command. m.mu held.
func (m *Manager) startService(us *unitState) {
	if us.svc.restart != nil {
		us.svc.restart.Stop()
		us.svc.restart = nil
	}
	if m.startLimitHit(us) {
		m.log.Warn("start request repeated too quickly", "unit", us.u.Name)
		us.result = resultStartLimitHit
		m.setState(us, StateFailed, subFailed)
		m.releaseConnection(us)
		return
	}
	if us.sub == subAutoRestart {
		// The unit never went inactive, but each start is a new invocation
		// for upstream, with its own $INVOCATION_ID.
		us.rt.invocationID = newInvocationID()
	}
	us.result = resultSuccess
	us.svc.ready = false
	us.svc.mainExited = false
	us.svc.status = ""
	us.svc.gen++
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
	us.svc.phase = phaseCredentials
	us.svc.queue = nil
	sub := subStartPre
	if len(s.ExecStartPre) == 0 {
		sub = subStart
	}
	m.setState(us, StateActivating, sub)
	gen, name := us.svc.gen, us.u.Name
	go func() {
		all, err := m.collectCredentials(name, s)
		m.mu.Lock()
		defer m.mu.Unlock()
		m.credentialsCollected(us, gen, collectedCredentials{all, err})
	}()
}

// credentialsCollected continues the start of generation gen of us with
// its credentials, unless that start was abandoned meanwhile (stopped,
// timed out, restarted). m.mu held.
func (m *Manager) credentialsCollected(us *unitState, gen int, cc collectedCredentials) {
	if us.svc.gen != gen || us.svc.phase != phaseCredentials {
		m.log.Debug("credentials collected for an abandoned start, dropped", "unit", us.u.Name)
		return
	}
	us.svc.phase = phaseNone
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
	us.svc.ex.wdTimeout = s.Watchdog
	us.svc.queue = append([]unit.ExecCommand{}, s.ExecStartPre...)
	us.svc.phase = phaseStartPre
	sub := subStartPre
	if len(us.svc.queue) == 0 {
		sub = subStart
	}
	m.setState(us, StateActivating, sub)
	m.advance(us)
}

// startFailed ends a start whose execution environment could not be set
// up: the unit fails with result "resources". m.mu held.
func (m *Manager) startFailed(us *unitState, err error) {
	m.log.Error("cannot set up the execution environment", "unit", us.u.Name, "err", err)
	us.result = resultResources
	if us.svc.startTmr != nil {
		us.svc.startTmr.Stop()
		us.svc.startTmr = nil
	}
	m.removeCredentials(us)
	m.releaseCgroup(us)
	m.setState(us, StateFailed, subFailed)
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
	gen := us.svc.gen
	us.svc.startTmr = time.AfterFunc(s.TimeoutStart, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if us.svc.gen != gen || us.active != StateActivating || us.sub == subAutoRestart {
			return
		}
		m.log.Warn("start operation timed out, terminating", "unit", us.u.Name)
		us.result = resultTimeout
		m.terminate(us)
	})
}

// terminate aborts whatever us is doing: its control process is killed and
// the main process is stopped. m.mu held.
func (m *Manager) terminate(us *unitState) {
	us.svc.queue = nil
	if us.svc.ctrlPID != 0 {
		_ = unix.Kill(-us.svc.ctrlPID, unix.SIGTERM)
		_ = unix.Kill(us.svc.ctrlPID, unix.SIGTERM)
	}
	switch us.svc.phase {
	case phaseStop, phaseStopPost:
		return
	}
	us.svc.phase = phaseStop
	if us.svc.mainPID != 0 {
		m.killMain(us)
	} else if us.svc.ctrlPID == 0 {
		m.stopPost(us)
	}
}

// advance runs the next queued command of the current phase, or moves to
// the next phase. m.mu held.
func (m *Manager) advance(us *unitState) {
	s := us.u.Service
	for {
		if len(us.svc.queue) > 0 {
			c := us.svc.queue[0]
			main := us.svc.phase == phaseStart && s.Type != "oneshot" && s.Type != "forking"
			if main && s.Type == "idle" && m.idleWait(us) { // forking_linux.go
				return
			}
			us.svc.queue = us.svc.queue[1:]
			oneshotMain := us.svc.phase == phaseStart && s.Type == "oneshot"
			forking := us.svc.phase == phaseStart && s.Type == "forking" // gets the main process's environment
			pid, err := m.spawn(us, c, main || oneshotMain || forking)
			if err != nil {
				m.log.Error("cannot execute", "unit", us.u.Name, "cmd", c.Path, "err", err)
				if c.IgnoreFailure {
					continue
				}
				m.phaseFailed(us, resultExitCode)
				return
			}
			if main || oneshotMain {
				us.svc.mainPID = pid
				m.trackMainStart(us, pid)
				if main {
					m.armWatchdog(us)
				}
			} else {
				us.svc.ctrlPID = pid
				m.pids[pid].main = false // a forking service's ExecStart= is a control process (forking_linux.go)
			}
			if main {
				// simple/exec: up as soon as the process runs; notify waits for READY=1.
				if s.Type == "notify" || s.Type == "notify-reload" {
					m.setState(us, StateActivating, subStart)
					return
				}
				us.svc.queue = append([]unit.ExecCommand{}, s.ExecStartPost...)
				us.svc.phase = phaseStartPost
				if len(us.svc.queue) == 0 {
					us.svc.phase = phaseRunning
					m.setState(us, StateActive, subRunning)
					return
				}
				m.setState(us, StateActivating, subStartPost)
				continue
			}
			return // wait for this control or oneshot process
		}
		switch us.svc.phase {
		case phaseStartPre:
			us.svc.phase = phaseStart
			us.svc.queue = append([]unit.ExecCommand{}, s.ExecStart...)
			if s.Type == "oneshot" && len(us.svc.queue) == 0 {
				us.svc.phase = phaseStartPost
				us.svc.queue = append([]unit.ExecCommand{}, s.ExecStartPost...)
			}
			if len(us.svc.queue) > 0 {
				m.setState(us, StateActivating, us.svc.phase.startSub())
			}
		case phaseStart:
			// oneshot: all ExecStart= done
			us.svc.phase = phaseStartPost
			us.svc.queue = append([]unit.ExecCommand{}, s.ExecStartPost...)
		case phaseStartPost:
			us.svc.phase = phaseRunning
			if s.Type == "oneshot" {
				if s.RemainAfterExit {
					m.setState(us, StateActive, subExited)
				} else {
					m.stopPost(us) // leftovers are killed and ExecStopPost= runs, as upstream
				}
				return
			}
			m.setState(us, StateActive, subRunning)
			return
		case phaseReload:
			us.svc.phase = phaseRunning
			m.setState(us, StateActive, subRunning)
			return
		case phaseStop:
			if us.svc.mainPID != 0 {
				m.killMain(us)
				return // wait for the main process
			}
			m.stopPost(us)
			return
		case phaseStopPost:
			m.finishStopped(us, us.result != resultSuccess)
			return
		default:
			return
		}
	}
}

// phaseFailed handles a failed start or control command. m.mu held.
func (m *Manager) phaseFailed(us *unitState, r result) {
	if us.result == resultSuccess {
		us.result = r
	}
	us.svc.queue = nil
	if us.svc.mainPID != 0 {
		us.svc.phase = phaseStop
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
	us.svc.phase = phaseStopPost
	us.svc.queue = append([]unit.ExecCommand{}, us.u.Service.ExecStopPost...)
	m.setState(us, StateDeactivating, subStopPost)
	m.advance(us)
}

// finishStopped settles a service that has no processes left: restart it,
// or leave it inactive or failed. m.mu held.
func (m *Manager) finishStopped(us *unitState, failed bool) {
	s := us.u.Service
	if us.svc.stopTmr != nil {
		us.svc.stopTmr.Stop()
		us.svc.stopTmr = nil
	}
	if us.svc.startTmr != nil {
		us.svc.startTmr.Stop()
		us.svc.startTmr = nil
	}
	us.svc.phase = phaseNone
	restart := !us.svc.stopping && m.shouldRestart(us)
	m.disarmWatchdog(us)
	m.removeRuntimeDirs(us, restart)
	m.removeCredentials(us)
	m.releaseCgroup(us)
	if restart {
		us.svc.nRestarts++
		m.setState(us, StateActivating, subAutoRestart)
		us.svc.restart = time.AfterFunc(s.RestartSec, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if us.sub != subAutoRestart || m.closed {
				return
			}
			us.svc.restart = nil
			m.startService(us)
		})
		return
	}
	if failed {
		m.setState(us, StateFailed, subFailed)
	} else {
		m.setState(us, StateInactive, subDead)
	}
	m.releaseConnection(us)
}

func (m *Manager) shouldRestart(us *unitState) bool {
	if us.result == resultStartLimitHit {
		return false
	}
	// RestartPreventExitStatus= and RestartForceExitStatus= look at how the
	// main process of this start ended, and win over Restart=.
	if e := us.svc.execMain; us.svc.mainExited {
		s := us.u.Service
		if inExitSet(s.RestartPreventExitStatus, e) {
			return false
		}
		if inExitSet(s.RestartForceExitStatus, e) {
			return true
		}
	}
	clean := us.result == resultSuccess
	switch us.u.Service.Restart {
	case "always":
		return true
	case "on-success":
		return clean
	case "on-failure":
		return !clean
	case "on-abnormal":
		return us.result == resultSignal || us.result == resultCoreDump || us.result == resultTimeout || us.result == resultWatchdog
	case "on-abort":
		return us.result == resultSignal || us.result == resultCoreDump
	case "on-watchdog":
		return us.result == resultWatchdog
	}
	return false
}

// stopService runs ExecStop= and then signals the main process. m.mu held.
func (m *Manager) stopService(us *unitState) {
	if us.svc.restart != nil {
		us.svc.restart.Stop()
		us.svc.restart = nil
	}
	if us.sub == subAutoRestart {
		m.finishStopped(us, false)
		return
	}
	s := us.u.Service
	us.svc.queue = nil
	m.disarmWatchdog(us)
	if us.svc.ctrlPID != 0 && us.svc.phase != phaseRunning && us.svc.phase != phaseReload {
		_ = unix.Kill(-us.svc.ctrlPID, unix.SIGTERM)
		_ = unix.Kill(us.svc.ctrlPID, unix.SIGTERM)
	}
	if us.svc.phase == phaseRunning { // ExecStop= runs for a started service, RemainAfterExit ones included
		us.svc.queue = append(us.svc.queue, s.ExecStop...)
	}
	us.svc.phase = phaseStop
	m.setState(us, StateDeactivating, subStop)
	m.armStopTimeout(us)
	if us.svc.ctrlPID == 0 {
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
		if us.svc.ex.cgroup != "" {
			signalCgroup(us.svc.ex.cgroup, syscall.Signal(sig))
			return
		}
		// Its process group stands in for the cgroup; a main process that left
		// the group is signalled on its own below.
		_ = unix.Kill(-us.svc.mainPID, syscall.Signal(sig))
		_ = unix.Kill(-us.svc.mainPID, unix.SIGCONT)
		if pg, err := unix.Getpgid(us.svc.mainPID); err != nil || pg == us.svc.mainPID {
			return
		}
	}
	_ = unix.Kill(us.svc.mainPID, syscall.Signal(sig))
	_ = unix.Kill(us.svc.mainPID, unix.SIGCONT)
}

func (m *Manager) reloadService(us *unitState) {
	s := us.u.Service
	if len(s.ExecReload) == 0 && s.Type == "notify-reload" {
		m.reloadBySignal(us)
		return
	}
	if len(s.ExecReload) == 0 {
		m.finishJob(us.job, ResultDone)
		return
	}
	us.svc.phase = phaseReload
	us.svc.queue = append([]unit.ExecCommand{}, s.ExecReload...)
	m.setState(us, StateReloading, subReload)
	m.advance(us)
}

// childExited handles the death of one of our children. m.mu held.
func (m *Manager) childExited(p *proc, ws unix.WaitStatus) {
	us := p.us
	if us.u.Type == "mount" {
		m.mountExited(p, ws)
		return
	}
	res := resultSuccess
	switch {
	case ws.Exited() && ws.ExitStatus() != 0:
		res = resultExitCode
	case ws.Signaled():
		res = resultSignal
		if ws.CoreDump() {
			res = resultCoreDump
		}
	}
	m.log.Info("process exited", "unit", us.u.Name, "pid", p.pid, "main", p.main, "status", describeStatus(ws))
	if p.cmd.IgnoreFailure {
		res = resultSuccess
	}
	s := us.u.Service
	if p.main {
		us.svc.mainPID = 0
		m.disarmWatchdog(us)
		m.trackMainExit(us, p.pid, ws)
		us.svc.mainExited = true
		if res != resultSuccess && inExitSet(s.SuccessExitStatus, us.svc.execMain) {
			res = resultSuccess // SuccessExitStatus= (only ever for the main process)
		}
		if s.Type == "oneshot" && us.svc.phase == phaseStart {
			if res != resultSuccess {
				m.phaseFailed(us, res)
				return
			}
			m.advance(us)
			return
		}
		switch us.svc.phase {
		case phaseStop, phaseStopPost:
			// expected: SIGTERM during stop counts as clean
			if ws.Signaled() && (ws.Signal() == unix.SIGTERM || ws.Signal() == unix.SIGHUP || ws.Signal() == unix.SIGINT || ws.Signal() == unix.SIGPIPE) {
				res = resultSuccess
			}
			if res != resultSuccess && us.result == resultSuccess {
				us.result = res
			}
			if us.svc.phase == phaseStop && us.svc.ctrlPID == 0 {
				m.stopPost(us)
			}
			return
		}
		if res != resultSuccess || us.svc.phase != phaseRunning {
			if res == resultSuccess {
				res = resultProtocol // exited before it reported readiness
			}
			if us.result == resultSuccess {
				us.result = res
			}
			if us.svc.ctrlPID != 0 {
				_ = unix.Kill(us.svc.ctrlPID, unix.SIGTERM)
				us.svc.phase = phaseStop
				return
			}
			m.stopPost(us)
			return
		}
		if s.RemainAfterExit {
			m.setState(us, StateActive, subExited)
			return
		}
		m.stopPost(us)
		return
	}
	us.svc.ctrlPID = 0
	if res != resultSuccess {
		switch us.svc.phase {
		case phaseStartPre, phaseStart, phaseStartPost:
			m.phaseFailed(us, res)
			return
		case phaseReload:
			us.svc.phase = phaseRunning
			if j := us.job; j != nil && j.typ == JobReload {
				m.finishJob(j, ResultFailed)
			}
			m.setState(us, StateActive, subRunning)
			return
		}
	}
	if us.svc.phase == phaseStop && us.svc.mainPID == 0 && len(us.svc.queue) == 0 {
		m.stopPost(us)
		return
	}
	if us.svc.phase == phaseStart && s.Type == "forking" {
		m.forkingStarted(us)
		return
	}
	m.advance(us)
}

// inExitSet reports whether a main process that ended as e is in set: its
// exit status, or the signal that killed it.
func inExitSet(set unit.ExitStatusSet, e exitStatus) bool {
	if e.code == cldExited {
		return set.HasStatus(e.status)
	}
	return set.HasSignal(e.status)
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
		if p != nil && p.gen != nil {
			p.gen.exited = true
			p.gen.ch <- ws
		} else if p != nil && (ws.Exited() || ws.Signaled()) {
			m.childExited(p, ws)
		}
	}
	return true
}
