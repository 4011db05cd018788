package pid1

import (
	"context"
	"log/slog"
	"math"
	"runtime"
	"syscall"

	"github.com/stead-os/stead/lib/api/iosteadmanager"
	"github.com/stead-os/stead/lib/api/iosystemdjob"
	"github.com/stead-os/stead/lib/api/iosystemdmanager"
	"github.com/stead-os/stead/lib/api/iosystemdunit"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

// SocketPath is where io.systemd.Manager is served, under the root.
const SocketPath = "/run/systemd/io.systemd.Manager"

type varlinkManager struct{ m *Manager }

// VarlinkSockets are the manager's Varlink sockets: io.systemd.Manager, io.systemd.Unit,
// io.systemd.Job and io.stead.Manager on SocketPath, io.systemd.ManagedOOM on
// ManagedOOMSocket. With Config.Daemon (host mode) lib/daemon serves them; otherwise Run does.
func (m *Manager) VarlinkSockets() []daemon.Socket {
	return []daemon.Socket{
		{Path: SocketPath, Mode: 0o666, Listener: m.xs.inherited[SocketPath], Interfaces: []varlinkd.Dispatcher{
			iosystemdmanager.VarlinkNew(varlinkManager{m}), iosystemdunit.VarlinkNew(varlinkUnit{m}),
			iosteadmanager.VarlinkNew(varlinkJobs{m}), iosystemdjob.VarlinkNew(varlinkJobList{m})}},
		m.withInherited(m.managedOOMSocket()),
	}
}

// Reload re-reads the loaded units and their ManagedOOM settings: what
// io.systemd.service.Reload (and, in host mode, SIGHUP) runs.
func (m *Manager) Reload(context.Context) error { return m.reloadUnitsAndOOM() }

// reload is io.systemd.Manager.Reload: through lib/daemon when it runs the manager, so that
// the service manager above hears RELOADING=1 and READY=1.
func (m *Manager) reload(ctx context.Context) error {
	if m.cfg.Daemon != nil {
		return m.cfg.Daemon.Reload(ctx)
	}
	return m.Reload(ctx)
}

// serveVarlink serves VarlinkSockets until ctx is done, unless lib/daemon does.
func (m *Manager) serveVarlink(ctx context.Context) error {
	if m.cfg.Daemon != nil {
		return nil
	}
	socks := m.VarlinkSockets()
	errs := make(chan error, len(socks))
	for _, s := range socks {
		go func() { errs <- m.serveSocket(ctx, s) }()
	}
	var first error
	for range socks {
		if err := <-errs; first == nil {
			first = err
		}
	}
	return first
}

// serveSocket serves one socket with lib/daemon's server (the shared Info, Reload, the live
// log level). READY=1 is lib/daemon's to send: as PID 1 there is no one to tell.
func (m *Manager) serveSocket(ctx context.Context, s daemon.Socket) error {
	srv, err := daemon.NewServer("init", m.cfg.Version, m.Reload, s.Interfaces...)
	if err == nil {
		err = srv.Run(ctx, varlinkd.Options{Root: m.cfg.Root, Socket: s.Path, Mode: s.Mode, NoNotify: true, Listener: s.Listener})
	}
	if err != nil {
		m.log.Error("varlink server", "socket", s.Path, "err", err)
	}
	return err
}

// The io.systemd.Manager types, under the names this package always used.
type (
	ManagerContext = iosystemdmanager.ManagerContext
	ManagerRuntime = iosystemdmanager.ManagerRuntime
	Timestamp      = iosystemdmanager.Timestamp
)

var archNames = map[string]string{"amd64": "x86-64", "386": "x86", "arm64": "arm64", "arm": "arm", "riscv64": "riscv64", "ppc64le": "ppc64-le", "s390x": "s390x"}

// managerContext is stead's fixed configuration in upstream's terms: the
// defaults systemd-system.conf(5) documents, which stead does not let one
// change yet, its live log level, and no tasks limit (stead sets none).
func (m *Manager) managerContext() ManagerContext {
	burst, interval := int64(5), int64(10e6)
	lv := m.logLevelName()
	return ManagerContext{
		LogLevel:                           iosystemdmanager.LogLevelStruct{Console: lv, Kmsg: lv, Syslog: lv, Journal: lv},
		LogTarget:                          "console",
		DefaultStandardOutput:              "inherit",
		DefaultStandardError:               "inherit",
		ServiceWatchdogs:                   true,
		DefaultTimerAccuracyUSec:           60e6,
		DefaultTimeoutStartUSec:            90e6,
		DefaultTimeoutStopUSec:             90e6,
		DefaultTimeoutAbortUSec:            90e6,
		DefaultDeviceTimeoutUSec:           90e6,
		DefaultRestartUSec:                 100e3,
		DefaultStartLimit:                  &iosystemdmanager.RateLimit{IntervalUSec: &interval, Burst: &burst},
		DefaultMemoryAccounting:            true,
		DefaultTasksAccounting:             true,
		DefaultTasksMax:                    math.MaxUint64,
		DefaultMemoryPressureThresholdUSec: 200e3,
		DefaultMemoryPressureWatch:         "auto",
		DefaultCPUPressureThresholdUSec:    200e3,
		DefaultCPUPressureWatch:            "auto",
		DefaultIOPressureThresholdUSec:     200e3,
		DefaultIOPressureWatch:             "auto",
		TimerSlackNSec:                     50e3,
		DefaultOOMPolicy:                   "stop",
		CtrlAltDelBurstAction:              "reboot_force",
		DefaultMemoryZSwapWriteback:        true,
	}
}

// logLevelName is the syslog name of the lowest level the logger passes.
func (m *Manager) logLevelName() string {
	ctx := context.Background()
	for _, l := range []struct {
		level slog.Level
		name  string
	}{{slog.LevelDebug, "debug"}, {slog.LevelInfo, "info"}, {slog.LevelWarn, "warning"}} {
		if m.log.Enabled(ctx, l.level) {
			return l.name
		}
	}
	return "err"
}

// Describe returns the manager's context and runtime state.
func (m *Manager) Describe() (ManagerContext, ManagerRuntime) {
	// Detected at each call, outside the lock: it reads files under the root.
	virt := detectVirtualization(m.cfg.Root, m.cfg.PID1).name()
	cvm := confidentialVirtualization(m.cfg.Root)
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.managerContext()
	kexecs := m.xs.kexecs
	r := ManagerRuntime{Version: m.cfg.Version, Architecture: archNames[runtime.GOARCH], Features: "",
		UnitPath: m.cfg.Dirs, NNames: len(m.units), NJobs: len(m.jobs), NInstalledJobs: m.installedJobs,
		NFailedJobs: m.failedJobs, ReloadCount: m.reloadCount, KExecsCount: &kexecs, KExecCount: kexecs,
		SoftRebootsCount: m.xs.softReboots,
		Virtualization:   virt, ConfidentialVirtualization: cvm}
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

func (v varlinkManager) Describe(ctx context.Context, c *varlink.Call) error {
	mc, mr := v.m.Describe()
	return c.Reply(ctx, struct {
		Context ManagerContext `json:"context"`
		Runtime ManagerRuntime `json:"runtime"`
	}{mc, mr})
}

func (v varlinkManager) Reload(ctx context.Context, c *varlink.Call) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, *c); !ok {
		return err
	}
	if err := v.m.reload(ctx); err != nil {
		v.m.log.Warn("reload", "err", err)
		return varlinkd.ReplyErrno(ctx, *c, err)
	}
	return c.Reply(ctx, struct{}{})
}

func (v varlinkManager) PowerOff(ctx context.Context, c *varlink.Call) error {
	return v.shutdown(ctx, c, ActionPoweroff)
}

func (v varlinkManager) Reboot(ctx context.Context, c *varlink.Call) error {
	return v.shutdown(ctx, c, ActionReboot)
}

func (v varlinkManager) Halt(ctx context.Context, c *varlink.Call) error {
	return v.shutdown(ctx, c, ActionHalt)
}

// shutdown answers first, then hands the action to Config.Shutdown: the
// caller gets its reply before the manager stops serving.
func (v varlinkManager) shutdown(ctx context.Context, c *varlink.Call, action string) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, *c); !ok {
		return err
	}
	if v.m.cfg.Shutdown == nil {
		return varlinkd.ReplyErrno(ctx, *c, syscall.EOPNOTSUPP)
	}
	v.m.log.Info("shutdown requested over varlink", "action", action)
	err := c.Reply(ctx, struct{}{})
	v.m.cfg.Shutdown(action)
	return err
}
