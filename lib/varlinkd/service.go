package varlinkd

import (
	"context"
	"log/slog"
	"os"

	"github.com/stead-os/stead/lib/api/iosystemdservice"
	steadlog "github.com/stead-os/stead/lib/log"
)

// serviceControl implements io.systemd.service for every Server.
type serviceControl struct {
	hooks Hooks
}

func newServiceControl(h Hooks) *serviceControl { return &serviceControl{hooks: h} }

func (sc *serviceControl) dispatcher() Dispatcher { return iosystemdservice.VarlinkNew(sc) }

func (sc *serviceControl) reload(ctx context.Context) error {
	if sc.hooks.Reload == nil {
		return nil
	}
	return sc.hooks.Reload(ctx)
}

// Ping answers everyone.
func (sc *serviceControl) Ping(ctx context.Context, c iosystemdservice.VarlinkCall) error {
	return c.ReplyPing(ctx)
}

// Reload runs the daemon's reload hook; privileged callers only.
func (sc *serviceControl) Reload(ctx context.Context, c iosystemdservice.VarlinkCall, _ *bool) error {
	if ok, err := RequirePrivileged(ctx, c.Call); !ok {
		return err
	}
	if err := sc.reload(ctx); err != nil {
		slog.Warn("reload failed", "err", err)
		return ReplyErrno(ctx, c.Call, err)
	}
	return c.ReplyReload(ctx)
}

// SetLogLevel changes the live log level; privileged callers only.
func (sc *serviceControl) SetLogLevel(ctx context.Context, c iosystemdservice.VarlinkCall, level *int64) error {
	if ok, err := RequirePrivileged(ctx, c.Call); !ok {
		return err
	}
	if level == nil {
		return ReplyInvalidParameter(ctx, c.Call, "level")
	}
	l, err := steadlog.FromSyslog(int(*level))
	if err != nil {
		return ReplyInvalidParameter(ctx, c.Call, "level")
	}
	if sc.hooks.Level != nil {
		sc.hooks.Level.Set(l)
	}
	return c.ReplySetLogLevel(ctx)
}

// GetLogLevel reports the live log level as a syslog number.
func (sc *serviceControl) GetLogLevel(ctx context.Context, c iosystemdservice.VarlinkCall) error {
	l := slog.LevelInfo
	if sc.hooks.Level != nil {
		l = sc.hooks.Level.Level()
	}
	return c.ReplyGetLogLevel(ctx, int64(steadlog.Priority(l)))
}

// GetEnvironment reveals the environment; privileged callers only.
func (sc *serviceControl) GetEnvironment(ctx context.Context, c iosystemdservice.VarlinkCall) error {
	if ok, err := RequirePrivileged(ctx, c.Call); !ok {
		return err
	}
	env := os.Environ()
	return c.ReplyGetEnvironment(ctx, &env)
}
