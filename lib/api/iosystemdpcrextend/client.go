package iosystemdpcrextend

import (
	"context"
	"path/filepath"

	"github.com/stead-os/stead/lib/api/internal/clienterr"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Name is the interface name.
const Name = "io.systemd.PCRExtend"

// SocketPath is where systemd-pcrextend serves io.systemd.PCRExtend.
const SocketPath = "/run/systemd/io.systemd.PCRExtend"

// SocketAddress is the Varlink address of the PCR extension service whose root is root.
func SocketAddress(root string) string { return "unix:" + filepath.Join(root, SocketPath) }

// ExtendParameters are Extend's parameters that stead sends; nil ones are left out.
type ExtendParameters struct {
	PCR       *int64     `json:"pcr,omitempty"`
	Text      *string    `json:"text,omitempty"`
	EventType *EventType `json:"eventType,omitempty"`
}

// Client calls io.systemd.PCRExtend over a connection the caller dials (SocketAddress) and closes;
// like the connection, it makes one call at a time. The interface's error replies come back
// as its error types (*NoSuchNvPCR, *NvPCRSpaceExhausted): use errors.As.
type Client struct{ conn *varlinkd.Client }

// NewClient calls io.systemd.PCRExtend over c.
func NewClient(c *varlinkd.Client) *Client { return &Client{conn: c} }

// Extend measures into a PCR. Its reply is empty: the call goes through varlinkd's Call,
// which reads it, not the generated client, which fails on it.
func (c *Client) Extend(ctx context.Context, in ExtendParameters) error {
	return clienterr.Typed(c.conn.Call(ctx, Name+".Extend", in, nil), Dispatch_Error)
}
