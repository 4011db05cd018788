// Package iosystemdmanager holds the io.systemd.Manager interface with systemd 262's types.
// Its IDL uses capitalised field names (ShowStatus, ReloadCount, …), which
// varlink-go-interface-generator refuses, so this package is written by hand like
// lib/api/iosystemdnetwork: it embeds the IDL, declares the reply types and hands each call
// to a Manager implementation, which replies through the call. Methods a Manager does not
// implement answer org.varlink.service.MethodNotImplemented.
package iosystemdmanager

import (
	"context"
	_ "embed"

	"github.com/varlink/go/varlink"
)

// Name is the interface name.
const Name = "io.systemd.Manager"

// ErrorRateLimitReached is the interface's one error.
const ErrorRateLimitReached = Name + ".RateLimitReached"

//go:embed io.systemd.Manager.varlink
var description string

// Timestamp is a point in time in µs on the wall clock and on CLOCK_MONOTONIC.
type Timestamp struct {
	Realtime  int64 `json:"realtime"`
	Monotonic int64 `json:"monotonic,omitempty"`
}

// LogLevelStruct is the log level per target ("info", "debug", …).
type LogLevelStruct struct {
	Console string `json:"console"`
	Kmsg    string `json:"kmsg"`
	Syslog  string `json:"syslog"`
	Journal string `json:"journal"`
}

// ResourceLimit is one limit; nil means infinity.
type ResourceLimit struct {
	Soft *uint64 `json:"soft,omitempty"`
	Hard *uint64 `json:"hard,omitempty"`
}

// ResourceLimitTable holds the default limits by RLIMIT_ name; nil entries are unset.
type ResourceLimitTable struct {
	CPU        *ResourceLimit `json:"CPU,omitempty"`
	FSIZE      *ResourceLimit `json:"FSIZE,omitempty"`
	DATA       *ResourceLimit `json:"DATA,omitempty"`
	STACK      *ResourceLimit `json:"STACK,omitempty"`
	CORE       *ResourceLimit `json:"CORE,omitempty"`
	RSS        *ResourceLimit `json:"RSS,omitempty"`
	NOFILE     *ResourceLimit `json:"NOFILE,omitempty"`
	AS         *ResourceLimit `json:"AS,omitempty"`
	NPROC      *ResourceLimit `json:"NPROC,omitempty"`
	MEMLOCK    *ResourceLimit `json:"MEMLOCK,omitempty"`
	LOCKS      *ResourceLimit `json:"LOCKS,omitempty"`
	SIGPENDING *ResourceLimit `json:"SIGPENDING,omitempty"`
	MSGQUEUE   *ResourceLimit `json:"MSGQUEUE,omitempty"`
	NICE       *ResourceLimit `json:"NICE,omitempty"`
	RTPRIO     *ResourceLimit `json:"RTPRIO,omitempty"`
	RTTIME     *ResourceLimit `json:"RTTIME,omitempty"`
}

// RateLimit allows Burst events per IntervalUSec.
type RateLimit struct {
	IntervalUSec *int64 `json:"intervalUSec,omitempty"`
	Burst        *int64 `json:"burst,omitempty"`
}

// ManagerContext is Describe's context: settings fixed once the configuration is loaded.
// Enum-typed fields hold the IDL's value names (LogTarget "console", …).
type ManagerContext struct {
	ShowStatus                         bool               `json:"ShowStatus"`
	LogLevel                           LogLevelStruct     `json:"LogLevel"`
	LogTarget                          string             `json:"LogTarget"`
	Environment                        []string           `json:"Environment,omitempty"`
	DefaultStandardOutput              string             `json:"DefaultStandardOutput"`
	DefaultStandardError               string             `json:"DefaultStandardError"`
	ServiceWatchdogs                   bool               `json:"ServiceWatchdogs"`
	DefaultTimerAccuracyUSec           int64              `json:"DefaultTimerAccuracyUSec"`
	DefaultTimeoutStartUSec            int64              `json:"DefaultTimeoutStartUSec"`
	DefaultTimeoutStopUSec             int64              `json:"DefaultTimeoutStopUSec"`
	DefaultTimeoutAbortUSec            int64              `json:"DefaultTimeoutAbortUSec"`
	DefaultDeviceTimeoutUSec           int64              `json:"DefaultDeviceTimeoutUSec"`
	DefaultRestartUSec                 int64              `json:"DefaultRestartUSec"`
	DefaultStartLimit                  *RateLimit         `json:"DefaultStartLimit,omitempty"`
	DefaultIOAccounting                bool               `json:"DefaultIOAccounting"`
	DefaultIPAccounting                bool               `json:"DefaultIPAccounting"`
	DefaultMemoryAccounting            bool               `json:"DefaultMemoryAccounting"`
	DefaultTasksAccounting             bool               `json:"DefaultTasksAccounting"`
	DefaultLimits                      ResourceLimitTable `json:"DefaultLimits"`
	DefaultTasksMax                    uint64             `json:"DefaultTasksMax"`
	DefaultMemoryPressureThresholdUSec int64              `json:"DefaultMemoryPressureThresholdUSec"`
	DefaultMemoryPressureWatch         string             `json:"DefaultMemoryPressureWatch"`
	DefaultCPUPressureThresholdUSec    int64              `json:"DefaultCPUPressureThresholdUSec"`
	DefaultCPUPressureWatch            string             `json:"DefaultCPUPressureWatch"`
	DefaultIOPressureThresholdUSec     int64              `json:"DefaultIOPressureThresholdUSec"`
	DefaultIOPressureWatch             string             `json:"DefaultIOPressureWatch"`
	RuntimeWatchdogUSec                *int64             `json:"RuntimeWatchdogUSec,omitempty"`
	RebootWatchdogUSec                 *int64             `json:"RebootWatchdogUSec,omitempty"`
	KExecWatchdogUSec                  *int64             `json:"KExecWatchdogUSec,omitempty"`
	RuntimeWatchdogPreUSec             *int64             `json:"RuntimeWatchdogPreUSec,omitempty"`
	RuntimeWatchdogPreGovernor         *string            `json:"RuntimeWatchdogPreGovernor,omitempty"`
	WatchdogDevice                     *string            `json:"WatchdogDevice,omitempty"`
	TimerSlackNSec                     int64              `json:"TimerSlackNSec"`
	DefaultOOMPolicy                   string             `json:"DefaultOOMPolicy"`
	DefaultOOMScoreAdjust              int64              `json:"DefaultOOMScoreAdjust"`
	DefaultRestrictSUIDSGID            bool               `json:"DefaultRestrictSUIDSGID"`
	CtrlAltDelBurstAction              string             `json:"CtrlAltDelBurstAction"`
	ConfirmSpawn                       *string            `json:"ConfirmSpawn,omitempty"`
	ControlGroup                       *string            `json:"ControlGroup,omitempty"`
	DefaultMemoryZSwapWriteback        bool               `json:"DefaultMemoryZSwapWriteback"`
}

// ManagerRuntime is Describe's runtime: state that changes while the manager runs. Boot
// milestones stead does not record are left out (null).
type ManagerRuntime struct {
	Version                    string     `json:"Version"`
	Architecture               string     `json:"Architecture"`
	Features                   string     `json:"Features"`
	Taints                     []string   `json:"Taints,omitempty"`
	UnitPath                   []string   `json:"UnitPath"`
	Virtualization             string     `json:"Virtualization"`
	ConfidentialVirtualization string     `json:"ConfidentialVirtualization"`
	UserspaceTimestamp         *Timestamp `json:"UserspaceTimestamp,omitempty"`
	FinishTimestamp            *Timestamp `json:"FinishTimestamp,omitempty"`
	NNames                     int        `json:"NNames"`
	NFailedUnits               int        `json:"NFailedUnits"`
	NJobs                      int        `json:"NJobs"`
	NInstalledJobs             int        `json:"NInstalledJobs"`
	NFailedJobs                int        `json:"NFailedJobs"`
	Progress                   float64    `json:"Progress"`
	SystemState                string     `json:"SystemState"`
	ExitCode                   int        `json:"ExitCode"`
	SoftRebootsCount           int        `json:"SoftRebootsCount"`
	KExecCount                 int        `json:"KExecCount"`
	KExecsCount                *int       `json:"KExecsCount,omitempty"`
	ReloadCount                int        `json:"ReloadCount"`
}

// Manager is what a service manager implements. Each method replies through c itself.
type Manager interface {
	Describe(ctx context.Context, c *varlink.Call) error
	Reload(ctx context.Context, c *varlink.Call) error
	PowerOff(ctx context.Context, c *varlink.Call) error
	Reboot(ctx context.Context, c *varlink.Call) error
	Halt(ctx context.Context, c *varlink.Call) error
}

// Transitions is what a Manager that can re-execute itself, soft-reboot and kexec
// implements besides; without it those methods answer MethodNotImplemented.
type Transitions interface {
	Reexecute(ctx context.Context, c *varlink.Call) error
	SoftReboot(ctx context.Context, c *varlink.Call) error
	KExec(ctx context.Context, c *varlink.Call) error
}

// Dispatcher serves io.systemd.Manager for a Manager.
type Dispatcher struct{ M Manager }

// VarlinkNew returns the dispatcher.
func VarlinkNew(m Manager) Dispatcher { return Dispatcher{m} }

// VarlinkDispatch calls the implementation of method.
func (d Dispatcher) VarlinkDispatch(ctx context.Context, call varlink.Call, method string) error {
	c := &call
	switch method {
	case "Describe":
		return d.M.Describe(ctx, c)
	case "Reload":
		return d.M.Reload(ctx, c)
	case "PowerOff":
		return d.M.PowerOff(ctx, c)
	case "Reboot":
		return d.M.Reboot(ctx, c)
	case "Halt":
		return d.M.Halt(ctx, c)
	case "Reexecute", "KExec", "SoftReboot":
		t, ok := d.M.(Transitions)
		switch {
		case !ok:
		case method == "Reexecute":
			return t.Reexecute(ctx, c)
		case method == "KExec":
			return t.KExec(ctx, c)
		default:
			return t.SoftReboot(ctx, c)
		}
		return c.ReplyMethodNotImplemented(ctx, Name+"."+method)
	case "EnqueueMarkedJobs":
		return c.ReplyMethodNotImplemented(ctx, Name+"."+method)
	}
	return c.ReplyMethodNotFound(ctx, Name+"."+method)
}

// VarlinkGetName returns the interface name.
func (Dispatcher) VarlinkGetName() string { return Name }

// VarlinkGetDescription returns the IDL text.
func (Dispatcher) VarlinkGetDescription() string { return description }
