// Package pid1 is stead's service manager: it loads units (lib/unit), keeps a
// dependency graph and a job queue, starts and supervises services and
// socket units, and serves io.systemd.Manager.
//
// It runs in host mode (an ordinary process, units read from a root
// directory, no mounts or sandboxing, cgroups only when delegated) or as the
// system's PID 1 (pid1_linux.go: API filesystems, shutdown signals, final
// reboot). A unit's state — its SubState, Result, a service's phase, and
// what only services or only sockets keep — is typed in unitstate.go. A
// service's execution environment — user, directories, environment,
// credentials, cgroup, watchdog — is in exec_env_linux.go and the files it
// names. See docs/init.md.
package pid1

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/unit"
)

// Active states, as systemd names them.
const (
	StateInactive     = "inactive"
	StateActivating   = "activating"
	StateActive       = "active"
	StateDeactivating = "deactivating"
	StateReloading    = "reloading"
	StateFailed       = "failed"
)

// Job types and results.
const (
	JobStart   = "start"
	JobStop    = "stop"
	JobRestart = "restart"
	JobReload  = "reload"

	ResultDone       = "done"
	ResultFailed     = "failed"
	ResultDependency = "dependency"
	ResultCanceled   = "canceled"
	ResultSkipped    = "skipped"
	ResultAssert     = "assert" // an Assert*= setting failed: the unit was not started
)

// Config configures a Manager.
type Config struct {
	Root     string    // units and every path are resolved under Root
	Host     bool      // host mode: an ordinary process, no mounts
	PID1     bool      // PID 1 mode: the system's init (see pid1_linux.go); Root must be /
	Dirs     []string  // unit search path (default unit.DefaultDirs)
	Output   io.Writer // where service output goes, line-prefixed (default os.Stderr)
	Logger   *slog.Logger
	ShimArgv []string // command that execs its arguments with LISTEN_PID=getpid(); default: our binary --exec-shim
	// Shutdown is called by io.systemd.Manager.PowerOff/Reboot/Halt with the action
	// (ActionPoweroff, …); nil refuses them.
	Shutdown func(action string)
	Version  string
	// Daemon, in host mode, is the lib/daemon skeleton running the manager: it serves
	// VarlinkSockets and announces reloads (io.systemd.Manager.Reload goes through it); Run
	// then serves no socket itself. nil: Run serves them (PID 1, tests).
	Daemon *daemon.Daemon
	// Deserialize is the state a previous incarnation handed over (init --deserialize=FD:
	// daemon-reexec, soft-reboot); New reads and closes it (reexec_linux.go).
	Deserialize *os.File
	// ExecArgv is the command line a re-execution runs, --deserialize=FD appended; default:
	// our own binary with our arguments.
	ExecArgv []string
}

// Manager is the service manager.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	units     map[string]*unitState
	loader    unitLoader      // aliases, the name map, units loaded as referenced (graph.go)
	unitsGen  int             // bumped when a unit is loaded or its configuration replaced (ordering.go)
	rel       *relations      // the units' ordering and requirements, built for unitsGen (ordering.go)
	dirCache  *conf.DirCache  // while Enqueue loads a unit and what it pulls in: the unit directories' listings
	jobs      map[string]*job // by unit name
	nextJobID int
	pids      map[int]*proc // running children we spawned
	devnull   *os.File      // stdin (and more) of the children, opened at the first spawn
	outMu     sync.Mutex

	reloadCount   int
	installedJobs int
	failedJobs    int
	notifyPath    string // host path of the notify socket
	notifyConn    *net.UnixConn
	cg            *cgroupTree // nil: units run without cgroups (cgroup_linux.go)
	closed        bool
	changed       chan struct{} // closed and replaced on every state change
	dispatching   bool          // dispatch is running: a nested call only asks it for another pass
	redispatch    bool
	started       time.Time
	onState       func(name, active string) // test hook, called with m.mu held
	finished      time.Time
	oom           oomHub      // io.systemd.ManagedOOM subscriber (managedoom.go)
	fdPoll        fdPoller    // watches the stored fds for hang-ups (fdstore_linux.go)
	timers        timerHub    // wake-ups of the timer units (timerhub_linux.go)
	xs            transitions // re-execution, soft-reboot, kexec: counters and handover (reexec_linux.go)
}

type job struct {
	id     int
	typ    string
	us     *unitState
	run    bool
	result string
	done   chan struct{}
	// required is set for jobs pulled in with Requires=/BindsTo= by
	// another job: their failure fails that job.
	requiredBy []*job
}

// New creates a Manager; Run starts it.
func New(cfg Config) (*Manager, error) {
	if !cfg.Host && !cfg.PID1 {
		return nil, errors.New("pid1: neither host mode nor PID 1 mode")
	}
	if cfg.Root == "" {
		cfg.Root = "/"
	}
	if cfg.Dirs == nil {
		cfg.Dirs = unit.DefaultDirs
	}
	if cfg.Output == nil {
		cfg.Output = os.Stderr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ShimArgv == nil {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cfg.ShimArgv = []string{self, "--exec-shim"}
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, units: map[string]*unitState{}, jobs: map[string]*job{},
		pids: map[int]*proc{}, changed: make(chan struct{})}
	m.initTransitions()
	return m, nil
}

func (m *Manager) hostPath(p string) string { return filepath.Join(m.cfg.Root, p) }

// notifyChange wakes waiters; called with m.mu held.
func (m *Manager) notifyChange() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// get returns the unit called name (or an alias of it), loading it on first
// use together with every unit it refers to, as upstream does (graph.go).
// m.mu held.
func (m *Manager) get(name string) (*unitState, error) {
	return m.loadUnit(name)
}

// deps lists the units us pulls in or orders against, with implicit ones.
func (m *Manager) implicit(us *unitState) (wants, after []string) {
	u := us.u
	if u.Type == "service" {
		sock := u.Prefix + ".socket"
		if u.Instance == "" {
			if s, err := m.get(sock); err == nil && s.u.LoadState == unit.Loaded {
				wants = append(wants, sock)
				after = append(after, sock)
			}
		}
	}
	return wants, after
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Enqueue adds a job of typ for the unit called name and its dependencies
// and returns the job's id and a channel closed when it finishes; Result
// then tells the outcome.
func (m *Manager) Enqueue(name, typ string) (*Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("manager is shutting down")
	}
	// The unit and what it pulls in are loaded at one moment: each unit
	// directory is listed once for all of them.
	m.dirCache = conf.NewDirCache()
	m.loader.names = nil // see alias symlinks added since the last load
	us, err := m.get(name)
	if err != nil {
		m.dirCache = nil
		return nil, err
	}
	switch us.u.LoadState {
	case unit.Loaded:
	default:
		if typ != JobStop {
			m.dirCache = nil
			return nil, fmt.Errorf("unit %s is %s", name, us.u.LoadState)
		}
	}
	j, err := m.addJob(us, typ, nil, map[string]bool{})
	m.dirCache = nil
	if err != nil {
		return nil, err
	}
	m.dispatch()
	return &Job{m: m, j: j}, nil
}

// Job is a handle on an enqueued job.
type Job struct {
	m *Manager
	j *job
}

// ID is the job's number.
func (h *Job) ID() int { return h.j.id }

// Done is closed when the job has finished.
func (h *Job) Done() <-chan struct{} { return h.j.done }

// Result is the job's result once Done is closed: done, failed, dependency,
// canceled or skipped.
func (h *Job) Result() string {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	return h.j.result
}

func (m *Manager) addJob(us *unitState, typ string, by *job, seen map[string]bool) (*job, error) {
	name := us.u.Name
	if seen[name+"/"+typ] {
		return m.jobs[name], nil
	}
	seen[name+"/"+typ] = true
	if j := m.jobs[name]; j != nil {
		if j.typ == typ || (typ == JobStart && j.typ == JobRestart) {
			if by != nil {
				j.requiredBy = append(j.requiredBy, by)
			}
			return j, nil
		}
		if j.run {
			// A running job of another type: let it finish first? Keep it
			// simple and replace only waiting jobs.
			return nil, fmt.Errorf("unit %s has a running %s job", name, j.typ)
		}
		m.finishJob(j, ResultCanceled)
	}
	m.nextJobID++
	j := &job{id: m.nextJobID, typ: typ, us: us, done: make(chan struct{})}
	if by != nil {
		j.requiredBy = append(j.requiredBy, by)
	}
	m.jobs[name] = j
	us.job = j
	m.installedJobs++
	if typ == JobStart || typ == JobRestart {
		u := us.u.Unit
		iw, _ := m.implicit(us)
		for _, list := range [][]string{u.Requires, u.BindsTo} {
			for _, n := range list {
				d, err := m.get(n)
				if err != nil || d.u.LoadState != unit.Loaded {
					m.finishJob(j, ResultDependency)
					return nil, fmt.Errorf("unit %s requires %s, which cannot be loaded", name, n)
				}
				if _, err := m.addJob(d, JobStart, j, seen); err != nil {
					m.finishJob(j, ResultDependency)
					return nil, err
				}
			}
		}
		for _, n := range append(append([]string{}, u.Wants...), iw...) {
			d, err := m.get(n)
			if err != nil || d.u.LoadState != unit.Loaded {
				continue
			}
			_, _ = m.addJob(d, JobStart, nil, seen)
		}
		for _, n := range u.Conflicts {
			if d, err := m.get(n); err == nil && d.active != StateInactive {
				_, _ = m.addJob(d, JobStop, nil, seen)
			}
		}
	}
	if typ == JobStop {
		// Units that require or bind to us are stopped too.
		for _, o := range m.rels().requiredBy[name] {
			if contains(o.u.Unit.Requires, name) || contains(o.u.Unit.BindsTo, name) {
				if o.active != StateInactive && o.active != StateFailed || m.jobs[o.u.Name] != nil {
					_, _ = m.addJob(o, JobStop, nil, seen)
				}
			}
		}
	}
	return j, nil
}

// finishJob ends j with result. m.mu held.
func (m *Manager) finishJob(j *job, result string) {
	if j.result != "" {
		return
	}
	j.result = result
	if m.jobs[j.us.u.Name] == j {
		delete(m.jobs, j.us.u.Name)
	}
	if j.us.job == j {
		j.us.job = nil
	}
	if result != ResultDone && result != ResultSkipped && result != ResultCanceled {
		m.failedJobs++
	}
	close(j.done)
	m.log.Debug("job finished", "unit", j.us.u.Name, "type", j.typ, "result", result)
	if (j.typ == JobStart || j.typ == JobRestart) && result != ResultDone && result != ResultSkipped {
		for _, r := range j.requiredBy {
			m.finishJob(r, ResultDependency)
		}
	}
	m.notifyChange()
}

// runnable reports whether j may run now: every job it is ordered after
// has finished. Only the jobs of units ordered against j's are looked at.
func (m *Manager) runnable(j *job) bool {
	if j.typ != JobStop && j.us.active == StateDeactivating {
		return false // let the stop finish first
	}
	for _, n := range m.rels().neighbours[j.us.u.Name] {
		k := m.jobs[n]
		if k == nil || k == j {
			continue
		}
		a, b := j.us, k.us
		var first *job // which of j, k goes first, if related
		switch {
		case m.orderedAfter(a, b): // a after b
			if j.typ == JobStop && k.typ == JobStop {
				first = j
			} else if j.typ == JobStop {
				first = j
			} else {
				first = k
			}
		case m.orderedAfter(b, a):
			if j.typ == JobStop && k.typ == JobStop {
				first = k
			} else if k.typ == JobStop {
				first = k
			} else {
				first = j
			}
		}
		if first == k {
			return false
		}
	}
	return true
}

// dispatch runs every runnable job. m.mu held. It does not nest: called
// while it runs (a job's start changed a state), it makes the running
// dispatch take another pass instead.
func (m *Manager) dispatch() {
	if m.dispatching {
		m.redispatch = true
		return
	}
	m.dispatching = true
	defer func() { m.dispatching = false }()
	for progress := true; progress; {
		progress = false
		m.redispatch = false
		var js []*job
		for _, j := range m.jobs {
			if !j.run {
				js = append(js, j)
			}
		}
		sort.Slice(js, func(a, b int) bool { return js[a].id < js[b].id })
		for _, j := range js {
			if j.result != "" || j.run || !m.runnable(j) {
				continue
			}
			j.run = true
			progress = true
			m.runJob(j)
		}
		if !progress && len(js) > 0 && m.noJobRunning() {
			// Every job waits for another: an ordering cycle. systemd
			// breaks it by dropping a job; we run the oldest one anyway
			// (not one merely waiting for its unit to finish stopping).
			for _, j := range js {
				if j.result != "" || j.run || (j.typ != JobStop && j.us.active == StateDeactivating) {
					continue
				}
				m.log.Warn("ordering cycle between queued jobs, breaking it", "unit", j.us.u.Name)
				j.run = true
				progress = true
				m.runJob(j)
				break
			}
		}
		if m.redispatch {
			progress = true
		}
	}
}

// noJobRunning reports whether no queued job is executing. m.mu held.
func (m *Manager) noJobRunning() bool {
	for _, j := range m.jobs {
		if j.run {
			return false
		}
	}
	return true
}

// runJob starts executing j. m.mu held.
func (m *Manager) runJob(j *job) {
	us := j.us
	switch j.typ {
	case JobStart:
		if us.active == StateActive || us.active == StateReloading || (us.active == StateActivating && us.sub != subAutoRestart) {
			if us.active != StateActivating {
				m.finishJob(j, ResultDone)
			}
			return // an activating unit finishes the job when it is up
		}
		m.startUnit(us)
	case JobRestart:
		if us.active == StateActive || us.active == StateActivating {
			us.svc.stopping = true
			m.stopUnit(us) // the job continues with a start once stopped
			return
		}
		j.typ = JobStart
		m.startUnit(us)
	case JobStop:
		if us.active == StateInactive || us.active == StateFailed {
			if us.svc.restart != nil {
				us.svc.restart.Stop()
				us.svc.restart = nil
			}
			m.finishJob(j, ResultDone)
			return
		}
		us.svc.stopping = true
		m.stopUnit(us)
	case JobReload:
		if us.active != StateActive {
			m.finishJob(j, ResultFailed)
			return
		}
		m.reloadUnit(us)
	}
}

// setState changes a unit's state and settles its job. m.mu held.
func (m *Manager) setState(us *unitState, active string, sub subState) {
	old := us.active
	us.active, us.sub = active, sub
	m.trackState(us, old, active)
	if old != active && m.onState != nil {
		m.onState(us.u.Name, active)
	}
	if old != active {
		m.log.Info("unit state", "unit", us.u.Name, "from", old, "to", active, "sub", sub)
	}
	m.fdStoreOnState(us)
	m.timersNotify(us) // the timers that trigger us (timer_linux.go)
	if j := us.job; j != nil && j.run {
		switch j.typ {
		case JobStart:
			switch active {
			case StateActive:
				m.finishJob(j, ResultDone)
			case StateFailed:
				m.finishJob(j, ResultFailed)
			case StateInactive:
				if us.u.Type == "service" && us.u.Service.Type == "oneshot" && us.result == resultSuccess {
					m.finishJob(j, ResultDone)
				} else {
					m.finishJob(j, ResultFailed)
				}
			}
		case JobStop:
			if active == StateInactive || active == StateFailed {
				m.finishJob(j, ResultDone)
			}
		case JobRestart:
			if active == StateInactive || active == StateFailed {
				j.typ = JobStart
				us.svc.stopping = false
				m.startUnit(us)
			}
		case JobReload:
			if active == StateActive {
				m.finishJob(j, ResultDone)
			} else if active != StateReloading {
				m.finishJob(j, ResultFailed)
			}
		}
	}
	if old != active {
		m.afterStateChange(us, old, active) // actions_linux.go
	}
	// Propagation: a unit that went down takes down what binds to it;
	// pending starts that require it fail.
	if (active == StateInactive || active == StateFailed) && old != active {
		for _, o := range m.rels().requiredBy[us.u.Name] {
			if o == us {
				continue
			}
			if contains(o.u.Unit.BindsTo, us.u.Name) && (o.active == StateActive || o.active == StateActivating) && o.job == nil {
				_, _ = m.addJob(o, JobStop, nil, map[string]bool{})
			}
			if active == StateFailed && o.job != nil && !o.job.run && o.job.typ == JobStart &&
				(contains(o.u.Unit.Requires, us.u.Name) || contains(o.u.Unit.BindsTo, us.u.Name)) {
				m.finishJob(o.job, ResultDependency)
			}
		}
	}
	m.notifyChange()
	m.dispatch()
}

// startUnit begins activating us. m.mu held.
func (m *Manager) startUnit(us *unitState) {
	us.svc.stopping = false
	// Conditions first, then assertions, as upstream: a failed condition
	// skips the unit (the job is done), a failed assertion fails the job
	// and leaves the unit as it was. Asserts are not tested when a
	// condition already failed.
	t := now()
	ok, failed := m.checkConditions(us, false)
	us.rt.conditionResult, us.rt.conditionAt = ok, t
	if !ok {
		us.result = resultSuccess
		m.log.Info("condition check failed, skipping", "unit", us.u.Name, "condition", failed)
		if j := us.job; j != nil {
			m.finishJob(j, ResultDone)
		}
		m.notifyChange()
		return
	}
	ok, failed = m.checkConditions(us, true)
	us.rt.assertResult, us.rt.assertAt = ok, t
	if !ok {
		m.log.Warn("assertion failed, not starting", "unit", us.u.Name, "assert", failed)
		if j := us.job; j != nil {
			m.finishJob(j, ResultAssert)
		}
		m.notifyChange()
		return
	}
	switch us.u.Type {
	case "service":
		m.startService(us)
	case "socket":
		m.startSocket(us)
	case "mount":
		m.startMount(us)
	case "device":
		m.startDevice(us)
	case "timer":
		m.startTimer(us) // timer_linux.go
	default: // targets and everything else without processes
		us.result = resultSuccess
		m.setState(us, StateActive, subActive)
	}
}

func (m *Manager) stopUnit(us *unitState) {
	switch us.u.Type {
	case "service":
		m.stopService(us)
	case "socket":
		m.stopSocket(us)
	case "mount":
		m.stopMount(us)
	case "timer":
		m.stopTimer(us)
	default:
		m.setState(us, StateInactive, subDead)
	}
}

func (m *Manager) reloadUnit(us *unitState) {
	if us.u.Type == "service" {
		m.reloadService(us)
		return
	}
	m.finishJob(us.job, ResultDone)
}

// checkConditions evaluates the Condition*= settings (or, with asserts,
// the Assert*= ones) through lib/unit/condition. When they do not
// hold, failed names the first one that failed, as it is written in the
// unit ("ConditionPathExists=!/x"), or "triggering" when no triggering one
// held.
func (m *Manager) checkConditions(us *unitState, asserts bool) (ok bool, failed string) {
	var trig, trigMet bool
	for _, c := range us.u.Unit.Conditions {
		if c.Assert != asserts {
			continue
		}
		met := m.conditionMet(c) // condition_linux.go
		if c.Negate {
			met = !met
		}
		if c.Trigger {
			trig = true
			trigMet = trigMet || met
			continue
		}
		if !met {
			return false, conditionString(c)
		}
	}
	if trig && !trigMet {
		return false, "triggering"
	}
	return true, ""
}

// conditionString is c as a unit file spells it.
func conditionString(c unit.Condition) string {
	key := "Condition"
	if c.Assert {
		key = "Assert"
	}
	v := c.Value
	if c.Negate {
		v = "!" + v
	}
	if c.Trigger {
		v = "|" + v
	}
	return key + c.Kind + "=" + v
}

// startLimitHit records a start and reports whether the limit is exceeded.
func (m *Manager) startLimitHit(us *unitState) bool {
	iv, burst := us.u.Unit.StartLimitInterval, us.u.Unit.StartLimitBurst
	if iv <= 0 || burst <= 0 {
		return false
	}
	now := time.Now()
	keep := us.svc.starts[:0]
	for _, t := range us.svc.starts {
		if now.Sub(t) < iv {
			keep = append(keep, t)
		}
	}
	us.svc.starts = keep
	if len(us.svc.starts) >= burst {
		return true
	}
	us.svc.starts = append(us.svc.starts, now)
	return false
}

// UnitStatus is a snapshot of one unit.
type UnitStatus struct {
	Name, LoadState, ActiveState, SubState, Result, StatusText string
	MainPID, NRestarts                                         int
	Job                                                        string
}

// Status returns a unit's state; a unit never loaded is loaded now.
func (m *Manager) Status(name string) (UnitStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	us, err := m.get(name)
	if err != nil {
		return UnitStatus{}, err
	}
	return m.status(us), nil
}

func (m *Manager) status(us *unitState) UnitStatus {
	s := UnitStatus{Name: us.u.Name, LoadState: us.u.LoadState, ActiveState: us.active, SubState: string(us.sub),
		Result: string(us.result), StatusText: us.svc.status, MainPID: us.svc.mainPID, NRestarts: us.svc.nRestarts}
	if us.job != nil {
		s.Job = us.job.typ
	}
	return s
}

// List returns the state of every loaded unit, sorted by name.
func (m *Manager) List() []UnitStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []UnitStatus
	for _, n := range m.listLocked() {
		out = append(out, m.status(m.units[n]))
	}
	return out
}

// listLocked returns the names of the loaded units, sorted. m.mu held.
func (m *Manager) listLocked() []string {
	names := make([]string, 0, len(m.units))
	for n := range m.units {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Changed returns a channel closed at the next state change.
func (m *Manager) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// ReloadUnits runs the generators again (generators_linux.go) and re-reads
// every loaded unit's files, keeping runtime state.
func (m *Manager) ReloadUnits() error {
	m.runGenerators()
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	m.loader.reset()
	unit.ForgetHost(m.cfg.Root)
	for name, us := range m.units {
		u, err := unit.Load(m.cfg.Root, name, m.loadOptions(name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		us.u = u
		m.loader.noteNames(us)
	}
	// What the reloaded files name now and nothing named before is loaded too, as at
	// boot (upstream loads a unit's dependencies on every load).
	var named []string
	for _, us := range m.units {
		if us.u.LoadState == unit.Loaded || us.u.LoadState == unit.BadSetting {
			for _, l := range referencedLists(us.u) {
				named = append(named, l...)
			}
		}
	}
	for _, n := range named {
		if _, known := m.units[m.loader.id(n)]; !known {
			if _, err := m.loadUnit(n); err != nil {
				m.log.Debug("referenced unit cannot be loaded", "unit", n, "err", err)
			}
		}
	}
	for _, us := range m.units {
		m.canonicalize(us.u)
	}
	for _, us := range m.units {
		m.requireParentMounts(us)
	}
	m.unitsChanged()
	m.timersReloaded() // timer_linux.go
	m.reloadCount++
	m.notifyChange()
	return errors.Join(errs...)
}
