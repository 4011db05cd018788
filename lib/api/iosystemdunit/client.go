package iosystemdunit

import (
	"context"
	"encoding/json"

	"github.com/stead-os/stead/lib/varlinkd"
)

// Unit is one reply of List: a unit's configuration and its state.
type Unit struct {
	Context UnitContext `json:"context"`
	Runtime UnitRuntime `json:"runtime"`
}

// UnmarshalJSON reads a ProcessId object, and also a bare number as some managers sent.
func (p *ProcessId) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		*p = ProcessId{PID: n}
		return nil
	}
	type object ProcessId // without this method
	return json.Unmarshal(b, (*object)(p))
}

// Client calls io.systemd.Unit over a connection the caller dials (iosystemdmanager.SocketAddress)
// and closes; like the connection, it makes one call at a time. Error replies come back as
// received: tell them apart with varlinkd.ErrorName (ErrorNoSuchUnit, ErrorUnitMasked,
// ErrorUnitError).
type Client struct{ conn *varlinkd.Client }

// NewClient calls io.systemd.Unit over c.
func NewClient(c *varlinkd.Client) *Client { return &Client{conn: c} }

// List returns every unit the manager has loaded; none when it answers NoSuchUnit.
func (c *Client) List(ctx context.Context) ([]Unit, error) {
	var out []Unit
	err := c.conn.Stream(ctx, Name+".List", nil, func(raw json.RawMessage) error {
		var u Unit
		if err := json.Unmarshal(raw, &u); err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	if varlinkd.ErrorName(err) == ErrorNoSuchUnit {
		return nil, nil
	}
	return out, err
}

// Get returns the unit called name (List with its name). The manager answers NoSuchUnit for
// a name without a unit file, UnitMasked or UnitError for a unit it could not load.
func (c *Client) Get(ctx context.Context, name string) (Unit, error) {
	var u Unit
	err := c.conn.Call(ctx, Name+".List", struct {
		Name string `json:"name"`
	}{name}, &u)
	return u, err
}
