package pid1

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"golang.org/x/sys/unix"
)

// stamp is a point in time on both clocks systemd reports: the wall clock
// and CLOCK_MONOTONIC, each in µs.
type stamp struct{ real, mono int64 }

func now() stamp {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return stamp{real: time.Now().UnixMicro(), mono: ts.Nano() / 1000}
}

// timestamp converts s for the wire; the zero stamp (never happened) is nil.
func (s stamp) timestamp() *Timestamp {
	if s.real == 0 {
		return nil
	}
	return &Timestamp{Realtime: s.real, Monotonic: s.mono}
}

// cldCode is how a process ended, as waitid()'s CLD_* codes are named.
type cldCode string

const (
	cldExited cldCode = "exited"
	cldKilled cldCode = "killed"
	cldDumped cldCode = "dumped"
)

// exitStatus is how a main process ended, as systemd's ExecMain* properties
// report it: code is exited, killed or dumped, status the exit status or
// the signal number.
type exitStatus struct {
	pid          int
	code         cldCode
	status       int
	start, leave stamp
}

// unitRuntime is what a unit's state changes leave behind for status and
// show: the transition timestamps, the invocation ID and the outcome of the
// last Condition*=/Assert*= check (false until the first check, as upstream
// reports them). A service's last main process is in its serviceRuntime.
type unitRuntime struct {
	stateChange   stamp
	activeEnter   stamp
	activeExit    stamp
	inactiveEnter stamp
	inactiveExit  stamp
	invocationID  string

	conditionResult, assertResult bool
	conditionAt, assertAt         stamp
}

// trackState records a transition from old to active. m.mu held.
func (m *Manager) trackState(us *unitState, old, active string) {
	if old == active {
		return
	}
	t := now()
	rt := &us.rt
	rt.stateChange = t
	wasActive := old == StateActive || old == StateReloading
	isActive := active == StateActive || active == StateReloading
	wasInactive := old == StateInactive || old == StateFailed
	isInactive := active == StateInactive || active == StateFailed
	switch {
	case isActive && !wasActive:
		rt.activeEnter = t
	case wasActive && !isActive:
		rt.activeExit = t
	}
	switch {
	case isInactive && !wasInactive:
		rt.inactiveEnter = t
	case wasInactive && !isInactive:
		rt.inactiveExit = t
		// Each activation is one invocation, as upstream counts them.
		rt.invocationID = newInvocationID()
	}
	m.notifyManagedOOM(us, old, active)
}

// trackMainStart records the start of a main process. m.mu held.
func (m *Manager) trackMainStart(us *unitState, pid int) {
	us.svc.execMain = exitStatus{pid: pid, start: now()}
}

// trackMainExit records how the main process pid ended. m.mu held.
func (m *Manager) trackMainExit(us *unitState, pid int, ws unix.WaitStatus) {
	e := &us.svc.execMain
	if e.pid != pid {
		*e = exitStatus{pid: pid}
	}
	e.leave = now()
	switch {
	case ws.Signaled() && ws.CoreDump():
		e.code, e.status = cldDumped, int(ws.Signal())
	case ws.Signaled():
		e.code, e.status = cldKilled, int(ws.Signal())
	default:
		e.code, e.status = cldExited, ws.ExitStatus()
	}
}

// newInvocationID returns 128 random bits in hex, as sd_id128 prints them.
func newInvocationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // a v4 UUID, as systemd generates
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}
