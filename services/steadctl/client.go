package steadctl

import (
	"context"

	"github.com/stead-os/stead/lib/api/iosteadmanager"
	"github.com/stead-os/stead/lib/api/iosystemdjob"
	"github.com/stead-os/stead/lib/api/iosystemdmanager"
	"github.com/stead-os/stead/lib/api/iosystemdunit"
	"github.com/stead-os/stead/lib/varlinkd"
)

// client talks to one manager through lib/api's typed clients. Each call dials its own
// connection, so calls may run concurrently.
type client struct {
	address string
}

func newClient(root string) *client {
	return &client{address: iosystemdmanager.SocketAddress(root)}
}

// with dials the manager, runs fn on the connection and closes it.
func (c *client) with(ctx context.Context, fn func(*varlinkd.Client) error) error {
	vc, err := varlinkd.Dial(ctx, c.address)
	if err != nil {
		return err
	}
	defer vc.Close()
	return fn(vc)
}

// units lists every unit the manager has loaded.
func (c *client) units(ctx context.Context) (units []iosystemdunit.Unit, err error) {
	err = c.with(ctx, func(vc *varlinkd.Client) error {
		units, err = iosystemdunit.NewClient(vc).List(ctx)
		return err
	})
	return units, err
}

// unit returns the unit called name; ok is false when the manager does not know it.
func (c *client) unit(ctx context.Context, name string) (u iosystemdunit.Unit, ok bool, err error) {
	err = c.with(ctx, func(vc *varlinkd.Client) error {
		u, err = iosystemdunit.NewClient(vc).Get(ctx, name)
		return err
	})
	switch varlinkd.ErrorName(err) {
	case iosystemdunit.ErrorNoSuchUnit:
		return iosystemdunit.Unit{}, false, nil
	case iosystemdunit.ErrorUnitMasked:
		return notLoaded(name, "masked"), true, nil
	case iosystemdunit.ErrorUnitError:
		return notLoaded(name, "bad-setting"), true, nil
	}
	return u, err == nil, err
}

// notLoaded stands for a unit the manager refuses to describe because it did not load
// (io.systemd.Unit.UnitMasked, UnitError): what systemctl shows for one, inactive and dead.
func notLoaded(name, loadState string) iosystemdunit.Unit {
	return iosystemdunit.Unit{Context: iosystemdunit.UnitContext{ID: name},
		Runtime: iosystemdunit.UnitRuntime{LoadState: loadState, ActiveState: "inactive", SubState: "dead"}}
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

// jobMethods are the io.stead.Manager calls of the job verbs.
var jobMethods = map[string]func(*iosteadmanager.Client, context.Context, string, iosteadmanager.JobOptions) (iosteadmanager.JobReply, error){
	"start":   (*iosteadmanager.Client).StartUnit,
	"stop":    (*iosteadmanager.Client).StopUnit,
	"restart": (*iosteadmanager.Client).RestartUnit,
	"reload":  (*iosteadmanager.Client).ReloadUnit,
}

// job runs verb's job for name and waits for it; with NoBlock it returns once the job is
// queued and leaves it running.
func (c *client) job(ctx context.Context, verb, name string, o iosteadmanager.JobOptions) (r iosteadmanager.JobReply, err error) {
	err = c.with(ctx, func(vc *varlinkd.Client) error {
		r, err = jobMethods[verb](iosteadmanager.NewClient(vc), ctx, name, o)
		return err
	})
	return r, err
}

// queuedJob is one line of list-jobs; its JSON keys are what --json prints.
type queuedJob struct {
	ID      int64  `json:"id"`
	Unit    string `json:"unit"`
	JobType string `json:"type"`
	State   string `json:"state"`
}

// jobs lists the manager's job queue (io.systemd.Job.List).
func (c *client) jobs(ctx context.Context) ([]queuedJob, error) {
	var jobs []iosystemdjob.Job
	err := c.with(ctx, func(vc *varlinkd.Client) (err error) {
		jobs, err = iosystemdjob.NewClient(vc).List(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []queuedJob
	for _, j := range jobs {
		out = append(out, queuedJob{ID: j.ID, Unit: deref(j.Unit), JobType: j.JobType, State: deref(j.State)})
	}
	return out, nil
}

// reload re-reads unit files (io.systemd.Manager.Reload).
func (c *client) reload(ctx context.Context) error {
	return c.with(ctx, func(vc *varlinkd.Client) error { return iosystemdmanager.NewClient(vc).Reload(ctx) })
}

// shutdownMethods are the io.systemd.Manager calls of the shutdown verbs.
var shutdownMethods = map[string]func(*iosystemdmanager.Client, context.Context) error{
	"poweroff": (*iosystemdmanager.Client).PowerOff,
	"reboot":   (*iosystemdmanager.Client).Reboot,
	"halt":     (*iosystemdmanager.Client).Halt,
	// Not shutdowns, but called the same way.
	"soft-reboot": (*iosystemdmanager.Client).SoftReboot,
	"kexec":       (*iosystemdmanager.Client).KExec,
}

// shutdown asks the manager to power off, reboot or halt.
func (c *client) shutdown(ctx context.Context, verb string) error {
	return c.with(ctx, func(vc *varlinkd.Client) error { return shutdownMethods[verb](iosystemdmanager.NewClient(vc), ctx) })
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// warnings returns what the manager reported about a unit's files; nothing from a manager
// without io.stead.Manager (upstream's, whose reports are in its journal).
func (c *client) warnings(ctx context.Context, name string) ([]string, error) {
	var out []string
	err := c.with(ctx, func(vc *varlinkd.Client) error {
		var err error
		out, err = iosteadmanager.NewClient(vc).ListUnitWarnings(ctx, name)
		return err
	})
	if varlinkd.ErrorName(err) == "org.varlink.service.InterfaceNotFound" || varlinkd.ErrorName(err) == "org.varlink.service.MethodNotFound" {
		return nil, nil
	}
	return out, err
}
