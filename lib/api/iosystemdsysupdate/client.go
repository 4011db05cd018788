package iosystemdsysupdate

import (
	"context"
	"path/filepath"

	"github.com/stead-os/stead/lib/api/internal/clienterr"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Name is the interface name.
const Name = "io.systemd.SysUpdate"

// SocketPath is where systemd-sysupdate serves io.systemd.SysUpdate.
const SocketPath = "/run/systemd/io.systemd.SysUpdate"

// SocketAddress is the Varlink address of the updater whose root is root.
func SocketAddress(root string) string { return "unix:" + filepath.Join(root, SocketPath) }

// Client calls io.systemd.SysUpdate over a connection the caller dials (SocketAddress) and
// closes. Error replies come back as *NoUpdateNeeded and *NoSuchTarget: use errors.As.
type Client struct{ conn *varlinkd.Client }

// NewClient calls io.systemd.SysUpdate over c.
func NewClient(c *varlinkd.Client) *Client { return &Client{conn: c} }

// ListTargets lists the targets.
func (c *Client) ListTargets(ctx context.Context) ([]Target, error) {
	var out struct {
		Targets []Target `json:"targets"`
	}
	err := c.conn.Call(ctx, Name+".ListTargets", struct{}{}, &out)
	return out.Targets, clienterr.Typed(err, Dispatch_Error)
}

// CheckNew returns the newest version offered for target.
func (c *Client) CheckNew(ctx context.Context, target TargetIdentifier) (string, error) {
	in := struct {
		Target TargetIdentifier `json:"target"`
	}{target}
	var out struct {
		Available string `json:"available"`
	}
	err := c.conn.Call(ctx, Name+".CheckNew", in, &out)
	return out.Available, clienterr.Typed(err, Dispatch_Error)
}

// ListFeatures lists target's features.
func (c *Client) ListFeatures(ctx context.Context, target TargetIdentifier) ([]Feature, error) {
	in := struct {
		Target TargetIdentifier `json:"target"`
	}{target}
	var out struct {
		Features []Feature `json:"features"`
	}
	err := c.conn.Call(ctx, Name+".ListFeatures", in, &out)
	return out.Features, clienterr.Typed(err, Dispatch_Error)
}
