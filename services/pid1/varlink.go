package pid1

import (
	"context"
	"encoding/json"
	"runtime"

	"github.com/stead-os/stead/lib/api/iosystemdmanager"
	"github.com/stead-os/stead/lib/api/iosystemdunit"
	"github.com/stead-os/stead/lib/varlinkd"
)

// SocketPath is where io.systemd.Manager is served, under the root.
const SocketPath = "/run/systemd/io.systemd.Manager"

type varlinkManager struct{ m *Manager }

func (m *Manager) serveVarlink(ctx context.Context) error {
	srv, err := varlinkd.New(varlinkd.Info{Vendor: "stead", Product: "init", Version: m.cfg.Version,
		URL: "https://github.com/stead-os/stead"}, varlinkd.Hooks{Reload: func(context.Context) error { return m.ReloadUnits() }})
	if err != nil {
		return err
	}
	if err := srv.Register(iosystemdmanager.VarlinkNew(varlinkManager{m})); err != nil {
		return err
	}
	if err := srv.Register(iosystemdunit.VarlinkNew(varlinkUnit{m})); err != nil {
		return err
	}
	err = srv.Run(ctx, varlinkd.Options{Root: m.cfg.Root, Socket: SocketPath, Mode: 0o666})
	if err != nil {
		m.log.Error("varlink server", "err", err)
	}
	return err
}

// ManagerContext is the part of upstream's ManagerContext stead fills in.
type ManagerContext struct {
	ShowStatus              bool     `json:"ShowStatus"`
	Environment             []string `json:"Environment,omitempty"`
	DefaultTimeoutStartUSec int64    `json:"DefaultTimeoutStartUSec"`
	DefaultTimeoutStopUSec  int64    `json:"DefaultTimeoutStopUSec"`
	DefaultRestartUSec      int64    `json:"DefaultRestartUSec"`
	ServiceWatchdogs        bool     `json:"ServiceWatchdogs"`
}

// Timestamp is upstream's Timestamp type.
type Timestamp struct {
	Realtime  int64 `json:"realtime"`
	Monotonic int64 `json:"monotonic,omitempty"`
}

// ManagerRuntime is the part of upstream's ManagerRuntime stead fills in.
type ManagerRuntime struct {
	Version                    string     `json:"Version"`
	Architecture               string     `json:"Architecture"`
	Features                   string     `json:"Features"`
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
	KExecsCount                int        `json:"KExecsCount"`
	ReloadCount                int        `json:"ReloadCount"`
}

var archNames = map[string]string{"amd64": "x86-64", "386": "x86", "arm64": "arm64", "arm": "arm", "riscv64": "riscv64", "ppc64le": "ppc64-le", "s390x": "s390x"}

// Describe returns the manager's context and runtime state.
func (m *Manager) Describe() (ManagerContext, ManagerRuntime) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := ManagerContext{DefaultTimeoutStartUSec: 90e6, DefaultTimeoutStopUSec: 90e6, DefaultRestartUSec: 100e3, ServiceWatchdogs: true}
	r := ManagerRuntime{Version: m.cfg.Version, Architecture: archNames[runtime.GOARCH], Features: "",
		UnitPath: m.cfg.Dirs, NNames: len(m.units), NJobs: len(m.jobs), NInstalledJobs: m.installedJobs,
		NFailedJobs: m.failedJobs, ReloadCount: m.reloadCount}
	if r.Version == "" {
		r.Version = "stead"
	}
	for _, us := range m.units {
		if us.active == StateFailed {
			r.NFailedUnits++
		}
	}
	if !m.started.IsZero() {
		r.UserspaceTimestamp = &Timestamp{Realtime: m.started.UnixMicro()}
	}
	switch {
	case m.closed:
		r.SystemState = "stopping"
	case m.finished.IsZero():
		r.SystemState = "starting"
	case r.NFailedUnits > 0:
		r.SystemState = "degraded"
		r.Progress = 1
	default:
		r.SystemState = "running"
		r.Progress = 1
	}
	if !m.finished.IsZero() {
		r.FinishTimestamp = &Timestamp{Realtime: m.finished.UnixMicro()}
	}
	return c, r
}

func (v varlinkManager) Describe(ctx context.Context, c iosystemdmanager.VarlinkCall) error {
	mc, mr := v.m.Describe()
	cj, err := json.Marshal(mc)
	if err != nil {
		return err
	}
	rj, err := json.Marshal(mr)
	if err != nil {
		return err
	}
	return c.ReplyDescribe(ctx, cj, rj)
}

func (v varlinkManager) Reload(ctx context.Context, c iosystemdmanager.VarlinkCall) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, c.Call); !ok {
		return err
	}
	if err := v.m.ReloadUnits(); err != nil {
		v.m.log.Warn("reload", "err", err)
		return varlinkd.ReplyErrno(ctx, c.Call, err)
	}
	return c.ReplyReload(ctx)
}
