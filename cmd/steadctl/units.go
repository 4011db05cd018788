package main

import (
	"encoding/json"
	"strings"
	"time"
)

// Unit is one reply of io.systemd.Unit.List: upstream's UnitContext and
// UnitRuntime, reduced to the fields steadctl shows. Field names are
// upstream's, so the same decoding works against stead's init and against
// systemd 262.
type Unit struct {
	Context UnitContext `json:"context"`
	Runtime UnitRuntime `json:"runtime"`
}

// UnitContext is a unit's configuration.
type UnitContext struct {
	Type                string         `json:"Type"`
	ID                  string         `json:"ID"`
	Names               []string       `json:"Names"`
	Description         string         `json:"Description"`
	Requires            []string       `json:"Requires"`
	Requisite           []string       `json:"Requisite"`
	Wants               []string       `json:"Wants"`
	BindsTo             []string       `json:"BindsTo"`
	PartOf              []string       `json:"PartOf"`
	Conflicts           []string       `json:"Conflicts"`
	Before              []string       `json:"Before"`
	After               []string       `json:"After"`
	DefaultDependencies bool           `json:"DefaultDependencies"`
	FragmentPath        string         `json:"FragmentPath"`
	DropInPaths         []string       `json:"DropInPaths"`
	Transient           bool           `json:"Transient"`
	CGroup              *CGroupContext `json:"CGroup"`
}

// CGroupContext is a unit's resource-control settings; steadctl shows the
// slice and the systemd-oomd ones.
type CGroupContext struct {
	Slice                                string   `json:"Slice"`
	ManagedOOMSwap                       string   `json:"ManagedOOMSwap"`
	ManagedOOMMemoryPressure             string   `json:"ManagedOOMMemoryPressure"`
	ManagedOOMMemoryPressureLimit        *uint64  `json:"ManagedOOMMemoryPressureLimit"`
	ManagedOOMMemoryPressureDurationUSec *uint64  `json:"ManagedOOMMemoryPressureDurationUSec"`
	ManagedOOMPreference                 string   `json:"ManagedOOMPreference"`
	OOMRules                             []string `json:"OOMRules"`
}

// UnitRuntime is a unit's state.
type UnitRuntime struct {
	LoadState              string          `json:"LoadState"`
	ActiveState            string          `json:"ActiveState"`
	SubState               string          `json:"SubState"`
	StateChangeTimestamp   *Timestamp      `json:"StateChangeTimestamp"`
	ActiveEnterTimestamp   *Timestamp      `json:"ActiveEnterTimestamp"`
	ActiveExitTimestamp    *Timestamp      `json:"ActiveExitTimestamp"`
	InactiveEnterTimestamp *Timestamp      `json:"InactiveEnterTimestamp"`
	InactiveExitTimestamp  *Timestamp      `json:"InactiveExitTimestamp"`
	CanStart               *bool           `json:"CanStart"`
	CanStop                *bool           `json:"CanStop"`
	CanReload              *bool           `json:"CanReload"`
	JobID                  *int64          `json:"JobId"`
	ConditionResult        *bool           `json:"ConditionResult"`
	AssertResult           *bool           `json:"AssertResult"`
	ConditionTimestamp     *Timestamp      `json:"ConditionTimestamp"`
	AssertTimestamp        *Timestamp      `json:"AssertTimestamp"`
	InvocationID           string          `json:"InvocationID"`
	CGroup                 *CGroupRuntime  `json:"CGroup"`
	Service                *ServiceRuntime `json:"Service"`
}

// CGroupRuntime is a unit's control group.
type CGroupRuntime struct {
	Path string `json:"Path"`
}

// ServiceRuntime is a service's process state. Results are ServiceResult
// values, spelled with underscores (exit_code).
type ServiceRuntime struct {
	MainPID    PID             `json:"MainPID"`
	ControlPID PID             `json:"ControlPID"`
	StatusText string          `json:"StatusText"`
	Result     string          `json:"Result"`
	NRestarts  int64           `json:"NRestarts"`
	ExecMain   *ExecMainStatus `json:"ExecMain"`
}

// ExecMainStatus is how the last main process ran and ended (upstream's
// ExecCommandStatus): Code is waitid()'s CLD_* code, 0 while it runs.
type ExecMainStatus struct {
	PID            PID        `json:"PID"`
	Code           int        `json:"Code"`
	Status         int        `json:"Status"`
	StartTimestamp *Timestamp `json:"StartTimestamp"`
	ExitTimestamp  *Timestamp `json:"ExitTimestamp"`
}

// result is the service's result as systemctl prints it (exit-code).
func (s *ServiceRuntime) result() string {
	if s.Result == "" {
		return "success"
	}
	return strings.ReplaceAll(s.Result, "_", "-")
}

// codeName is the CLD_* code's name: exited, killed, dumped.
func (e *ExecMainStatus) codeName() string {
	switch e.Code {
	case 1:
		return "exited"
	case 2:
		return "killed"
	case 3:
		return "dumped"
	}
	return ""
}

// PID is a process ID sent as a plain number or as an object with a "pid"
// field, as upstream's ProcessId type is.
type PID int64

// UnmarshalJSON accepts both forms.
func (p *PID) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		*p = PID(n)
		return nil
	}
	var o struct {
		PID int64 `json:"pid"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*p = PID(o.PID)
	return nil
}

// Timestamp is upstream's Timestamp: µs on the wall and monotonic clocks.
type Timestamp struct {
	Realtime  int64 `json:"realtime"`
	Monotonic int64 `json:"monotonic"`
}

// Time is the wall-clock time, zero for a nil timestamp.
func (t *Timestamp) Time() time.Time {
	if t == nil || t.Realtime == 0 {
		return time.Time{}
	}
	return time.UnixMicro(t.Realtime)
}

// description is what lists show: the Description=, or the name.
func (u *Unit) description() string {
	if u.Context.Description != "" {
		return u.Context.Description
	}
	return u.Context.ID
}
