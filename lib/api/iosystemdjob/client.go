package iosystemdjob

import (
	"context"
	"encoding/json"

	"github.com/stead-os/stead/lib/varlinkd"
)

// Client calls io.systemd.Job over a connection the caller dials (iosystemdmanager.SocketAddress)
// and closes; like the connection, it makes one call at a time.
type Client struct{ conn *varlinkd.Client }

// NewClient calls io.systemd.Job over c.
func NewClient(c *varlinkd.Client) *Client { return &Client{conn: c} }

// List returns the manager's job queue; none when it answers NoSuchJob (an empty queue).
func (c *Client) List(ctx context.Context) ([]Job, error) {
	var out []Job
	err := c.conn.Stream(ctx, Name+".List", nil, func(raw json.RawMessage) error {
		var j Job
		if err := json.Unmarshal(raw, &j); err != nil {
			return err
		}
		out = append(out, j)
		return nil
	})
	if varlinkd.ErrorName(err) == ErrorNoSuchJob {
		return nil, nil
	}
	return out, err
}
