package iosystemdnetwork

import (
	"context"
	"path/filepath"

	"github.com/stead-os/stead/lib/varlinkd"
)

// SocketPath is where networkd serves io.systemd.Network and io.systemd.Network.Link.
const SocketPath = "/run/systemd/netif/io.systemd.Network"

// SocketAddress is the Varlink address of the networkd whose root is root.
func SocketAddress(root string) string { return "unix:" + filepath.Join(root, SocketPath) }

// Client calls io.systemd.Network and io.systemd.Network.Link over a connection the caller
// dials (SocketAddress) and closes; like the connection, it makes one call at a time. Error replies
// come back as received: tell them apart with varlinkd.ErrorName.
type Client struct{ conn *varlinkd.Client }

// NewClient calls networkd's interfaces over c.
func NewClient(c *varlinkd.Client) *Client { return &Client{conn: c} }

// Describe returns every link networkd knows, and the routes.
func (c *Client) Describe(ctx context.Context) (DescribeReply, error) {
	var r DescribeReply
	err := c.conn.Call(ctx, Name+".Describe", nil, &r)
	return r, err
}

// GetStates returns the system's aggregated link states.
func (c *Client) GetStates(ctx context.Context) (States, error) {
	var st States
	err := c.conn.Call(ctx, Name+".GetStates", nil, &st)
	return st, err
}

// Reload makes networkd re-read its configuration and reconfigure the links.
func (c *Client) Reload(ctx context.Context) error {
	return c.conn.Call(ctx, Name+".Reload", nil, nil)
}

// Up brings a link up (io.systemd.Network.Link.Up).
func (c *Client) Up(ctx context.Context, sel Selector) error { return c.link(ctx, "Up", sel) }

// Down brings a link down.
func (c *Client) Down(ctx context.Context, sel Selector) error { return c.link(ctx, "Down", sel) }

// Renew makes a link's DHCPv4 client renew its lease now.
func (c *Client) Renew(ctx context.Context, sel Selector) error { return c.link(ctx, "Renew", sel) }

// Reconfigure applies a link's configuration again.
func (c *Client) Reconfigure(ctx context.Context, sel Selector) error {
	return c.link(ctx, "Reconfigure", sel)
}

func (c *Client) link(ctx context.Context, method string, sel Selector) error {
	return c.conn.Call(ctx, LinkName+"."+method, sel, nil)
}

// ByName selects a link by its name.
func ByName(name string) Selector { return Selector{InterfaceName: &name} }
