package pid1

// What else happens when a unit changes state (OnFailure=, OnSuccess=,
// FailureAction=, SuccessAction=, StopWhenUnneeded=), and who may start or
// stop it (RefuseManualStart=, RefuseManualStop=, isolation with
// AllowIsolate=/IgnoreOnIsolate=), as systemd.unit(5) describes them.

import (
	"fmt"
	"strings"

	"github.com/stead-os/stead/lib/unit"
)

// ModeIsolate starts a unit and stops every unit it does not pull in.
const ModeIsolate = "isolate"

// refusedError: the unit refuses a manual job of that type.
type refusedError struct{ name, typ, reason string }

func (e refusedError) Error() string { return e.reason }

// checkManual refuses a job a client asked for when the unit only allows
// it as a dependency. m.mu held.
func checkManual(us *unitState, typ, mode string) error {
	a := us.u.Unit.Actions
	switch {
	case (typ == JobStart || typ == JobRestart) && a.RefuseManualStart:
		return refusedError{us.u.Name, typ, "operation refused, unit " + us.u.Name + " may be started by dependency only (RefuseManualStart=yes)"}
	case (typ == JobStop || typ == JobRestart) && a.RefuseManualStop:
		return refusedError{us.u.Name, typ, "operation refused, unit " + us.u.Name + " may be stopped by dependency only (RefuseManualStop=yes)"}
	case mode == ModeIsolate && typ != JobStart:
		return notSupportedError{us.u.Name, typ, "isolate works with start jobs only"}
	case mode == ModeIsolate && !a.AllowIsolate:
		return refusedError{us.u.Name, typ, "operation refused, unit " + us.u.Name + " may not be isolated (AllowIsolate=no)"}
	}
	return nil
}

// isolateTo queues stop jobs for every running unit the start of us does
// not pull in, except those with IgnoreOnIsolate=yes. m.mu held.
func (m *Manager) isolateTo(us *unitState) {
	keep := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		if keep[name] {
			return
		}
		keep[name] = true
		d, ok := m.units[name]
		if !ok {
			return
		}
		u := d.u.Unit
		for _, l := range [][]string{u.Wants, u.Requires, u.Requisite, u.BindsTo} {
			for _, n := range l {
				walk(n)
			}
		}
		iw, _ := m.implicit(d)
		for _, n := range iw {
			walk(n)
		}
	}
	walk(us.u.Name)
	for name, o := range m.units {
		if keep[name] || o.u.Unit.IgnoreOnIsolate || (o.active == StateInactive || o.active == StateFailed) && o.job == nil {
			continue
		}
		if o.u.Mount != nil && o.u.Mount.Where == "/" {
			continue // the root file system stays
		}
		_, _ = m.addJob(o, JobStop, nil, map[string]bool{})
	}
}

// afterStateChange runs the consequences of us going from old to active:
// OnFailure=/FailureAction= when it failed, OnSuccess=/SuccessAction= when
// it went inactive cleanly, and stops unneeded units. m.mu held.
func (m *Manager) afterStateChange(us *unitState, old, active string) {
	a := us.u.Unit.Actions
	switch {
	case active == StateFailed && old != StateFailed:
		m.triggerUnits(us, "OnFailure", us.u.Unit.OnFailure, a.OnFailureJobMode)
		m.emergencyAction(us, "FailureAction", a.FailureAction)
	case active == StateInactive && old != StateInactive && old != StateFailed && us.result == resultSuccess:
		m.triggerUnits(us, "OnSuccess", us.u.Unit.OnSuccess, a.OnSuccessJobMode)
		m.emergencyAction(us, "SuccessAction", a.SuccessAction)
	}
	if (active == StateInactive || active == StateFailed) && old != active {
		m.stopUnneeded()
	}
}

// triggerUnits queues start jobs for the units of an OnFailure= or
// OnSuccess= list. With job mode fail, a unit that has another job queued is
// left alone. m.mu held.
func (m *Manager) triggerUnits(us *unitState, key string, names []string, mode string) {
	for _, n := range names {
		t, err := m.get(n)
		if err != nil || t.u.LoadState != unit.Loaded {
			m.log.Warn("cannot start "+key+"= unit", "unit", us.u.Name, "target", n, "err", errOr(err, "unit is "+stateOf(t)))
			continue
		}
		if j := m.jobs[n]; j != nil && j.typ != JobStart && mode == ModeFail {
			m.log.Warn("not starting "+key+"= unit: it has another job", "unit", us.u.Name, "target", n)
			continue
		}
		m.log.Info("starting "+key+"= unit", "unit", us.u.Name, "target", n)
		_, _ = m.addJob(t, JobStart, nil, map[string]bool{})
	}
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

func stateOf(us *unitState) string {
	if us == nil {
		return "not loaded"
	}
	return us.u.LoadState
}

// emergencyAction carries out FailureAction= or SuccessAction=. The
// -force and -immediate variants are carried out as the orderly ones (all
// units are stopped first), and exit as poweroff when init is PID 1 (there
// is no container to return to). m.mu held.
func (m *Manager) emergencyAction(us *unitState, key, action string) {
	if action == "" || action == "none" {
		return
	}
	base := strings.TrimSuffix(strings.TrimSuffix(action, "-force"), "-immediate")
	var shutdown string
	switch base {
	case "exit", "poweroff":
		shutdown = ActionPoweroff
	case "reboot", "soft-reboot", "kexec":
		shutdown = ActionReboot
	case "halt":
		shutdown = ActionHalt
	}
	if shutdown == "" || m.cfg.Shutdown == nil {
		m.log.Error(fmt.Sprintf("%s=%s cannot be carried out here", key, action), "unit", us.u.Name)
		return
	}
	m.log.Warn(fmt.Sprintf("%s=%s: shutting down (%s)", key, action, shutdown), "unit", us.u.Name)
	go m.cfg.Shutdown(shutdown) // not under m.mu: it stops the manager
}

// stopUnneeded stops the active units with StopWhenUnneeded=yes that no
// running or starting unit wants, requires or binds to any more. m.mu held.
func (m *Manager) stopUnneeded() {
	var cands []*unitState
	for _, us := range m.units {
		if us.u.Unit.StopWhenUnneeded && us.active == StateActive && us.job == nil {
			cands = append(cands, us)
		}
	}
	if len(cands) == 0 {
		return
	}
	needed := map[string]bool{}
	for _, o := range m.units {
		if o.active == StateInactive || o.active == StateFailed {
			if o.job == nil || o.job.typ == JobStop {
				continue
			}
		}
		u := o.u.Unit
		for _, l := range [][]string{u.Wants, u.Requires, u.Requisite, u.BindsTo} {
			for _, n := range l {
				needed[n] = true
			}
		}
	}
	for _, us := range cands {
		if !needed[us.u.Name] {
			m.log.Info("stopping unneeded unit", "unit", us.u.Name)
			_, _ = m.addJob(us, JobStop, nil, map[string]bool{})
		}
	}
}
