package pid1

import (
	"context"
	"os"
	"syscall"

	"github.com/varlink/go/varlink"

	"github.com/stead-os/stead/lib/varlinkd"
)

// Reexecute serves io.systemd.Manager.Reexecute: the reply goes out first, then the manager
// executes itself again; the connection ends with the old process (reexec_linux.go).
func (v varlinkManager) Reexecute(ctx context.Context, c *varlink.Call) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, *c); !ok {
		return err
	}
	v.m.log.Info("re-execution requested over varlink")
	if err := c.Reply(ctx, struct{}{}); err != nil {
		return err
	}
	if err := v.m.Reexecute(); err != nil {
		v.m.log.Error("re-execution failed, going on", "err", err)
	}
	return nil
}

// SoftReboot serves io.systemd.Manager.SoftReboot(root?): refused in host mode; root, when
// given, must be a directory.
func (v varlinkManager) SoftReboot(ctx context.Context, c *varlink.Call) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, *c); !ok {
		return err
	}
	var in struct {
		Root *string `json:"root"`
	}
	if err := c.GetParameters(&in); err != nil {
		return c.ReplyInvalidParameter(ctx, "root")
	}
	root := ""
	if in.Root != nil && *in.Root != "" {
		root = *in.Root
		if fi, err := os.Stat(v.m.hostPath(root)); err != nil || !fi.IsDir() || root[0] != '/' {
			return c.ReplyInvalidParameter(ctx, "root")
		}
	}
	return v.transition(ctx, c, ActionSoftReboot, root)
}

// KExec serves io.systemd.Manager.KExec: the kernel is loaded first, so that a missing one
// is the caller's error.
func (v varlinkManager) KExec(ctx context.Context, c *varlink.Call) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, *c); !ok {
		return err
	}
	if v.m.cfg.Host {
		return v.refuseHost(ctx, c, ActionKexec)
	}
	if err := v.m.loadKexec(); err != nil {
		v.m.log.Error("kexec refused", "err", err)
		return varlinkd.ReplyErrno(ctx, *c, err)
	}
	return v.transition(ctx, c, ActionKexec, "")
}

func (v varlinkManager) transition(ctx context.Context, c *varlink.Call, action, root string) error {
	if v.m.cfg.Host {
		return v.refuseHost(ctx, c, action)
	}
	if err := c.Reply(ctx, struct{}{}); err != nil {
		return err
	}
	if err := v.m.requestTransition(action, root); err != nil {
		v.m.log.Error(action+" failed", "err", err)
	}
	return nil
}

// refuseHost answers EOPNOTSUPP: a soft-reboot or kexec would end the host's userspace.
func (v varlinkManager) refuseHost(ctx context.Context, c *varlink.Call, action string) error {
	v.m.log.Warn(action + " refused: not possible in host mode, only as PID 1")
	return varlinkd.ReplyErrno(ctx, *c, syscall.EOPNOTSUPP)
}
