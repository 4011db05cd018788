package pid1

import (
	"strings"
	"time"

	"github.com/stead-os/stead/lib/unit"
)

// A unit's state is upstream's triple: its ActiveState (StateActive, …,
// untyped strings in manager.go), its SubState, which depends on the unit
// type, and its Result, the outcome of its last activation. A service also
// has a phase: what it is executing. The strings are upstream's and go on
// the wire as they are (io.systemd.Unit, steadctl, SERVICE_RESULT=).

// subState is a unit's SubState: upstream's per-type state names.
type subState string

const (
	subDead   subState = "dead"
	subFailed subState = "failed"
	subActive subState = "active" // a unit type without processes (targets, …) that is up

	// services
	subStartPre     subState = "start-pre"
	subStart        subState = "start"
	subStartPost    subState = "start-post"
	subRunning      subState = "running"
	subExited       subState = "exited" // up without a main process (RemainAfterExit=)
	subReload       subState = "reload"
	subReloadNotify subState = "reload-notify" // RELOADING=1
	subStop         subState = "stop"
	subStopWatchdog subState = "stop-watchdog"
	subStopSigterm  subState = "stop-sigterm"
	subStopPost     subState = "stop-post"
	subAutoRestart  subState = "auto-restart" // waiting RestartSec= before the next start

	// sockets
	subListening subState = "listening"
)

// phase is what a service is executing: the commands in its queue belong
// to it. A start goes start-pre, start, start-post and ends running (a
// oneshot without RemainAfterExit= goes on to stop-post); a stop goes stop,
// stop-post and ends with no phase.
type phase string

const (
	phaseNone        phase = ""            // not started, or stopped
	phaseCredentials phase = "credentials" // collecting credentials, before any command runs
	phaseStartPre    phase = "start-pre"
	phaseStart       phase = "start"
	phaseStartPost   phase = "start-post"
	phaseRunning     phase = "running"
	phaseReload      phase = "reload"
	phaseStop        phase = "stop"
	phaseStopPost    phase = "stop-post"
)

// startSub is the sub-state of a service activating in phase p, one of the
// phases of a start.
func (p phase) startSub() subState {
	switch p {
	case phaseStartPre:
		return subStartPre
	case phaseStart:
		return subStart
	}
	return subStartPost
}

// result is a unit's Result: upstream's ServiceResult and SocketResult
// values. (A job's result is one of the Result* constants in manager.go.)
type result string

const (
	resultSuccess              result = "success"
	resultResources            result = "resources" // the execution environment could not be set up
	resultProtocol             result = "protocol"  // the main process exited before it was up
	resultTimeout              result = "timeout"
	resultExitCode             result = "exit-code"
	resultSignal               result = "signal"
	resultCoreDump             result = "core-dump"
	resultWatchdog             result = "watchdog"
	resultStartLimitHit        result = "start-limit-hit"
	resultServiceStartLimitHit result = "service-start-limit-hit" // sockets: their service hit its start limit
)

// wire spells r as the IDL's ServiceResult enum does ("exit-code" →
// "exit_code"); no result yet is success.
func (r result) wire() string {
	if r == "" {
		r = resultSuccess
	}
	return strings.ReplaceAll(string(r), "-", "_")
}

// unitState is a unit's configuration and its runtime state. What only one
// unit type has lives in svc or sock, zero for the other types.
type unitState struct {
	u      *unit.Unit
	active string
	sub    subState
	result result
	job    *job
	rt     unitRuntime // timestamps, invocation ID, condition results (unitruntime.go)

	svc  serviceRuntime
	sock socketRuntime
	mnt  mountRuntime // mount_linux.go
	tmr  timerRuntime // timer units (timer_linux.go)
}

// serviceRuntime is the state of a service: its processes, the phase it is
// in and the commands left in it, its timers.
type serviceRuntime struct {
	phase    phase
	queue    []unit.ExecCommand // the commands of phase still to run
	mainPID  int
	ctrlPID  int
	ready    bool   // READY=1 was received
	stopping bool   // a stop was requested (no restart)
	status   string // STATUS= of the main process

	gen       int         // start generation, to ignore stale timers
	idleSince time.Time   // Type=idle: when the main process first waited for the job queue
	starts    []time.Time // recent starts, for the start limit
	nRestarts int
	restart   *time.Timer // RestartSec=, until the automatic restart
	stopTmr   *time.Timer // TimeoutStopSec=
	startTmr  *time.Timer // TimeoutStartSec=

	execMain   exitStatus  // the last main process (unitruntime.go)
	mainExited bool        // the main process of the current start ended: execMain says how
	fdStore    []*storedFD // FDSTORE=1 fds, passed after the socket fds at every start (fdstore_linux.go)
	ex         execState   // identity, credentials, cgroup, watchdog, Accept=yes connection (exec_env_linux.go)
}

// socketRuntime is the state of a socket unit: its listeners, and the
// connections of Accept=yes.
type socketRuntime struct {
	fds       []int
	watchOn   chan struct{} // closed to stop the listeners' watcher
	nConn     int           // Accept=yes: instances running
	nAccepted int           // Accept=yes: connections accepted, numbering the instances
}
