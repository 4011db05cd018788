package pid1

import (
	"context"
	"encoding/json"

	"github.com/stead-os/stead/lib/api/iosystemdunit"
	"github.com/stead-os/stead/lib/varlinkd"
)

// UnitContext is the part of upstream's UnitContext stead fills in.
type UnitContext struct {
	Type                string   `json:"Type"`
	ID                  string   `json:"ID"`
	Names               []string `json:"Names"`
	Description         string   `json:"Description"`
	Requires            []string `json:"Requires,omitempty"`
	Requisite           []string `json:"Requisite,omitempty"`
	Wants               []string `json:"Wants,omitempty"`
	BindsTo             []string `json:"BindsTo,omitempty"`
	PartOf              []string `json:"PartOf,omitempty"`
	Conflicts           []string `json:"Conflicts,omitempty"`
	Before              []string `json:"Before,omitempty"`
	After               []string `json:"After,omitempty"`
	DefaultDependencies bool     `json:"DefaultDependencies"`
	FragmentPath        string   `json:"FragmentPath,omitempty"`
	DropInPaths         []string `json:"DropInPaths,omitempty"`
	Transient           bool     `json:"Transient"`
	Perpetual           bool     `json:"Perpetual"`
	DebugInvocation     bool     `json:"DebugInvocation"`
}

// UnitRuntime is the part of upstream's UnitRuntime stead fills in.
type UnitRuntime struct {
	LoadState   string `json:"LoadState"`
	ActiveState string `json:"ActiveState"`
	SubState    string `json:"SubState"`
	CanStart    bool   `json:"CanStart"`
	CanStop     bool   `json:"CanStop"`
	CanReload   bool   `json:"CanReload"`
	JobId       *int   `json:"JobId,omitempty"` //nolint:revive // upstream's spelling
}

type varlinkUnit struct{ m *Manager }

// unitInfo describes us. m.mu held.
func (m *Manager) unitInfo(us *unitState) (UnitContext, UnitRuntime) {
	u := us.u
	c := UnitContext{Type: u.Type, ID: u.Name, Names: []string{u.Name}, Description: u.Unit.Description,
		Requires: u.Unit.Requires, Requisite: u.Unit.Requisite, Wants: u.Unit.Wants, BindsTo: u.Unit.BindsTo,
		PartOf: u.Unit.PartOf, Conflicts: u.Unit.Conflicts, Before: u.Unit.Before, After: u.Unit.After,
		DefaultDependencies: u.Unit.DefaultDependencies, FragmentPath: u.Fragment, DropInPaths: u.DropIns}
	r := UnitRuntime{LoadState: u.LoadState, ActiveState: us.active, SubState: us.sub,
		CanStart: u.LoadState == "loaded", CanStop: u.LoadState == "loaded",
		CanReload: u.Service != nil && len(u.Service.ExecReload) > 0}
	if us.job != nil {
		id := us.job.id
		r.JobId = &id
	}
	return c, r
}

func (v varlinkUnit) List(ctx context.Context, c iosystemdunit.VarlinkCall, name *string, pid *json.RawMessage, cgroup *string, invocationID *string) error {
	m := v.m
	type item struct {
		c UnitContext
		r UnitRuntime
	}
	var items []item
	m.mu.Lock()
	switch {
	case cgroup != nil || invocationID != nil:
		// no cgroups or invocation IDs in host mode
	case pid != nil:
		var p struct {
			PID int `json:"pid"`
		}
		if err := json.Unmarshal(*pid, &p); err != nil || p.PID < 0 {
			m.mu.Unlock()
			return varlinkd.ReplyInvalidParameter(ctx, c.Call, "pid")
		}
		if p.PID == 0 {
			if peer, ok := varlinkd.PeerOf(c.Call); ok {
				p.PID = int(peer.PID)
			}
		}
		if pr := m.pids[p.PID]; pr != nil {
			uc, ur := m.unitInfo(pr.us)
			items = append(items, item{uc, ur})
		}
	case name != nil:
		if us, ok := m.units[*name]; ok {
			uc, ur := m.unitInfo(us)
			items = append(items, item{uc, ur})
		}
	default:
		for _, s := range m.listLocked() {
			uc, ur := m.unitInfo(m.units[s])
			items = append(items, item{uc, ur})
		}
	}
	m.mu.Unlock()

	filtered := name != nil || pid != nil || cgroup != nil || invocationID != nil
	if len(items) == 0 {
		param := "name"
		switch {
		case cgroup != nil:
			param = "cgroup"
		case invocationID != nil:
			param = "invocationID"
		case pid != nil:
			param = "pid"
		case !filtered:
			param = ""
		}
		if param == "" {
			return c.ReplyNoSuchUnit(ctx, nil)
		}
		return c.ReplyNoSuchUnit(ctx, &param)
	}
	if !c.WantsMore() && len(items) > 1 {
		return varlinkd.ReplyExpectedMore(ctx, c.Call)
	}
	for i, it := range items {
		cj, err := json.Marshal(it.c)
		if err != nil {
			return err
		}
		rj, err := json.Marshal(it.r)
		if err != nil {
			return err
		}
		c.Continues = c.WantsMore() && i < len(items)-1
		if err := c.ReplyList(ctx, cj, rj); err != nil {
			return err
		}
	}
	return nil
}
