package iosteadmanager

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/stead-os/stead/lib/api/internal/clienterr"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Name is the interface name.
const Name = "io.stead.Manager"

// JobReply is a reply of StartUnit, StopUnit, RestartUnit and ReloadUnit.
type JobReply struct {
	JobID   int64   `json:"jobId"`
	Unit    string  `json:"unit"`
	JobType string  `json:"jobType"`
	State   *string `json:"state,omitempty"`
	Result  *string `json:"result,omitempty"`
}

// JobOptions are how a job is queued and waited for.
type JobOptions struct {
	Mode JobMode // "" for the manager's default (replace)
	// NoBlock returns with the first reply of a 'more' call, once the job is queued; the job
	// goes on. Otherwise the call returns when the job has finished. The job's later replies
	// are left unread on the connection: a NoBlock call must be the connection's last, close
	// it afterwards.
	NoBlock bool
}

// Client calls io.stead.Manager over a connection the caller dials (iosystemdmanager.SocketAddress)
// and closes; like the connection, it makes one call at a time. The interface's error
// replies come back as its error types (*NoSuchUnit, *UnitNotLoaded, *JobNotSupported,
// *JobConflict, *JobFailed, *ShuttingDown, *NotAService, *UnitActive): use errors.As.
type Client struct{ conn *varlinkd.Client }

// NewClient calls io.stead.Manager over c.
func NewClient(c *varlinkd.Client) *Client { return &Client{conn: c} }

// StartUnit queues a start job for the unit called name.
func (c *Client) StartUnit(ctx context.Context, name string, o JobOptions) (JobReply, error) {
	return c.job(ctx, "StartUnit", name, o)
}

// StopUnit queues a stop job.
func (c *Client) StopUnit(ctx context.Context, name string, o JobOptions) (JobReply, error) {
	return c.job(ctx, "StopUnit", name, o)
}

// RestartUnit queues a restart job.
func (c *Client) RestartUnit(ctx context.Context, name string, o JobOptions) (JobReply, error) {
	return c.job(ctx, "RestartUnit", name, o)
}

// ReloadUnit queues a reload job.
func (c *Client) ReloadUnit(ctx context.Context, name string, o JobOptions) (JobReply, error) {
	return c.job(ctx, "ReloadUnit", name, o)
}

// errQueued ends a NoBlock call after its first reply.
var errQueued = errors.New("job queued")

func (c *Client) job(ctx context.Context, method, name string, o JobOptions) (JobReply, error) {
	in := struct {
		Name string   `json:"name"`
		Mode *JobMode `json:"mode,omitempty"`
	}{Name: name}
	if o.Mode != "" {
		in.Mode = &o.Mode
	}
	var r JobReply
	if !o.NoBlock {
		err := c.conn.Call(ctx, Name+"."+method, in, &r)
		return r, clienterr.Typed(err, Dispatch_Error)
	}
	err := c.conn.Stream(ctx, Name+"."+method, in, func(raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		return errQueued
	})
	if errors.Is(err, errQueued) {
		err = nil
	}
	return r, clienterr.Typed(err, Dispatch_Error)
}

// ListFDStore lists the fds the service called name keeps in its fd store.
func (c *Client) ListFDStore(ctx context.Context, name string) ([]FDStoreEntry, error) {
	in := struct {
		Name string `json:"name"`
	}{name}
	var out struct {
		Entries []FDStoreEntry `json:"entries"`
	}
	err := c.conn.Call(ctx, Name+".ListFDStore", in, &out)
	return out.Entries, clienterr.Typed(err, Dispatch_Error)
}

// ClearFDStore closes the fds the service called name keeps in its fd store; the unit must
// be inactive or failed (*UnitActive otherwise).
func (c *Client) ClearFDStore(ctx context.Context, name string) error {
	in := struct {
		Name string `json:"name"`
	}{name}
	err := c.conn.Call(ctx, Name+".ClearFDStore", in, nil)
	return clienterr.Typed(err, Dispatch_Error)
}

// ListUnitWarnings returns what init reported about the files of the unit called name (or an
// alias of it) when it last loaded them, each "FILE:LINE: message".
func (c *Client) ListUnitWarnings(ctx context.Context, name string) ([]string, error) {
	in := struct {
		Name string `json:"name"`
	}{name}
	var out struct {
		Warnings []string `json:"warnings"`
	}
	err := c.conn.Call(ctx, Name+".ListUnitWarnings", in, &out)
	return out.Warnings, clienterr.Typed(err, Dispatch_Error)
}
