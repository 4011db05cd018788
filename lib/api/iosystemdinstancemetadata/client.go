package iosystemdinstancemetadata

import (
	"context"
	"path/filepath"

	"github.com/stead-os/stead/lib/api/internal/clienterr"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Name is the interface name.
const Name = "io.systemd.InstanceMetadata"

// SocketPath is where imdsd serves io.systemd.InstanceMetadata.
const SocketPath = "/run/systemd/io.systemd.InstanceMetadata"

// SocketAddress is the Varlink address of the imdsd whose root is root.
func SocketAddress(root string) string { return "unix:" + filepath.Join(root, SocketPath) }

// GetParameters are Get's parameters that the imds tool sends; nil ones are left out.
type GetParameters struct {
	Key         *string    `json:"key,omitempty"`
	WellKnown   *WellKnown `json:"wellKnown,omitempty"`
	RefreshUSec *int64     `json:"refreshUSec,omitempty"`
	Cache       *bool      `json:"cache,omitempty"`
}

// GetReply is Get's reply: the value in Base64, and the interface it was fetched through.
type GetReply struct {
	Data      string `json:"data"`
	Interface *int64 `json:"interface,omitempty"`
}

// VendorInfo is GetVendorInfo's reply, the parts the imds tool reads.
type VendorInfo struct {
	Vendor *string `json:"vendor,omitempty"`
}

// Client calls io.systemd.InstanceMetadata over a connection the caller dials (SocketAddress, or
// an exec: address running imdsd) and closes; like the connection, it makes one call at a
// time. The interface's error replies come back as its error types (*KeyNotFound,
// *WellKnownKeyUnset, *NotSupported, …): use errors.As.
type Client struct{ conn *varlinkd.Client }

// NewClient calls io.systemd.InstanceMetadata over c.
func NewClient(c *varlinkd.Client) *Client { return &Client{conn: c} }

// Get fetches one value.
func (c *Client) Get(ctx context.Context, in GetParameters) (GetReply, error) {
	var r GetReply
	err := c.conn.Call(ctx, Name+".Get", in, &r)
	return r, clienterr.Typed(err, Dispatch_Error)
}

// GetVendorInfo describes the metadata service of this machine's cloud.
func (c *Client) GetVendorInfo(ctx context.Context) (VendorInfo, error) {
	var v VendorInfo
	err := c.conn.Call(ctx, Name+".GetVendorInfo", nil, &v)
	return v, clienterr.Typed(err, Dispatch_Error)
}
