package pid1

import (
	"context"
	"sort"

	"github.com/stead-os/stead/lib/api/iosystemdjob"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

// varlinkJobList serves io.systemd.Job: the job queue as upstream exposes it.
type varlinkJobList struct{ m *Manager }

// wireJob renders j; our job types are upstream's JobType values.
func wireJob(j *job) iosystemdjob.Job {
	name := j.us.u.Name
	state := "waiting"
	if j.run {
		state = "running"
	}
	return iosystemdjob.Job{ID: int64(j.id), Unit: &name, JobType: j.typ, State: &state}
}

// queuedJobs lists the queue sorted by job number. m.mu held.
func (m *Manager) queuedJobs() []*job {
	js := make([]*job, 0, len(m.jobs))
	for _, j := range m.jobs {
		js = append(js, j)
	}
	sort.Slice(js, func(a, b int) bool { return js[a].id < js[b].id })
	return js
}

func (v varlinkJobList) List(ctx context.Context, c *varlink.Call, id *int64, unitName *string) error {
	m := v.m
	m.mu.Lock()
	var out []iosystemdjob.Job
	for _, j := range m.queuedJobs() {
		if (id != nil && int64(j.id) != *id) || (unitName != nil && j.us.u.Name != *unitName) {
			continue
		}
		out = append(out, wireJob(j))
	}
	m.mu.Unlock()
	if len(out) == 0 {
		var p iosystemdjob.NoSuchJob
		switch {
		case id != nil:
			s := "id"
			p.Parameter = &s
		case unitName != nil:
			s := "unit"
			p.Parameter = &s
		}
		return varlinkd.ReplyError(ctx, *c, iosystemdjob.ErrorNoSuchJob, p)
	}
	return varlinkd.ReplyList(ctx, c, out)
}

func (v varlinkJobList) Cancel(ctx context.Context, c *varlink.Call, id int64) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, *c); !ok {
		return err
	}
	m := v.m
	m.mu.Lock()
	var found *job
	for _, j := range m.jobs {
		if int64(j.id) == id {
			found = j
		}
	}
	if found != nil {
		m.cancelJob(found)
	}
	m.mu.Unlock()
	if found == nil {
		s := "id"
		return varlinkd.ReplyError(ctx, *c, iosystemdjob.ErrorNoSuchJob, iosystemdjob.NoSuchJob{Parameter: &s})
	}
	return c.Reply(ctx, struct{}{})
}

func (v varlinkJobList) ClearAll(ctx context.Context, c *varlink.Call) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, *c); !ok {
		return err
	}
	m := v.m
	m.mu.Lock()
	for _, j := range m.queuedJobs() {
		m.cancelJob(j)
	}
	m.mu.Unlock()
	return c.Reply(ctx, struct{}{})
}

// cancelJob ends j with result canceled, as upstream's Cancel does: a
// running job stops being tracked, what it already did to its unit stays
// (a service that is starting keeps starting). m.mu held.
func (m *Manager) cancelJob(j *job) {
	m.log.Info("job canceled", "unit", j.us.u.Name, "type", j.typ, "id", j.id)
	m.finishJob(j, ResultCanceled)
	m.dispatch()
}
