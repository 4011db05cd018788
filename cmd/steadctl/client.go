package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"

	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

// ManagerSocket is where the service manager serves io.systemd.Manager,
// io.systemd.Unit and io.stead.Manager, under the root.
const ManagerSocket = "/run/systemd/io.systemd.Manager"

// Error names steadctl tells apart.
const (
	errNoSuchUnit      = "io.systemd.Unit.NoSuchUnit"
	errUnitMasked      = "io.systemd.Unit.UnitMasked"
	errUnitError       = "io.systemd.Unit.UnitError"
	errJobNoSuchUnit   = "io.stead.Manager.NoSuchUnit"
	errJobFailed       = "io.stead.Manager.JobFailed"
	errUnitNotLoaded   = "io.stead.Manager.UnitNotLoaded"
	errJobNotSupported = "io.stead.Manager.JobNotSupported"
	errJobConflict     = "io.stead.Manager.JobConflict"
)

// client talks to one manager. Each call dials its own connection, so
// calls may run concurrently.
type client struct {
	address string
}

func newClient(root string) *client {
	return &client{address: "unix:" + filepath.Join(root, ManagerSocket)}
}

func (c *client) dial(ctx context.Context) (*varlinkd.Client, error) {
	return varlinkd.Dial(ctx, c.address)
}

// units lists every unit the manager has loaded.
func (c *client) units(ctx context.Context) ([]Unit, error) {
	vc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer vc.Close()
	var out []Unit
	err = vc.Stream(ctx, "io.systemd.Unit.List", struct{}{}, func(raw json.RawMessage) error {
		var u Unit
		if err := json.Unmarshal(raw, &u); err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	if varlinkErrorName(err) == errNoSuchUnit {
		return nil, nil // no units at all
	}
	return out, err
}

// unit returns the unit called name; ok is false when the manager does not
// know it.
func (c *client) unit(ctx context.Context, name string) (u Unit, ok bool, err error) {
	vc, err := c.dial(ctx)
	if err != nil {
		return Unit{}, false, err
	}
	defer vc.Close()
	err = vc.Call(ctx, "io.systemd.Unit.List", map[string]string{"name": name}, &u)
	switch varlinkErrorName(err) {
	case errNoSuchUnit:
		return Unit{}, false, nil
	case errUnitMasked:
		return notLoaded(name, "masked"), true, nil
	case errUnitError:
		return notLoaded(name, "bad-setting"), true, nil
	}
	return u, err == nil, err
}

// notLoaded stands for a unit the manager refuses to describe because it did not load
// (io.systemd.Unit.UnitMasked, UnitError): what systemctl shows for one, inactive and dead.
func notLoaded(name, loadState string) Unit {
	return Unit{Context: UnitContext{ID: name},
		Runtime: UnitRuntime{LoadState: loadState, ActiveState: "inactive", SubState: "dead"}}
}

// loadReason is systemctl's explanation of a load state other than loaded, or "".
func loadReason(name, loadState string) string {
	switch loadState {
	case "masked":
		return "Unit " + name + " is masked."
	case "bad-setting":
		return "Unit " + name + " has a bad unit file setting."
	case "not-found":
		return "Unit " + name + " not found."
	}
	return ""
}

// jobResult is io.stead.Manager's reply.
type jobResult struct {
	JobID   int64   `json:"jobId"`
	Unit    string  `json:"unit"`
	JobType string  `json:"jobType"`
	State   *string `json:"state,omitempty"`
	Result  *string `json:"result,omitempty"`
}

// job runs method (StartUnit, StopUnit, …) for name and waits for the job;
// with noBlock it returns once the job is queued (the first reply of a
// 'more' call) and leaves it running.
func (c *client) job(ctx context.Context, method, name, mode string, noBlock bool) (jobResult, error) {
	vc, err := c.dial(ctx)
	if err != nil {
		return jobResult{}, err
	}
	defer vc.Close()
	in := map[string]string{"name": name}
	if mode != "" {
		in["mode"] = mode
	}
	var r jobResult
	if !noBlock {
		err = vc.Call(ctx, "io.stead.Manager."+method, in, &r)
		return r, err
	}
	err = vc.Stream(ctx, "io.stead.Manager."+method, in, func(raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		return errQueued
	})
	if errors.Is(err, errQueued) {
		err = nil
	}
	return r, err
}

// errQueued ends a --no-block job call after its first reply.
var errQueued = errors.New("job queued")

// queuedJob is one reply of io.systemd.Job.List.
type queuedJob struct {
	ID      int64  `json:"id"`
	Unit    string `json:"unit"`
	JobType string `json:"type"`
	State   string `json:"state"`
}

// jobs lists the manager's job queue (io.systemd.Job.List).
func (c *client) jobs(ctx context.Context) ([]queuedJob, error) {
	vc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer vc.Close()
	var out []queuedJob
	err = vc.Stream(ctx, "io.systemd.Job.List", struct{}{}, func(raw json.RawMessage) error {
		var j struct {
			ID      int64  `json:"Id"`
			Unit    string `json:"Unit"`
			JobType string `json:"JobType"`
			State   string `json:"State"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return err
		}
		out = append(out, queuedJob{j.ID, j.Unit, j.JobType, j.State})
		return nil
	})
	if varlinkErrorName(err) == "io.systemd.Job.NoSuchJob" {
		return nil, nil // an empty queue
	}
	return out, err
}

// reload re-reads unit files (io.systemd.Manager.Reload).
func (c *client) reload(ctx context.Context) error {
	vc, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer vc.Close()
	return vc.Call(ctx, "io.systemd.Manager.Reload", nil, nil)
}

// shutdown asks the manager to power off, reboot or halt (io.systemd.Manager.PowerOff, …).
func (c *client) shutdown(ctx context.Context, method string) error {
	vc, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer vc.Close()
	return vc.Call(ctx, "io.systemd.Manager."+method, nil, nil)
}

// varlinkErrorName is the Varlink error name in err, or "".
func varlinkErrorName(err error) string { return varlinkd.ErrorName(err) }

// varlinkErrorParams decodes the parameters of a Varlink error into out.
func varlinkErrorParams(err error, out any) bool {
	var ve *varlink.Error
	if !errors.As(err, &ve) {
		return false
	}
	raw, ok := ve.Parameters.(*json.RawMessage)
	if !ok || raw == nil {
		return false
	}
	return json.Unmarshal(*raw, out) == nil
}
