package pid1

// Type=forking: ExecStart='s process forks the daemon and exits; the
// service is up once it exited cleanly, and its main process is then read
// from PIDFile= or, with GuessMainPID=yes, guessed: the one process of the
// unit that was handed to us (PID 1, or init's subreaper in host mode) when
// its parent exited. Type=notify-reload: a reload sends ReloadSignal= and
// waits for RELOADING=1 and READY=1. Type=idle: the main process waits
// until no other job is queued, at most idleMax, as upstream's does.

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/unit"
)

// idleMax is how long a Type=idle main process waits for the job queue to
// empty (upstream's 5 s), and idlePoll how often it looks.
const (
	idleMax  = 5 * time.Second
	idlePoll = 50 * time.Millisecond
)

// idleWait reports whether the main process of a Type=idle service must
// wait for other jobs still, and if so looks again later. m.mu held.
func (m *Manager) idleWait(us *unitState) bool {
	if us.svc.idleSince.IsZero() {
		us.svc.idleSince = time.Now()
	}
	busy := false
	for name := range m.jobs {
		if name != us.u.Name {
			busy = true
			break
		}
	}
	if !busy || time.Since(us.svc.idleSince) >= idleMax {
		us.svc.idleSince = time.Time{}
		return false
	}
	gen := us.svc.gen
	time.AfterFunc(idlePoll, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if us.svc.gen == gen && us.svc.phase == phaseStart && us.active == StateActivating {
			m.advance(us)
		}
	})
	return true
}

// pidFilePoll is how often a PIDFile= that is not written yet is looked at.
const pidFilePoll = 50 * time.Millisecond

// forkingStarted handles the clean exit of a forking service's ExecStart=
// process: find the main process, then go on with ExecStartPost=. m.mu held.
func (m *Manager) forkingStarted(us *unitState) {
	s := us.u.Service
	gen := us.svc.gen
	if s.PIDFile == "" {
		pid := 0
		if s.GuessMainPID {
			pid = m.guessMainPID(us)
		}
		if pid == 0 {
			m.log.Warn("main process of the forking service unknown (no PIDFile=, nothing to guess from)", "unit", us.u.Name)
		}
		m.forkingMain(us, pid)
		return
	}
	var try func()
	try = func() {
		if us.svc.gen != gen || us.active != StateActivating || us.svc.phase != phaseStart {
			return
		}
		pid, err := readPIDFile(s.PIDFile)
		if err == nil {
			m.forkingMain(us, pid)
			return
		}
		if !os.IsNotExist(err) {
			m.log.Error("cannot use PIDFile=", "unit", us.u.Name, "path", s.PIDFile, "err", err)
			m.phaseFailed(us, resultProtocol)
			return
		}
		// The daemon may write its PID file after the parent exited: wait
		// for it, up to the start timeout.
		time.AfterFunc(pidFilePoll, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			try()
		})
	}
	try()
}

// forkingMain adopts pid (0: none) as the main process and continues the
// start. The process is registered with the reaper; one that ended before
// that is treated as a main process that exited. m.mu held.
func (m *Manager) forkingMain(us *unitState, pid int) {
	if pid > 0 {
		p := &proc{pid: pid, us: us, main: true}
		m.pids[pid] = p
		us.svc.mainPID = pid
		m.trackMainStart(us, pid)
		m.armWatchdog(us)
		if unix.Kill(pid, 0) == unix.ESRCH {
			delete(m.pids, pid)
			m.log.Warn("main process from PIDFile= is gone", "unit", us.u.Name, "pid", pid)
			m.childExited(p, unix.WaitStatus(0)) // unknown status: taken as a clean exit
			return
		}
		m.log.Info("main process of the forking service", "unit", us.u.Name, "pid", pid)
	}
	m.advance(us) // phaseStart with nothing queued: on to ExecStartPost=
}

// readPIDFile reads a positive process id from path.
func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, &os.PathError{Op: "parse", Path: path, Err: syscall.EINVAL}
	}
	if pid == os.Getpid() {
		return 0, &os.PathError{Op: "parse", Path: path, Err: syscall.EPERM}
	}
	return pid, nil
}

// guessMainPID returns the process the unit left behind: its only process
// in the unit's cgroup when it has one, else our only child that no unit
// knows (the daemon was handed to us when its parent exited); 0 when that
// is not exactly one. m.mu held.
func (m *Manager) guessMainPID(us *unitState) int {
	if cg := us.svc.ex.cgroup; cg != "" {
		pids := cgroupPIDs(cg)
		if len(pids) == 1 {
			return pids[0]
		}
		return 0
	}
	self := os.Getpid()
	found := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || m.pids[pid] != nil {
			continue
		}
		if ppid(pid) == self {
			if found != 0 {
				return 0
			}
			found = pid
		}
	}
	return found
}

// ppid reads a process's parent from /proc/PID/stat (0 if gone).
func ppid(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// reloadBySignal reloads a Type=notify-reload service without ExecReload=:
// ReloadSignal= goes to the main process, which answers RELOADING=1 and
// READY=1 (notify_linux.go ends the reload). m.mu held.
func (m *Manager) reloadBySignal(us *unitState) {
	sig, _ := unit.SignalNumber(us.u.Service.ReloadSignal)
	if us.svc.mainPID == 0 || unix.Kill(us.svc.mainPID, syscall.Signal(sig)) != nil {
		m.log.Warn("cannot send ReloadSignal= to the main process", "unit", us.u.Name)
		m.finishJob(us.job, ResultFailed)
		return
	}
	m.setState(us, StateReloading, subReloadNotify)
}
