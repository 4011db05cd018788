package iosystemdsysupdatenotify

import (
	"context"

	"github.com/stead-os/stead/lib/api/internal/clienterr"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Name is the interface name.
const Name = "io.systemd.SysUpdate.Notify"

// NotifyDir holds the sockets sysupdate calls after an update.
const NotifyDir = "/run/systemd/sysupdate/notify"

// OnCompletedUpdateParameters are OnCompletedUpdate's parameters; nil ones are left out.
type OnCompletedUpdateParameters struct {
	Component *string    `json:"component,omitempty"`
	Version   *string    `json:"version,omitempty"`
	Resources []Resource `json:"resources,omitempty"`
}

// Client calls io.systemd.SysUpdate.Notify over a connection the caller dials and closes.
type Client struct{ conn *varlinkd.Client }

// NewClient calls io.systemd.SysUpdate.Notify over c.
func NewClient(c *varlinkd.Client) *Client { return &Client{conn: c} }

// OnCompletedUpdate tells the listener an update was installed and waits for its reply.
func (c *Client) OnCompletedUpdate(ctx context.Context, in OnCompletedUpdateParameters) error {
	return clienterr.Typed(c.conn.Call(ctx, Name+".OnCompletedUpdate", in, nil), Dispatch_Error)
}
