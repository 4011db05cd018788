package pid1

// The state a manager hands to its next incarnation (daemon-reexec, soft-reboot): JSON in a
// memfd whose number the new process gets as --deserialize=FD, the fds it names inherited
// (duplicated without close-on-exec just before the execve, so that nothing else leaks and
// an fd closed meanwhile cannot be confused with another). The format is versioned
// (serialVersion) and documented in docs/init.md, "Re-execution"; a unit type that keeps
// runtime state of its own adds an object named after the type to serialUnit (as "service"
// and "socket" do), and readers ignore the members they do not know.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/unit"
)

// serialVersion is the version of serialState; a reader refuses any other.
const serialVersion = 1

// Kinds of handover.
const (
	serialReexec     = "reexec"      // everything goes on
	serialSoftReboot = "soft-reboot" // only counters and preserved fd stores; the boot starts over
)

// serialState is the whole handover.
type serialState struct {
	Version  int              `json:"version"`
	Kind     string           `json:"kind"`
	Counters serialCounters   `json:"counters"`
	Started  int64            `json:"startedUSec,omitempty"`  // userspace start, µs since the epoch
	Finished int64            `json:"finishedUSec,omitempty"` // default.target reached
	NotifyFD int              `json:"notifyFD"`               // the notify socket, -1: none
	Varlink  []serialListener `json:"varlink,omitempty"`
	Units    []serialUnit     `json:"units"`
	Jobs     []serialJob      `json:"jobs,omitempty"`
	Procs    []serialProc     `json:"processes,omitempty"`
}

// serialCounters are the counters that survive; ReloadCount does not (as upstream).
type serialCounters struct {
	SoftReboots   int `json:"softReboots"`
	KExecs        int `json:"kexecs"`
	InstalledJobs int `json:"installedJobs"`
	FailedJobs    int `json:"failedJobs"`
	NextJobID     int `json:"nextJobID"`
}

// serialListener is a Varlink listening socket, by the path it is bound to.
type serialListener struct {
	Path string `json:"path"`
	FD   int    `json:"fd"`
}

// serialUnit is one loaded unit: the state every unit has, and one object per type.
type serialUnit struct {
	Name    string         `json:"name"`
	Active  string         `json:"activeState"`
	Sub     string         `json:"subState"`
	Result  string         `json:"result,omitempty"`
	Runtime serialRuntime  `json:"runtime"`
	Service *serialService `json:"service,omitempty"`
	Socket  *serialSocket  `json:"socket,omitempty"`
	Timer   *serialTimer   `json:"timer,omitempty"`
	Mount   *serialMount   `json:"mount,omitempty"`
}

// serialTimer is a timer's state: its last trigger and the one-shot values that passed;
// the next elapse is computed again after the re-execution.
type serialTimer struct {
	LastTrigger serialStamp `json:"lastTrigger"`
	Disabled    []bool      `json:"disabled,omitempty"`
}

// serialMount is a mount unit's mount(8)/umount(8) process, if one runs.
type serialMount struct {
	ControlPID int `json:"controlPID,omitempty"`
}

// serialStamp is a stamp as [realtime, monotonic] µs.
type serialStamp [2]int64

func toSerial(s stamp) serialStamp { return serialStamp{s.real, s.mono} }
func (s serialStamp) stamp() stamp { return stamp{real: s[0], mono: s[1]} }

type serialRuntime struct {
	StateChange     serialStamp `json:"stateChange"`
	ActiveEnter     serialStamp `json:"activeEnter"`
	ActiveExit      serialStamp `json:"activeExit"`
	InactiveEnter   serialStamp `json:"inactiveEnter"`
	InactiveExit    serialStamp `json:"inactiveExit"`
	InvocationID    string      `json:"invocationID,omitempty"`
	ConditionResult bool        `json:"conditionResult"`
	AssertResult    bool        `json:"assertResult"`
	ConditionAt     serialStamp `json:"conditionAt"`
	AssertAt        serialStamp `json:"assertAt"`
}

// serialService is a service's runtime state. Queued counts the commands of Phase still to
// run: the tail of that phase's Exec*= list in the unit file as loaded again.
type serialService struct {
	Phase        string     `json:"phase,omitempty"`
	Queued       int        `json:"queued,omitempty"`
	MainPID      int        `json:"mainPID,omitempty"`
	ControlPID   int        `json:"controlPID,omitempty"`
	Ready        bool       `json:"ready,omitempty"`
	Stopping     bool       `json:"stopping,omitempty"`
	Status       string     `json:"status,omitempty"`
	NRestarts    int        `json:"nRestarts,omitempty"`
	Starts       []int64    `json:"starts,omitempty"` // recent starts (start limit), µs since the epoch
	ExecMain     serialExit `json:"execMain"`
	MainExited   bool       `json:"mainExited,omitempty"`
	FDStore      []serialFD `json:"fdStore,omitempty"`
	CredsDir     string     `json:"credentialsDirectory,omitempty"`
	Cgroup       string     `json:"cgroup,omitempty"`
	WatchdogUSec int64      `json:"watchdogUSec,omitempty"`
	PGID         int        `json:"pgid,omitempty"`
	ConnFD       int        `json:"connectionFD,omitempty"` // Accept=yes: 0 none
	AcceptedBy   string     `json:"acceptedBy,omitempty"`   // Accept=yes: the socket unit
}

type serialExit struct {
	PID    int         `json:"pid,omitempty"`
	Code   string      `json:"code,omitempty"`
	Status int         `json:"status,omitempty"`
	Start  serialStamp `json:"start"`
	Exit   serialStamp `json:"exit"`
}

// serialFD is one stored fd.
type serialFD struct {
	FD   int    `json:"fd"`
	Name string `json:"name"`
	Poll bool   `json:"poll,omitempty"` // watched for hang-ups (not FDPOLL=0)
}

// serialSocket is a socket unit's listeners and Accept=yes counters.
type serialSocket struct {
	FDs       []int `json:"fds,omitempty"`
	NConn     int   `json:"nConnections,omitempty"`
	NAccepted int   `json:"nAccepted,omitempty"`
}

// serialJob is one queued job; Running ones wait for their unit's state as before.
type serialJob struct {
	ID      int    `json:"id"`
	Unit    string `json:"unit"`
	Type    string `json:"type"`
	Running bool   `json:"running,omitempty"`
}

// serialProc is one child of ours: a unit's main or control process, with the read end of
// its output pipe (-1: none).
type serialProc struct {
	PID           int      `json:"pid"`
	Unit          string   `json:"unit"`
	Main          bool     `json:"main,omitempty"`
	Path          string   `json:"path,omitempty"`
	Argv          []string `json:"argv,omitempty"`
	IgnoreFailure bool     `json:"ignoreFailure,omitempty"`
	LogFD         int      `json:"logFD"`
}

// fdKeeper collects the duplicates of the fds a handover passes on.
type fdKeeper struct{ fds []int }

// keep duplicates fd without close-on-exec and returns the duplicate's number.
func (k *fdKeeper) keep(fd int) (int, error) {
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD, 3)
	if err != nil {
		return -1, err
	}
	k.fds = append(k.fds, d)
	return d, nil
}

// keepConn duplicates the fd of an *os.File or net conn/listener while it is known open.
func (k *fdKeeper) keepConn(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	d, kerr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { d, kerr = k.keep(int(fd)) }); err != nil {
		return -1, err
	}
	return d, kerr
}

// release closes every duplicate (the handover did not happen).
func (k *fdKeeper) release() {
	closeFDs(k.fds)
	k.fds = nil
}

// serializeUnit writes us's state; what it cannot keep (a fd) is logged and left out.
// m.mu held.
func (m *Manager) serializeUnit(us *unitState, k *fdKeeper) serialUnit {
	rt := us.rt
	su := serialUnit{Name: us.u.Name, Active: us.active, Sub: string(us.sub), Result: string(us.result),
		Runtime: serialRuntime{StateChange: toSerial(rt.stateChange), ActiveEnter: toSerial(rt.activeEnter),
			ActiveExit: toSerial(rt.activeExit), InactiveEnter: toSerial(rt.inactiveEnter), InactiveExit: toSerial(rt.inactiveExit),
			InvocationID: rt.invocationID, ConditionResult: rt.conditionResult, AssertResult: rt.assertResult,
			ConditionAt: toSerial(rt.conditionAt), AssertAt: toSerial(rt.assertAt)}}
	if us.u.Service != nil || len(us.svc.fdStore) > 0 {
		sv := &us.svc
		ss := &serialService{Phase: string(sv.phase), Queued: len(sv.queue), MainPID: sv.mainPID, ControlPID: sv.ctrlPID,
			Ready: sv.ready, Stopping: sv.stopping, Status: sv.status, NRestarts: sv.nRestarts, MainExited: sv.mainExited,
			ExecMain: serialExit{PID: sv.execMain.pid, Code: string(sv.execMain.code), Status: sv.execMain.status,
				Start: toSerial(sv.execMain.start), Exit: toSerial(sv.execMain.leave)},
			CredsDir: sv.ex.credsDir, Cgroup: sv.ex.cgroup, WatchdogUSec: sv.ex.wdTimeout.Microseconds(), PGID: sv.ex.pgid}
		for _, t := range sv.starts {
			ss.Starts = append(ss.Starts, t.UnixMicro())
		}
		ss.FDStore = m.serializeFDStore(us, k)
		if sv.ex.acceptedBy != nil {
			if d, err := k.keep(sv.ex.connFD); err == nil {
				ss.ConnFD, ss.AcceptedBy = d, sv.ex.acceptedBy.u.Name
			} else {
				m.log.Warn("cannot keep a connection over the re-execution", "unit", us.u.Name, "err", err)
			}
		}
		su.Service = ss
	}
	if us.u.Timer != nil {
		su.Timer = &serialTimer{LastTrigger: toSerial(us.tmr.lastTrigger), Disabled: us.tmr.disabled}
	}
	if us.u.Mount != nil && us.mnt.ctrlPID != 0 {
		su.Mount = &serialMount{ControlPID: us.mnt.ctrlPID}
	}
	if us.u.Socket != nil && len(us.sock.fds) > 0 {
		so := &serialSocket{NConn: us.sock.nConn, NAccepted: us.sock.nAccepted}
		for _, fd := range us.sock.fds {
			d, err := k.keep(fd)
			if err != nil {
				m.log.Warn("cannot keep a listening socket over the re-execution", "unit", us.u.Name, "err", err)
				continue
			}
			so.FDs = append(so.FDs, d)
		}
		su.Socket = so
	}
	return su
}

// serializeFDStore duplicates us's stored fds. m.mu held.
func (m *Manager) serializeFDStore(us *unitState, k *fdKeeper) []serialFD {
	var out []serialFD
	for _, s := range us.svc.fdStore {
		d, err := k.keep(s.fd)
		if err != nil {
			m.log.Warn("cannot keep a stored fd, dropped", "unit", us.u.Name, "name", s.name, "err", err)
			continue
		}
		out = append(out, serialFD{FD: d, Name: s.name, Poll: s.id != 0})
	}
	return out
}

// serialize writes the whole state for a re-execution. m.mu held.
func (m *Manager) serialize(k *fdKeeper) (*serialState, error) {
	st := &serialState{Version: serialVersion, Kind: serialReexec, NotifyFD: -1, Counters: serialCounters{
		SoftReboots: m.xs.softReboots, KExecs: m.xs.kexecs, InstalledJobs: m.installedJobs, FailedJobs: m.failedJobs,
		NextJobID: m.nextJobID}}
	if !m.started.IsZero() {
		st.Started = m.started.UnixMicro()
	}
	if !m.finished.IsZero() {
		st.Finished = m.finished.UnixMicro()
	}
	if m.notifyConn != nil {
		fd, err := k.keepConn(m.notifyConn)
		if err != nil {
			return nil, fmt.Errorf("notify socket: %w", err)
		}
		st.NotifyFD = fd
	}
	for _, s := range m.VarlinkSockets() {
		fd, err := findListener(m.hostPath(s.Path))
		if err != nil {
			m.log.Warn("varlink socket not kept over the re-execution, it is bound again", "path", s.Path, "err", err)
			continue
		}
		d, err := k.keep(fd)
		if err != nil {
			return nil, err
		}
		st.Varlink = append(st.Varlink, serialListener{Path: s.Path, FD: d})
	}
	for _, name := range m.listLocked() {
		st.Units = append(st.Units, m.serializeUnit(m.units[name], k))
	}
	for _, j := range m.jobs {
		st.Jobs = append(st.Jobs, serialJob{ID: j.id, Unit: j.us.u.Name, Type: j.typ, Running: j.run})
	}
	sort.Slice(st.Jobs, func(a, b int) bool { return st.Jobs[a].ID < st.Jobs[b].ID })
	for pid, p := range m.pids {
		if p.us == nil || p.gen != nil {
			continue // a generator: it ends with the generator run, which finished before any job
		}
		sp := serialProc{PID: pid, Unit: p.us.u.Name, Main: p.main, Path: p.cmd.Path, Argv: p.cmd.Argv,
			IgnoreFailure: p.cmd.IgnoreFailure, LogFD: -1}
		if p.log != nil {
			if d, err := k.keepConn(p.log); err == nil {
				sp.LogFD = d
			}
			// else: the child closed its output already; nothing more to copy.
		}
		st.Procs = append(st.Procs, sp)
	}
	sort.Slice(st.Procs, func(a, b int) bool { return st.Procs[a].PID < st.Procs[b].PID })
	return st, nil
}

// findListener finds our listening unix socket bound to path.
func findListener(path string) (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1, err
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			continue
		}
		if u, ok := sa.(*unix.SockaddrUnix); ok && u.Name == path {
			if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && v == 1 {
				return fd, nil
			}
		}
	}
	return -1, errors.New("no listening socket bound there")
}

// writeSerialized puts st into a memfd without close-on-exec, read from its start.
func writeSerialized(st *serialState) (int, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return -1, err
	}
	fd, err := unix.MemfdCreate("stead-serialization", 0)
	if err != nil {
		return -1, err
	}
	for off := 0; off < len(b); {
		n, err := unix.Pwrite(fd, b[off:], int64(off))
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		off += n
	}
	return fd, nil
}

// readSerialized reads and checks the state in r.
func readSerialized(r io.Reader) (*serialState, error) {
	var st serialState
	dec := json.NewDecoder(r)
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("deserializing: %w", err)
	}
	if st.Version != serialVersion {
		return nil, fmt.Errorf("deserializing: format version %d, this init reads %d", st.Version, serialVersion)
	}
	return &st, nil
}

// inheritFD takes an fd named by the serialized state: close-on-exec again, and checked to
// be open.
func inheritFD(fd int) bool {
	if fd < 3 {
		return false
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return false
	}
	unix.CloseOnExec(fd)
	return true
}

// prepareRestore takes the listening sockets and the notify socket of st; the units come in
// restore, once Run has loaded the generators' output. Called by New.
func (m *Manager) prepareRestore(st *serialState) {
	m.xs.restore = st
	m.xs.softReboots, m.xs.kexecs = st.Counters.SoftReboots, st.Counters.KExecs
	m.xs.inherited = map[string]net.Listener{}
	for _, l := range st.Varlink {
		if !inheritFD(l.FD) {
			continue
		}
		f := os.NewFile(uintptr(l.FD), l.Path)
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			m.log.Warn("inherited varlink socket unusable, binding again", "path", l.Path, "err", err)
			continue
		}
		m.xs.inherited[l.Path] = ln
	}
	if st.NotifyFD >= 0 && inheritFD(st.NotifyFD) {
		f := os.NewFile(uintptr(st.NotifyFD), "notify")
		c, err := net.FileConn(f)
		f.Close()
		if uc, ok := c.(*net.UnixConn); err == nil && ok {
			m.notifyConn, m.notifyPath = uc, m.hostPath("/run/systemd/notify")
		} else {
			m.log.Warn("inherited notify socket unusable, binding again", "err", err)
		}
	}
}

// restoreUnits applies st's units, jobs and processes. m.mu held.
func (m *Manager) restoreUnits(st *serialState) {
	if st.Started != 0 {
		m.started = time.UnixMicro(st.Started)
	}
	if st.Finished != 0 {
		m.finished = time.UnixMicro(st.Finished)
	}
	m.installedJobs, m.failedJobs = st.Counters.InstalledJobs, st.Counters.FailedJobs
	m.nextJobID = max(m.nextJobID, st.Counters.NextJobID)
	byName := map[string]*unitState{}
	for _, su := range st.Units {
		us, err := m.get(su.Name)
		if err != nil {
			m.log.Error("unit of the previous incarnation cannot be loaded, its state is dropped", "unit", su.Name, "err", err)
			m.dropSerialFDs(su)
			continue
		}
		byName[su.Name] = us
		m.restoreUnit(us, su)
	}
	for _, su := range st.Units { // Accept=yes instances point at their socket
		if us := byName[su.Name]; us != nil && su.Service != nil && su.Service.AcceptedBy != "" {
			if sock := byName[su.Service.AcceptedBy]; sock != nil && inheritFD(su.Service.ConnFD) {
				us.svc.ex.connFD, us.svc.ex.acceptedBy = su.Service.ConnFD, sock
			}
		}
	}
	for _, sp := range st.Procs {
		us := byName[sp.Unit]
		if us == nil {
			continue
		}
		p := &proc{pid: sp.PID, us: us, main: sp.Main, cmd: unit.ExecCommand{Path: sp.Path, Argv: sp.Argv, IgnoreFailure: sp.IgnoreFailure}}
		if sp.LogFD >= 0 && inheritFD(sp.LogFD) {
			p.log = os.NewFile(uintptr(sp.LogFD), "|"+sp.Unit)
			go m.copyOutput(sp.Unit, p.log)
		}
		m.pids[sp.PID] = p
	}
	for _, sj := range st.Jobs {
		us := byName[sj.Unit]
		if us == nil {
			continue
		}
		j := &job{id: sj.ID, typ: sj.Type, us: us, run: sj.Running, done: make(chan struct{})}
		m.jobs[sj.Unit] = j
		us.job = j
		m.nextJobID = max(m.nextJobID, sj.ID)
	}
	for _, us := range byName {
		m.rearm(us)
	}
	m.notifyChange()
	m.dispatch()
}

// restoreUnit applies one unit's state. m.mu held.
func (m *Manager) restoreUnit(us *unitState, su serialUnit) {
	us.active, us.sub, us.result = su.Active, subState(su.Sub), result(su.Result)
	r := su.Runtime
	us.rt = unitRuntime{stateChange: r.StateChange.stamp(), activeEnter: r.ActiveEnter.stamp(), activeExit: r.ActiveExit.stamp(),
		inactiveEnter: r.InactiveEnter.stamp(), inactiveExit: r.InactiveExit.stamp(), invocationID: r.InvocationID,
		conditionResult: r.ConditionResult, assertResult: r.AssertResult, conditionAt: r.ConditionAt.stamp(), assertAt: r.AssertAt.stamp()}
	if ss := su.Service; ss != nil {
		sv := &us.svc
		sv.phase, sv.mainPID, sv.ctrlPID, sv.ready, sv.stopping = phase(ss.Phase), ss.MainPID, ss.ControlPID, ss.Ready, ss.Stopping
		sv.status, sv.nRestarts, sv.mainExited = ss.Status, ss.NRestarts, ss.MainExited
		sv.execMain = exitStatus{pid: ss.ExecMain.PID, code: cldCode(ss.ExecMain.Code), status: ss.ExecMain.Status,
			start: ss.ExecMain.Start.stamp(), leave: ss.ExecMain.Exit.stamp()}
		for _, t := range ss.Starts {
			sv.starts = append(sv.starts, time.UnixMicro(t))
		}
		if s := us.u.Service; s != nil {
			cmds := phaseCommands(s, sv.phase)
			if ss.Queued > 0 && ss.Queued <= len(cmds) {
				sv.queue = append([]unit.ExecCommand{}, cmds[len(cmds)-ss.Queued:]...)
			}
			if id, err := resolveIdentity(m.cfg.Root, s.User, s.Group, s.SupplementaryGroups); err == nil {
				sv.ex.id = id
			}
		}
		sv.ex.credsDir, sv.ex.cgroup, sv.ex.pgid = ss.CredsDir, ss.Cgroup, ss.PGID
		sv.ex.wdTimeout = time.Duration(ss.WatchdogUSec) * time.Microsecond
		m.restoreFDStore(us, ss.FDStore)
	}
	if st := su.Timer; st != nil {
		us.tmr.lastTrigger, us.tmr.disabled = st.LastTrigger.stamp(), st.Disabled
	}
	if sm := su.Mount; sm != nil && sm.ControlPID > 0 {
		// Its output pipe is gone with the old process image; its exit is still ours.
		us.mnt.ctrlPID = sm.ControlPID
		m.pids[sm.ControlPID] = &proc{pid: sm.ControlPID, us: us}
	}
	if so := su.Socket; so != nil {
		for _, fd := range so.FDs {
			if inheritFD(fd) {
				us.sock.fds = append(us.sock.fds, fd)
			}
		}
		us.sock.nConn, us.sock.nAccepted = so.NConn, so.NAccepted
	}
}

// restoreFDStore puts inherited fds back into us's store, watched again unless they were
// stored with FDPOLL=0. m.mu held.
func (m *Manager) restoreFDStore(us *unitState, fds []serialFD) {
	for _, f := range fds {
		if !inheritFD(f.FD) {
			m.log.Warn("stored fd lost over the re-execution", "unit", us.u.Name, "name", f.Name)
			continue
		}
		s := &storedFD{fd: f.FD, name: f.Name}
		if f.Poll {
			if err := m.watchFD(us, s); err != nil {
				m.log.Warn("cannot watch a stored fd", "unit", us.u.Name, "name", f.Name, "err", err)
			}
		}
		us.svc.fdStore = append(us.svc.fdStore, s)
	}
}

// dropSerialFDs closes the inherited fds of a unit that is gone.
func (m *Manager) dropSerialFDs(su serialUnit) {
	var fds []int
	if ss := su.Service; ss != nil {
		for _, f := range ss.FDStore {
			fds = append(fds, f.FD)
		}
		if ss.ConnFD > 0 {
			fds = append(fds, ss.ConnFD)
		}
	}
	if su.Socket != nil {
		fds = append(fds, su.Socket.FDs...)
	}
	for _, fd := range fds {
		if inheritFD(fd) {
			unix.Close(fd)
		}
	}
}

// phaseCommands is the Exec*= list a phase runs.
func phaseCommands(s *unit.Service, p phase) []unit.ExecCommand {
	switch p {
	case phaseStartPre:
		return s.ExecStartPre
	case phaseStart:
		return s.ExecStart
	case phaseStartPost:
		return s.ExecStartPost
	case phaseReload:
		return s.ExecReload
	case phaseStop:
		return s.ExecStop
	case phaseStopPost:
		return s.ExecStopPost
	}
	return nil
}

// rearm starts again what was running in the previous incarnation: a socket's watcher, the
// timers of a service (the pending automatic restart after RestartSec=, the start and stop
// timeouts and the watchdog, each counted from now). m.mu held.
func (m *Manager) rearm(us *unitState) {
	if us.u.Socket != nil && len(us.sock.fds) > 0 && us.active == StateActive {
		stop := make(chan struct{})
		us.sock.watchOn = stop
		if us.u.Socket.Accept {
			go m.acceptLoop(us, us.sock.fds, stop)
		} else {
			go m.watchSocket(us, us.sock.fds, stop)
		}
	}
	if us.u.Timer != nil && us.active == StateActive && us.sub == subWaiting {
		m.timerEnterWaiting(us, false) // the next elapse, from the restored last trigger
	}
	s := us.u.Service
	if s == nil {
		return
	}
	us.svc.gen++
	switch {
	case us.sub == subAutoRestart:
		us.svc.restart = time.AfterFunc(s.RestartSec, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if us.sub != subAutoRestart || m.closed {
				return
			}
			us.svc.restart = nil
			m.startService(us)
		})
	case us.active == StateActivating:
		m.armStartTimeout(us)
	case us.active == StateDeactivating:
		m.armStopTimeout(us)
	}
	if us.svc.mainPID != 0 && us.svc.phase == phaseRunning && us.svc.ex.wdTimeout > 0 {
		m.armWatchdog(us)
	}
}
