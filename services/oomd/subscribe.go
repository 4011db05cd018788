package oomd

import (
	"context"
	"encoding/json"
	"path/filepath"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemdmanagedoom"
	"github.com/stead-os/stead/lib/varlinkd"
)

// ManagedOOMSocket is where the service manager serves io.systemd.ManagedOOM, under the root.
const ManagedOOMSocket = "/run/systemd/io.systemd.ManagedOOM"

// Back-off between attempts to subscribe while the service manager's socket is absent or the
// subscription ends.
const (
	subscribeRetryFirst = 200 * time.Millisecond
	subscribeRetryMax   = 5 * time.Second
)

// subscribe follows the service manager's io.systemd.ManagedOOM until ctx ends: the first
// reply of each subscription replaces the system's watches, later ones update them.
func (m *Manager) subscribe(ctx context.Context) {
	addr := "unix:" + filepath.Join(m.root, ManagedOOMSocket)
	wait := subscribeRetryFirst
	refused := "" // the error the service manager last answered with, warned about once
	for ctx.Err() == nil {
		got, err := m.subscribeOnce(ctx, addr)
		if ctx.Err() != nil {
			return
		}
		if got {
			wait = subscribeRetryFirst
		}
		// An error reply (e.g. PermissionDenied when oomd runs as a user the manager does
		// not accept, SubscriptionTaken) would otherwise be retried in silence forever.
		if name := varlinkd.ErrorName(err); name != "" && name != refused {
			m.log.Warn("the service manager refused the ManagedOOM subscription, retrying", "address", addr, "error", name, "in", wait)
			refused = name
		} else {
			m.log.Debug("ManagedOOM subscription ended, retrying", "address", addr, "err", err, "in", wait)
		}
		if got {
			refused = ""
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if !got {
			wait = min(wait*2, subscribeRetryMax)
		}
	}
}

// subscribeOnce runs one subscription; got reports whether any reply came.
func (m *Manager) subscribeOnce(ctx context.Context, addr string) (got bool, err error) {
	c, err := varlinkd.Dial(ctx, addr)
	if err != nil {
		return false, err
	}
	// ctx's end unblocks the stream by closing the connection; otherwise it is closed here,
	// exactly once (a goroutine waiting for ctx per attempt would pile up over the retries
	// and close each connection a second time).
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer func() {
		if stop() {
			c.Close()
		}
	}()
	first := true
	err = c.Stream(ctx, "io.systemd.ManagedOOM.SubscribeManagedOOMCGroups", nil, func(raw json.RawMessage) error {
		var r struct {
			CGroups []iosystemdmanagedoom.ControlGroup `json:"cgroups"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		ws := make([]Watch, 0, len(r.CGroups))
		for _, cg := range r.CGroups {
			w := Watch{Kill: cg.Mode == "kill", Path: cg.Path, Property: cg.Property, Limit: cg.Limit, Duration: cg.Duration}
			if cg.Rules != nil {
				w.Rules = *cg.Rules
			}
			ws = append(ws, w)
		}
		if first {
			m.log.Info("subscribed to the service manager's OOM settings", "cgroups", len(ws))
		}
		m.Apply(sourceSystem, ws, first)
		first, got = false, true
		return nil
	})
	return got, err
}
