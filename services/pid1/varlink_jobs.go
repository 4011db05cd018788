package pid1

import (
	"context"
	"errors"
	"fmt"

	"github.com/stead-os/stead/lib/api/iosteadmanager"
	"github.com/stead-os/stead/lib/unit"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Job modes accepted by io.stead.Manager.
const (
	ModeReplace = "replace"
	ModeFail    = "fail"
)

// Why a job cannot be queued: errShuttingDown and the error types below,
// each of which the Varlink layer maps to an io.stead.Manager error.
var errShuttingDown = errors.New("manager is shutting down")

// noSuchUnitError: no unit file of that name.
type noSuchUnitError struct{ name string }

func (e noSuchUnitError) Error() string { return "unit " + e.name + " not found" }

// notLoadedError: masked or unusable unit file.
type notLoadedError struct{ name, state string }

func (e notLoadedError) Error() string { return "unit " + e.name + " is " + e.state }

// notSupportedError: the unit cannot run this kind of job now.
type notSupportedError struct{ name, typ, why string }

func (e notSupportedError) Error() string { return e.why }

// conflictError: another job for the unit is queued or running.
type conflictError struct{ name, typ string }

func (e conflictError) Error() string {
	return fmt.Sprintf("unit %s has a queued %s job", e.name, e.typ)
}

// dependencyError: a required unit cannot be loaded.
type dependencyError struct{ err error }

func (e dependencyError) Error() string { return e.err.Error() }

// EnqueueMode is Enqueue with a job mode: with ModeFail a queued job of
// another kind for the unit is an error rather than replaced. The errors
// say why nothing was queued (unit not found or not loaded, reload not
// supported, conflict, missing dependency, shutdown).
func (m *Manager) EnqueueMode(name, typ, mode string) (*Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errShuttingDown
	}
	us, err := m.get(name)
	if err != nil {
		return nil, err
	}
	switch ls := us.u.LoadState; {
	case ls == unit.Loaded:
	case typ == JobStop && us.active != StateInactive && us.active != StateFailed:
		// A unit whose file went away can still be stopped.
	case ls == unit.NotFound:
		return nil, noSuchUnitError{name}
	default:
		return nil, notLoadedError{name, ls}
	}
	if typ == JobReload {
		if us.u.Type == "service" && len(us.u.Service.ExecReload) == 0 && us.u.Service.Type != "notify-reload" {
			return nil, notSupportedError{name, typ, "unit " + name + " has no ExecReload="}
		}
		if us.active != StateActive {
			return nil, notSupportedError{name, typ, "unit " + name + " is not active"}
		}
	}
	if err := checkManual(us, typ, mode); err != nil { // actions_linux.go
		return nil, err
	}
	if j := m.jobs[name]; j != nil && j.typ != typ && !(typ == JobStart && j.typ == JobRestart) {
		if mode == ModeFail || j.run {
			return nil, conflictError{name, j.typ}
		}
	}
	j, err := m.addJob(us, typ, nil, map[string]bool{})
	if err != nil {
		return nil, dependencyError{err}
	}
	if mode == ModeIsolate {
		m.isolateTo(us)
	}
	m.dispatch()
	return &Job{m: m, j: j}, nil
}

// State is "running" once the job executes, "waiting" before and
// "finished" after.
func (h *Job) State() string {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	switch {
	case h.j.result != "":
		return "finished"
	case h.j.run:
		return "running"
	}
	return "waiting"
}

// varlinkJobs serves io.stead.Manager.
type varlinkJobs struct{ m *Manager }

// jobReply is the shape every io.stead.Manager method replies with.
type jobReply func(ctx context.Context, jobID int64, unit, jobType string, state, result *string) error

func (v varlinkJobs) StartUnit(ctx context.Context, c iosteadmanager.VarlinkCall, name string, mode *iosteadmanager.JobMode) error {
	return v.run(ctx, &c, name, mode, JobStart, c.ReplyStartUnit)
}

func (v varlinkJobs) StopUnit(ctx context.Context, c iosteadmanager.VarlinkCall, name string, mode *iosteadmanager.JobMode) error {
	return v.run(ctx, &c, name, mode, JobStop, c.ReplyStopUnit)
}

func (v varlinkJobs) RestartUnit(ctx context.Context, c iosteadmanager.VarlinkCall, name string, mode *iosteadmanager.JobMode) error {
	return v.run(ctx, &c, name, mode, JobRestart, c.ReplyRestartUnit)
}

func (v varlinkJobs) ReloadUnit(ctx context.Context, c iosteadmanager.VarlinkCall, name string, mode *iosteadmanager.JobMode) error {
	return v.run(ctx, &c, name, mode, JobReload, c.ReplyReloadUnit)
}

// run queues a job of typ for name, optionally reports it queued (with
// 'more'), waits for it and replies with its result or JobFailed. A caller
// that hangs up does not cancel the job.
func (v varlinkJobs) run(ctx context.Context, c *iosteadmanager.VarlinkCall, name string, mode *iosteadmanager.JobMode, typ string, reply jobReply) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, c.Call); !ok {
		return err
	}
	md := ModeReplace
	if mode != nil {
		md = string(*mode)
	}
	if md != ModeReplace && md != ModeFail && (md != ModeIsolate || typ != JobStart) {
		return varlinkd.ReplyInvalidParameter(ctx, c.Call, "mode")
	}
	h, err := v.m.EnqueueMode(name, typ, md)
	if err != nil {
		return v.replyEnqueueError(ctx, c, name, typ, err)
	}
	v.m.log.Info("job queued over varlink", "unit", name, "type", typ, "id", h.ID())
	if c.WantsMore() {
		st := h.State()
		if st != "finished" {
			c.Continues = true
			if err := reply(ctx, int64(h.ID()), name, typ, &st, nil); err != nil {
				return err
			}
			c.Continues = false
		}
	}
	select {
	case <-h.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	res := h.Result()
	if res != ResultDone && res != ResultSkipped {
		return c.ReplyJobFailed(ctx, int64(h.ID()), name, typ, res)
	}
	return reply(ctx, int64(h.ID()), name, typ, nil, &res)
}

func (v varlinkJobs) replyEnqueueError(ctx context.Context, c *iosteadmanager.VarlinkCall, name, typ string, err error) error {
	var (
		nsu noSuchUnitError
		nl  notLoadedError
		ns  notSupportedError
		cf  conflictError
		dep dependencyError
		rf  refusedError
	)
	switch {
	case errors.Is(err, errShuttingDown):
		return c.ReplyShuttingDown(ctx)
	case errors.As(err, &nsu):
		return c.ReplyNoSuchUnit(ctx, name)
	case errors.As(err, &nl):
		return c.ReplyUnitNotLoaded(ctx, name, nl.state)
	case errors.As(err, &ns):
		return c.ReplyJobNotSupported(ctx, name, typ)
	case errors.As(err, &cf):
		return c.ReplyJobConflict(ctx, name, cf.typ)
	case errors.As(err, &rf):
		return c.ReplyOperationRefused(ctx, name, typ, rf.reason)
	case errors.As(err, &dep):
		v.m.log.Warn("job not queued", "unit", name, "type", typ, "err", err)
		return c.ReplyJobFailed(ctx, 0, name, typ, ResultDependency)
	}
	// unit.Load refuses invalid names and templates without an instance;
	// anything else is I/O.
	if _, _, _, tmpl, perr := unit.ParseName(name); perr != nil || tmpl {
		return varlinkd.ReplyInvalidParameter(ctx, c.Call, "name")
	}
	return varlinkd.ReplyErrno(ctx, c.Call, err)
}
