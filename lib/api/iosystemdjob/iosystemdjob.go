// Package iosystemdjob holds the io.systemd.Job interface (systemd 262): the service
// manager's job queue. Its IDL uses capitalised field names (Id, Unit, JobType, …), which
// varlink-go-interface-generator refuses, so this package is written by hand like
// lib/api/iosystemdnetwork: it embeds the IDL, decodes each method's parameters and hands
// them to a Jobs implementation, which replies through the call.
package iosystemdjob

import (
	"context"
	_ "embed"

	"github.com/varlink/go/varlink"
)

// Name is the interface name.
const Name = "io.systemd.Job"

// ErrorNoSuchJob is the interface's one error.
const ErrorNoSuchJob = Name + ".NoSuchJob"

//go:embed io.systemd.Job.varlink
var description string

// Job is one reply of List, and the IDL's Job type.
type Job struct {
	ID                int64             `json:"Id"`
	Unit              *string           `json:"Unit,omitempty"`
	JobType           string            `json:"JobType"`
	State             *string           `json:"State,omitempty"`
	Result            *string           `json:"Result,omitempty"`
	ActivationDetails map[string]string `json:"ActivationDetails,omitempty"`
}

// NoSuchJob is the error's parameters.
type NoSuchJob struct {
	Parameter *string `json:"parameter,omitempty"`
}

// Jobs is what a service manager implements. Each method replies through c itself;
// parameters have been checked against the IDL before.
type Jobs interface {
	List(ctx context.Context, c *varlink.Call, id *int64, unit *string) error
	Cancel(ctx context.Context, c *varlink.Call, id int64) error
	ClearAll(ctx context.Context, c *varlink.Call) error
}

// Dispatcher serves io.systemd.Job for a Jobs.
type Dispatcher struct{ J Jobs }

// VarlinkNew returns the dispatcher.
func VarlinkNew(j Jobs) Dispatcher { return Dispatcher{j} }

// VarlinkDispatch decodes the parameters of method and calls the implementation.
func (d Dispatcher) VarlinkDispatch(ctx context.Context, call varlink.Call, method string) error {
	c := &call
	switch method {
	case "List":
		var in struct {
			ID   *int64  `json:"id,omitempty"`
			Unit *string `json:"unit,omitempty"`
		}
		if err := c.GetParameters(&in); err != nil {
			return c.ReplyInvalidParameter(ctx, "parameters")
		}
		return d.J.List(ctx, c, in.ID, in.Unit)
	case "Cancel":
		var in struct {
			ID int64 `json:"id"`
		}
		if err := c.GetParameters(&in); err != nil {
			return c.ReplyInvalidParameter(ctx, "id")
		}
		return d.J.Cancel(ctx, c, in.ID)
	case "ClearAll":
		return d.J.ClearAll(ctx, c)
	}
	return c.ReplyMethodNotFound(ctx, Name+"."+method)
}

// VarlinkGetName returns the interface name.
func (Dispatcher) VarlinkGetName() string { return Name }

// VarlinkGetDescription returns the IDL text.
func (Dispatcher) VarlinkGetDescription() string { return description }
