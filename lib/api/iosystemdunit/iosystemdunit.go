// Package iosystemdunit holds the io.systemd.Unit interface with systemd 262's types. Its IDL
// uses capitalised field names (ID, ActiveState, …), which varlink-go-interface-generator
// refuses, so this package is written by hand like lib/api/iosystemdnetwork: it embeds the
// IDL, declares the parts of the reply types stead fills in (every field but the unit ID is
// optional in the IDL) and hands each call to a Units implementation, which replies through
// the call. SetProperties and StartTransient answer org.varlink.service.MethodNotImplemented.
package iosystemdunit

import (
	"context"
	_ "embed"

	"github.com/stead-os/stead/lib/api/iosystemdmanager"
	"github.com/varlink/go/varlink"
)

// Name is the interface name.
const Name = "io.systemd.Unit"

// Errors of the IDL that stead returns (all without parameters but NoSuchUnit).
const (
	// ErrorNoSuchUnit is returned when no unit matches List's filter.
	ErrorNoSuchUnit = Name + ".NoSuchUnit"
	// ErrorUnitMasked is returned when List asks for a masked unit by name.
	ErrorUnitMasked = Name + ".UnitMasked"
	// ErrorUnitError is returned when List asks by name for a unit whose file has a bad
	// setting (LoadState bad-setting).
	ErrorUnitError = Name + ".UnitError"
)

//go:embed io.systemd.Unit.varlink
var description string

// Timestamp is the IDL's Timestamp, the same as io.systemd.Manager's.
type Timestamp = iosystemdmanager.Timestamp

// ProcessId names a process; stead knows only the pid.
type ProcessId struct { //nolint:revive // the IDL's name
	PID int64 `json:"pid"`
}

// NoSuchUnit is the error's parameters.
type NoSuchUnit struct {
	Parameter *string `json:"parameter,omitempty"`
}

// UnitContext is the part of the IDL's UnitContext stead fills in.
type UnitContext struct {
	Type                 string         `json:"Type,omitempty"`
	ID                   string         `json:"ID"`
	Names                []string       `json:"Names,omitempty"`
	Description          string         `json:"Description,omitempty"`
	Documentation        []string       `json:"Documentation,omitempty"`
	Wants                []string       `json:"Wants,omitempty"`
	WantedBy             []string       `json:"WantedBy,omitempty"`
	Requires             []string       `json:"Requires,omitempty"`
	RequiredBy           []string       `json:"RequiredBy,omitempty"`
	Requisite            []string       `json:"Requisite,omitempty"`
	RequisiteOf          []string       `json:"RequisiteOf,omitempty"`
	BindsTo              []string       `json:"BindsTo,omitempty"`
	BoundBy              []string       `json:"BoundBy,omitempty"`
	PartOf               []string       `json:"PartOf,omitempty"`
	ConsistsOf           []string       `json:"ConsistsOf,omitempty"`
	Upholds              []string       `json:"Upholds,omitempty"`
	UpheldBy             []string       `json:"UpheldBy,omitempty"`
	Conflicts            []string       `json:"Conflicts,omitempty"`
	ConflictedBy         []string       `json:"ConflictedBy,omitempty"`
	Before               []string       `json:"Before,omitempty"`
	After                []string       `json:"After,omitempty"`
	OnFailure            []string       `json:"OnFailure,omitempty"`
	OnFailureOf          []string       `json:"OnFailureOf,omitempty"`
	OnSuccess            []string       `json:"OnSuccess,omitempty"`
	OnSuccessOf          []string       `json:"OnSuccessOf,omitempty"`
	PropagatesReloadTo   []string       `json:"PropagatesReloadTo,omitempty"`
	ReloadPropagatedFrom []string       `json:"ReloadPropagatedFrom,omitempty"`
	PropagatesStopTo     []string       `json:"PropagatesStopTo,omitempty"`
	StopPropagatedFrom   []string       `json:"StopPropagatedFrom,omitempty"`
	JoinsNamespaceOf     []string       `json:"JoinsNamespaceOf,omitempty"`
	RequiresMountsFor    []string       `json:"RequiresMountsFor,omitempty"`
	WantsMountsFor       []string       `json:"WantsMountsFor,omitempty"`
	Triggers             []string       `json:"Triggers,omitempty"`
	TriggeredBy          []string       `json:"TriggeredBy,omitempty"`
	DefaultDependencies  bool           `json:"DefaultDependencies"`
	FragmentPath         string         `json:"FragmentPath,omitempty"`
	DropInPaths          []string       `json:"DropInPaths,omitempty"`
	Transient            bool           `json:"Transient"`
	Perpetual            bool           `json:"Perpetual"`
	DebugInvocation      bool           `json:"DebugInvocation"`
	CGroup               *CGroupContext `json:"CGroup,omitempty"`
	Mount                *MountContext  `json:"Mount,omitempty"`
	Timer                *TimerContext  `json:"Timer,omitempty"`
}

// MountContext is the part of the IDL's MountContext stead fills in: the [Mount] section.
type MountContext struct {
	What          string `json:"What,omitempty"`
	Where         string `json:"Where,omitempty"`
	Type          string `json:"Type,omitempty"`
	Options       string `json:"Options,omitempty"`
	SloppyOptions bool   `json:"SloppyOptions"`
	LazyUnmount   bool   `json:"LazyUnmount"`
	ReadWriteOnly bool   `json:"ReadWriteOnly"`
	ForceUnmount  bool   `json:"ForceUnmount"`
	DirectoryMode int    `json:"DirectoryMode"`
	TimeoutUSec   int64  `json:"TimeoutUSec"`
}

// MountRuntime is the part of the IDL's MountRuntime stead fills in; Result holds a
// MountResult value (exit_code, …).
type MountRuntime struct {
	ControlPID   *ProcessId `json:"ControlPID,omitempty"`
	Result       string     `json:"Result"`
	ReloadResult string     `json:"ReloadResult"`
	CleanResult  string     `json:"CleanResult"`
}

// TimerSpec is one timer value: Base is a TimerBase name (OnActiveUSec, …, OnCalendar);
// USec the span of the monotonic ones, Calendar the normalized calendar expression.
type TimerSpec struct {
	Base     string `json:"base"`
	USec     *int64 `json:"usec,omitempty"`
	Calendar string `json:"calendar,omitempty"`
}

// TimerContext is a timer unit's [Timer] settings.
type TimerContext struct {
	Timers               []TimerSpec `json:"Timers,omitempty"`
	Unit                 string      `json:"Unit,omitempty"`
	OnClockChange        bool        `json:"OnClockChange"`
	OnTimezoneChange     bool        `json:"OnTimezoneChange"`
	AccuracyUSec         int64       `json:"AccuracyUSec"`
	RandomizedDelayUSec  int64       `json:"RandomizedDelayUSec"`
	RandomizedOffsetUSec int64       `json:"RandomizedOffsetUSec"`
	FixedRandomDelay     bool        `json:"FixedRandomDelay"`
	Persistent           bool        `json:"Persistent"`
	WakeSystem           bool        `json:"WakeSystem"`
	RemainAfterElapse    bool        `json:"RemainAfterElapse"`
	DeferReactivation    bool        `json:"DeferReactivation"`
}

// TimerRuntime is a timer unit's state: Result a TimerResult (success, resources,
// start_limit_hit); the next elapse on each clock (µs, absent when none) and the last
// trigger.
type TimerRuntime struct {
	Result                  string     `json:"Result"`
	NextElapseUSecRealtime  *int64     `json:"NextElapseUSecRealtime,omitempty"`
	NextElapseUSecMonotonic *int64     `json:"NextElapseUSecMonotonic,omitempty"`
	LastTriggerUSec         *Timestamp `json:"LastTriggerUSec,omitempty"`
}

// CGroupContext is the part of the IDL's CGroupContext stead fills in: the fields the IDL
// makes mandatory and the systemd-oomd settings. Enum fields hold the IDL's value names.
type CGroupContext struct {
	Slice                                string   `json:"Slice,omitempty"`
	MemoryAccounting                     bool     `json:"MemoryAccounting"`
	MemoryZSwapWriteback                 bool     `json:"MemoryZSwapWriteback"`
	TasksAccounting                      bool     `json:"TasksAccounting"`
	IOAccounting                         bool     `json:"IOAccounting"`
	IPAccounting                         bool     `json:"IPAccounting"`
	DevicePolicy                         string   `json:"DevicePolicy"`
	Delegate                             bool     `json:"Delegate"`
	ManagedOOMSwap                       string   `json:"ManagedOOMSwap"`
	ManagedOOMMemoryPressure             string   `json:"ManagedOOMMemoryPressure"`
	ManagedOOMMemoryPressureLimit        *int64   `json:"ManagedOOMMemoryPressureLimit,omitempty"`
	ManagedOOMMemoryPressureDurationUSec *int64   `json:"ManagedOOMMemoryPressureDurationUSec,omitempty"`
	ManagedOOMPreference                 string   `json:"ManagedOOMPreference"`
	OOMRules                             []string `json:"OOMRules,omitempty"`
	MemoryPressureWatch                  string   `json:"MemoryPressureWatch"`
	CPUPressureWatch                     string   `json:"CPUPressureWatch"`
	IOPressureWatch                      string   `json:"IOPressureWatch"`
	CoredumpReceive                      bool     `json:"CoredumpReceive"`
}

// UnitRuntime is the part of the IDL's UnitRuntime stead fills in.
type UnitRuntime struct {
	LoadState              string          `json:"LoadState,omitempty"`
	ActiveState            string          `json:"ActiveState,omitempty"`
	SubState               string          `json:"SubState,omitempty"`
	StateChangeTimestamp   *Timestamp      `json:"StateChangeTimestamp,omitempty"`
	ActiveEnterTimestamp   *Timestamp      `json:"ActiveEnterTimestamp,omitempty"`
	ActiveExitTimestamp    *Timestamp      `json:"ActiveExitTimestamp,omitempty"`
	InactiveEnterTimestamp *Timestamp      `json:"InactiveEnterTimestamp,omitempty"`
	InactiveExitTimestamp  *Timestamp      `json:"InactiveExitTimestamp,omitempty"`
	CanStart               bool            `json:"CanStart"`
	CanStop                bool            `json:"CanStop"`
	CanReload              bool            `json:"CanReload"`
	JobId                  *int            `json:"JobId,omitempty"` //nolint:revive // the IDL's name
	ConditionResult        bool            `json:"ConditionResult"`
	AssertResult           bool            `json:"AssertResult"`
	ConditionTimestamp     *Timestamp      `json:"ConditionTimestamp,omitempty"`
	AssertTimestamp        *Timestamp      `json:"AssertTimestamp,omitempty"`
	InvocationID           string          `json:"InvocationID,omitempty"`
	CGroup                 *CGroupRuntime  `json:"CGroup,omitempty"`
	Service                *ServiceRuntime `json:"Service,omitempty"`
	Mount                  *MountRuntime   `json:"Mount,omitempty"`
	Timer                  *TimerRuntime   `json:"Timer,omitempty"`
}

// CGroupRuntime is the part of the IDL's CGroupRuntime stead fills in.
type CGroupRuntime struct {
	Path string `json:"Path,omitempty"`
}

// ServiceRuntime is the part of the IDL's ServiceRuntime stead fills in. The Result fields
// hold ServiceResult values, which spell systemd's results with underscores (exit_code,
// start_limit_hit, …).
type ServiceRuntime struct {
	MainPID         *ProcessId `json:"MainPID,omitempty"`
	ControlPID      *ProcessId `json:"ControlPID,omitempty"`
	StatusText      string     `json:"StatusText,omitempty"`
	Result          string     `json:"Result"`
	ReloadResult    string     `json:"ReloadResult"`
	CleanResult     string     `json:"CleanResult"`
	LiveMountResult string     `json:"LiveMountResult"`
	NRestarts       int        `json:"NRestarts"`
	// NFileDescriptorStore counts the fds in the service's fd store.
	NFileDescriptorStore int                `json:"NFileDescriptorStore"`
	ExecMain             *ExecCommandStatus `json:"ExecMain,omitempty"`
}

// ExecCommandStatus is how a process ran: Code is the waitid() CLD_* code (1 exited, 2
// killed, 3 dumped), absent while it runs; Status the exit status or signal.
type ExecCommandStatus struct {
	PID            ProcessId  `json:"PID"`
	StartTimestamp *Timestamp `json:"StartTimestamp,omitempty"`
	ExitTimestamp  *Timestamp `json:"ExitTimestamp,omitempty"`
	Code           *int       `json:"Code,omitempty"`
	Status         *int       `json:"Status,omitempty"`
}

// Units is what a service manager implements. List replies through c itself; parameters
// have been checked against the IDL before.
type Units interface {
	List(ctx context.Context, c *varlink.Call, name *string, pid *ProcessId, cgroup, invocationID *string) error
}

// Dispatcher serves io.systemd.Unit for a Units.
type Dispatcher struct{ U Units }

// VarlinkNew returns the dispatcher.
func VarlinkNew(u Units) Dispatcher { return Dispatcher{u} }

// VarlinkDispatch decodes the parameters of method and calls the implementation.
func (d Dispatcher) VarlinkDispatch(ctx context.Context, call varlink.Call, method string) error {
	c := &call
	switch method {
	case "List":
		var in struct {
			Name         *string    `json:"name,omitempty"`
			PID          *ProcessId `json:"pid,omitempty"`
			CGroup       *string    `json:"cgroup,omitempty"`
			InvocationID *string    `json:"invocationID,omitempty"`
		}
		if err := c.GetParameters(&in); err != nil {
			return c.ReplyInvalidParameter(ctx, "parameters")
		}
		return d.U.List(ctx, c, in.Name, in.PID, in.CGroup, in.InvocationID)
	case "SetProperties", "StartTransient":
		return c.ReplyMethodNotImplemented(ctx, Name+"."+method)
	}
	return c.ReplyMethodNotFound(ctx, Name+"."+method)
}

// VarlinkGetName returns the interface name.
func (Dispatcher) VarlinkGetName() string { return Name }

// VarlinkGetDescription returns the IDL text.
func (Dispatcher) VarlinkGetDescription() string { return description }
