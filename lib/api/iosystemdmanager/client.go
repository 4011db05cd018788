package iosystemdmanager

import (
	"context"
	"path/filepath"
	"time"

	"github.com/stead-os/stead/lib/varlinkd"
)

// SocketPath is where the service manager serves io.systemd.Manager, and with it
// io.systemd.Unit, io.systemd.Job and io.stead.Manager.
const SocketPath = "/run/systemd/io.systemd.Manager"

// SocketAddress is the Varlink address of the service manager whose root is root.
func SocketAddress(root string) string { return "unix:" + filepath.Join(root, SocketPath) }

// Client calls io.systemd.Manager over a connection the caller dials and closes; like the
// connection, it makes one call at a time. Error replies come back as received: tell them
// apart with varlinkd.ErrorName.
type Client struct{ conn *varlinkd.Client }

// NewClient calls io.systemd.Manager over c.
func NewClient(c *varlinkd.Client) *Client { return &Client{conn: c} }

// Description is Describe's reply.
type Description struct {
	Context ManagerContext `json:"context"`
	Runtime ManagerRuntime `json:"runtime"`
}

// Describe returns the manager's settings and state.
func (c *Client) Describe(ctx context.Context) (Description, error) {
	var d Description
	err := c.conn.Call(ctx, Name+".Describe", nil, &d)
	return d, err
}

// Reload makes the manager re-read its unit files.
func (c *Client) Reload(ctx context.Context) error { return c.call(ctx, "Reload") }

// PowerOff asks the manager to stop every unit and power the machine off.
func (c *Client) PowerOff(ctx context.Context) error { return c.call(ctx, "PowerOff") }

// Reboot asks the manager to stop every unit and reboot.
func (c *Client) Reboot(ctx context.Context) error { return c.call(ctx, "Reboot") }

// Halt asks the manager to stop every unit and halt.
func (c *Client) Halt(ctx context.Context) error { return c.call(ctx, "Halt") }

// Reexecute asks the manager to execute itself again, keeping its state; the connection ends
// after the reply.
func (c *Client) Reexecute(ctx context.Context) error { return c.call(ctx, "Reexecute") }

// SoftReboot asks the manager to stop every unit and start userspace again.
func (c *Client) SoftReboot(ctx context.Context) error { return c.call(ctx, "SoftReboot") }

// KExec asks the manager to stop every unit and boot the kernel to kexec.
func (c *Client) KExec(ctx context.Context) error { return c.call(ctx, "KExec") }

// call runs a method without parameters or reply; varlinkd's Call reads the empty reply
// that varlink/go's generated clients fail on.
func (c *Client) call(ctx context.Context, method string) error {
	return c.conn.Call(ctx, Name+"."+method, nil, nil)
}

// Time is the timestamp's wall-clock time; the zero time for a nil or zero timestamp.
func (t *Timestamp) Time() time.Time {
	if t == nil || t.Realtime == 0 {
		return time.Time{}
	}
	return time.UnixMicro(t.Realtime)
}
