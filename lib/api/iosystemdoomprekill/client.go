package iosystemdoomprekill

import (
	"context"

	"github.com/stead-os/stead/lib/api/internal/clienterr"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Name is the interface name.
const Name = "io.systemd.oom.Prekill"

// HookDir holds the sockets of the prekill hooks oomd calls before a kill.
const HookDir = "/run/systemd/oomd.prekill.hook"

// Client calls io.systemd.oom.Prekill over a connection the caller dials and closes.
type Client struct{ conn *varlinkd.Client }

// NewClient calls io.systemd.oom.Prekill over c.
func NewClient(c *varlinkd.Client) *Client { return &Client{conn: c} }

// Notify tells the hook that cgroup is about to be killed and waits for its (empty) reply.
func (c *Client) Notify(ctx context.Context, cgroup string) error {
	in := struct {
		CGroup string `json:"cgroup"`
	}{cgroup}
	return clienterr.Typed(c.conn.Call(ctx, Name+".Notify", in, nil), Dispatch_Error)
}
