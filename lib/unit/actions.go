package unit

import (
	"fmt"
	"strconv"
)

// Actions are the [Unit] settings that say what else happens when a unit
// changes state, and who may start or stop it (systemd.unit(5)); the units
// OnFailure= and OnSuccess= name are dependencies (UnitSection, deps.go).
type Actions struct {
	OnFailure, OnSuccess                []string
	OnFailureJobMode, OnSuccessJobMode  string // replace (default), fail, …
	FailureAction, SuccessAction        string // none (default), exit, poweroff, reboot, …
	FailureActionExitStatus             int    // -1: unset
	SuccessActionExitStatus             int
	StopWhenUnneeded                    bool
	RefuseManualStart, RefuseManualStop bool
	AllowIsolate, IgnoreOnIsolate       bool
}

// jobModes are the job modes OnFailureJobMode= and OnSuccessJobMode= take.
var jobModes = []string{"fail", "replace", "replace-irreversibly", "isolate", "flush", "ignore-dependencies", "ignore-requirements"}

// EmergencyActions are the values of FailureAction= and SuccessAction=.
var EmergencyActions = []string{"none", "exit", "exit-force", "soft-reboot", "soft-reboot-force", "kexec", "kexec-force",
	"halt", "halt-force", "halt-immediate", "poweroff", "poweroff-force", "poweroff-immediate",
	"reboot", "reboot-force", "reboot-immediate"}

// parseActions reads the Actions of [Unit].
func (u *Unit) parseActions(report func(error)) {
	a := &u.Unit.Actions
	a.OnFailureJobMode = u.enum("Unit", "OnFailureJobMode", "replace", jobModes, report)
	a.OnSuccessJobMode = u.enum("Unit", "OnSuccessJobMode", "replace", jobModes, report)
	a.FailureAction = u.enum("Unit", "FailureAction", "none", EmergencyActions, report)
	a.SuccessAction = u.enum("Unit", "SuccessAction", "none", EmergencyActions, report)
	a.FailureActionExitStatus = u.exitStatus("FailureActionExitStatus", report)
	a.SuccessActionExitStatus = u.exitStatus("SuccessActionExitStatus", report)
	a.StopWhenUnneeded = u.boolean("Unit", "StopWhenUnneeded", false, report)
	a.RefuseManualStart = u.boolean("Unit", "RefuseManualStart", false, report)
	a.RefuseManualStop = u.boolean("Unit", "RefuseManualStop", false, report)
	a.AllowIsolate = u.boolean("Unit", "AllowIsolate", false, report)
	a.IgnoreOnIsolate = u.boolean("Unit", "IgnoreOnIsolate", false, report)
}

// exitStatus reads an exit status 0–255; unset or empty is -1.
func (u *Unit) exitStatus(key string, report func(error)) int {
	e, ok := u.File.Lookup("Unit", key)
	if !ok || e.Value == "" {
		return -1
	}
	n, err := strconv.Atoi(e.Value)
	if err != nil || n < 0 || n > 255 {
		report(e.Wrap(fmt.Errorf("invalid exit status %q (0–255)", e.Value)))
		return -1
	}
	return n
}

// parseServiceExtras reads the [Service] settings of the service types:
// ReloadSignal= (Type=notify-reload; default SIGHUP) and GuessMainPID=
// (Type=forking without PIDFile=).
func (u *Unit) parseServiceExtras(s *Service, report func(error)) {
	s.ReloadSignal = "SIGHUP"
	if e, ok := u.File.Lookup("Service", "ReloadSignal"); ok && e.Value != "" {
		if _, err := SignalNumber(e.Value); err != nil {
			report(e.Wrap(err))
		} else {
			s.ReloadSignal = e.Value
		}
	}
	s.GuessMainPID = u.boolean("Service", "GuessMainPID", true, report)
}
