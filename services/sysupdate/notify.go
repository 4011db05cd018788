package sysupdate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemdmanager"
	"github.com/stead-os/stead/lib/api/iosystemdsysupdatenotify"
	"github.com/stead-os/stead/lib/varlinkd"
)

// notifyAll calls io.systemd.SysUpdate.Notify.OnCompletedUpdate on every socket in
// /run/systemd/sysupdate/notify/ (under the root). A listener that fails is logged; the
// update stands.
func notifyAll(ctx context.Context, o Options, c *Context, res *Result) {
	dir := c.Env.hostPath(iosystemdsysupdatenotify.NotifyDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	in := iosystemdsysupdatenotify.OnCompletedUpdateParameters{Version: &res.Set.Version}
	if o.Component != "" {
		in.Component = &o.Component
	}
	k := 0
	for i, t := range c.Transfers {
		if res.Set.Targets[i] != nil {
			continue
		}
		r := iosystemdsysupdatenotify.Resource{Transfer: t.ID}
		if k < len(res.Resources) {
			p := res.Resources[k]
			r.Path = &p
		}
		k++
		in.Resources = append(in.Resources, r)
	}
	for _, de := range ents {
		if de.Type()&os.ModeSocket == 0 {
			continue
		}
		addr := "unix:" + filepath.Join(dir, de.Name())
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := func() error {
			conn, err := varlinkd.Dial(cctx, addr)
			if err != nil {
				return err
			}
			defer conn.Close()
			return iosystemdsysupdatenotify.NewClient(conn).OnCompletedUpdate(cctx, in)
		}()
		cancel()
		if err != nil {
			o.Log.Warn(fmt.Sprintf("Notifying %s failed: %v", addr, err))
		}
	}
}

// reboot asks the service manager (io.systemd.Manager.Reboot) to reboot; without one it says
// what it would have done.
func reboot(ctx context.Context, o Options) error {
	addr := iosystemdmanager.SocketAddress(o.Root)
	conn, err := varlinkd.Dial(ctx, addr)
	if err != nil {
		fmt.Fprintf(o.Stdout, "Would reboot now, but no service manager answers at %s.\n", addr)
		return nil
	}
	defer conn.Close()
	o.Log.Info("Rebooting.")
	return iosystemdmanager.NewClient(conn).Reboot(ctx)
}
