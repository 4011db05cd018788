package iosystemdoom

import (
	"context"
	"path/filepath"

	"github.com/stead-os/stead/lib/api/internal/clienterr"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Name is the interface name.
const Name = "io.systemd.oom"

// SocketPath is where oomd serves io.systemd.oom (and io.stead.oom), mode 0666.
const SocketPath = "/run/systemd/oom/io.systemd.ManagedOOM"

// SocketAddress is the Varlink address of the oomd whose root is root.
func SocketAddress(root string) string { return "unix:" + filepath.Join(root, SocketPath) }

// Client calls io.systemd.oom over a connection the caller dials (SocketAddress) and closes.
type Client struct{ conn *varlinkd.Client }

// NewClient calls io.systemd.oom over c.
func NewClient(c *varlinkd.Client) *Client { return &Client{conn: c} }

// ReportManagedOOMCGroups hands oomd the settings of cgroups. Its reply is empty, read by
// varlinkd's Call.
func (c *Client) ReportManagedOOMCGroups(ctx context.Context, cgroups []ControlGroup) error {
	if cgroups == nil {
		cgroups = []ControlGroup{}
	}
	in := struct {
		CGroups []ControlGroup `json:"cgroups"`
	}{cgroups}
	return clienterr.Typed(c.conn.Call(ctx, Name+".ReportManagedOOMCGroups", in, nil), Dispatch_Error)
}
