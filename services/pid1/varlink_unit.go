package pid1

import (
	"context"
	"path"

	"github.com/stead-os/stead/lib/api/iosystemdunit"
	"github.com/stead-os/stead/lib/unit"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

// The io.systemd.Unit reply types, under the names this package always used.
type (
	UnitContext = iosystemdunit.UnitContext
	UnitRuntime = iosystemdunit.UnitRuntime
)

type varlinkUnit struct{ m *Manager }

// cldCodes are waitid()'s CLD_* codes, as ExecCommandStatus.Code carries them.
var cldCodes = map[cldCode]int{cldExited: 1, cldKilled: 2, cldDumped: 3}

// cgroupTypes are the unit types that have a control group.
var cgroupTypes = map[string]bool{"service": true, "socket": true, "slice": true, "scope": true, "mount": true, "swap": true}

// cgroupContext is us's resource-control settings in the IDL's terms: the
// defaults stead runs with, and the unit's systemd-oomd settings. m.mu held.
func (m *Manager) cgroupContext(us *unitState) *iosystemdunit.CGroupContext {
	if !cgroupTypes[us.u.Type] || us.u.LoadState != unit.Loaded {
		return nil
	}
	o := m.managedOOM(us)
	cc := &iosystemdunit.CGroupContext{MemoryAccounting: true, MemoryZSwapWriteback: true, TasksAccounting: true,
		DevicePolicy: "auto", ManagedOOMSwap: o.Swap, ManagedOOMMemoryPressure: o.MemoryPressure,
		ManagedOOMPreference: o.Preference, OOMRules: o.Rules, MemoryPressureWatch: "auto",
		CPUPressureWatch: "auto", IOPressureWatch: "auto"}
	if parent := path.Dir(m.oomPath(us)); parent != "/" {
		cc.Slice = path.Base(parent) // the slice the unit's cgroup sits in
	}
	limit := oomLimit(o.MemoryPressureLimit)
	cc.ManagedOOMMemoryPressureLimit = &limit
	if o.MemoryPressureDuration > 0 {
		d := o.MemoryPressureDuration.Microseconds()
		cc.ManagedOOMMemoryPressureDurationUSec = &d
	}
	return cc
}

// describeDeps fills c's dependency lists from the symmetric graph: what
// the unit's files say, what upstream adds implicitly, and the reverse of
// every other loaded unit's dependencies on it. m.mu held.
func (m *Manager) describeDeps(c *UnitContext, us *unitState) {
	d := m.rels().deps[us.u.Name]
	c.Wants, c.WantedBy = d[unit.DepWants], d[unit.DepWantedBy]
	c.Requires, c.RequiredBy = d[unit.DepRequires], d[unit.DepRequiredBy]
	c.Requisite, c.RequisiteOf = d[unit.DepRequisite], d[unit.DepRequisiteOf]
	c.BindsTo, c.BoundBy = d[unit.DepBindsTo], d[unit.DepBoundBy]
	c.PartOf, c.ConsistsOf = d[unit.DepPartOf], d[unit.DepConsistsOf]
	c.Upholds, c.UpheldBy = d[unit.DepUpholds], d[unit.DepUpheldBy]
	c.Conflicts, c.ConflictedBy = d[unit.DepConflicts], d[unit.DepConflictedBy]
	c.Before, c.After = d[unit.DepBefore], d[unit.DepAfter]
	c.OnFailure, c.OnFailureOf = d[unit.DepOnFailure], d[unit.DepOnFailureOf]
	c.OnSuccess, c.OnSuccessOf = d[unit.DepOnSuccess], d[unit.DepOnSuccessOf]
	c.PropagatesReloadTo, c.ReloadPropagatedFrom = d[unit.DepPropagatesReloadTo], d[unit.DepReloadPropagatedFrom]
	c.PropagatesStopTo, c.StopPropagatedFrom = d[unit.DepPropagatesStopTo], d[unit.DepStopPropagatedFrom]
	c.JoinsNamespaceOf = d[unit.DepJoinsNamespaceOf]
	c.Triggers, c.TriggeredBy = d[unit.DepTriggers], d[unit.DepTriggeredBy]
	req, wants := us.u.MountPaths()
	c.RequiresMountsFor, c.WantsMountsFor = req, wants
}

// unitInfo describes us. m.mu held.
func (m *Manager) unitInfo(us *unitState) (UnitContext, UnitRuntime) {
	u := us.u
	c := UnitContext{Type: u.Type, ID: u.Name, Names: u.Names, Description: u.Unit.Description,
		Documentation: u.Unit.Documentation, DefaultDependencies: u.Unit.DefaultDependencies,
		FragmentPath: u.Fragment, DropInPaths: u.DropIns}
	if len(c.Names) == 0 {
		c.Names = []string{u.Name}
	}
	m.describeDeps(&c, us)
	r := UnitRuntime{LoadState: u.LoadState, ActiveState: us.active, SubState: string(us.sub),
		CanStart: u.LoadState == unit.Loaded, CanStop: u.LoadState == unit.Loaded,
		CanReload: u.Service != nil && (len(u.Service.ExecReload) > 0 || u.Service.Type == "notify-reload"), InvocationID: us.rt.invocationID,
		StateChangeTimestamp: us.rt.stateChange.timestamp(), ActiveEnterTimestamp: us.rt.activeEnter.timestamp(),
		ActiveExitTimestamp: us.rt.activeExit.timestamp(), InactiveEnterTimestamp: us.rt.inactiveEnter.timestamp(),
		InactiveExitTimestamp: us.rt.inactiveExit.timestamp(),
		ConditionResult:       us.rt.conditionResult, AssertResult: us.rt.assertResult,
		ConditionTimestamp: us.rt.conditionAt.timestamp(), AssertTimestamp: us.rt.assertAt.timestamp()}
	c.CGroup = m.cgroupContext(us)
	m.timerInfo(us, &c, &r) // varlink_timer.go
	if us.job != nil {
		id := us.job.id
		r.JobId = &id
	}
	if cg := m.controlGroup(us); cg != "" {
		r.CGroup = &iosystemdunit.CGroupRuntime{Path: cg}
	}
	if u.Type == "service" {
		sr := &iosystemdunit.ServiceRuntime{StatusText: us.svc.status, Result: us.result.wire(), NRestarts: us.svc.nRestarts,
			NFileDescriptorStore: len(us.svc.fdStore),
			ReloadResult:         resultSuccess.wire(), CleanResult: resultSuccess.wire(), LiveMountResult: resultSuccess.wire()}
		if us.svc.mainPID != 0 {
			sr.MainPID = &iosystemdunit.ProcessId{PID: int64(us.svc.mainPID)}
		}
		if us.svc.ctrlPID != 0 {
			sr.ControlPID = &iosystemdunit.ProcessId{PID: int64(us.svc.ctrlPID)}
		}
		if e := us.svc.execMain; e.pid != 0 {
			st := &iosystemdunit.ExecCommandStatus{PID: iosystemdunit.ProcessId{PID: int64(e.pid)},
				StartTimestamp: e.start.timestamp(), ExitTimestamp: e.leave.timestamp()}
			if code, ok := cldCodes[e.code]; ok {
				status := e.status
				st.Code, st.Status = &code, &status
			}
			sr.ExecMain = st
		}
		r.Service = sr
	}
	if mt := u.Mount; mt != nil {
		c.Mount = &iosystemdunit.MountContext{What: mt.What, Where: mt.Where, Type: mt.Type, Options: mt.Options,
			SloppyOptions: mt.SloppyOptions, LazyUnmount: mt.LazyUnmount, ReadWriteOnly: mt.ReadWriteOnly,
			ForceUnmount: mt.ForceUnmount, DirectoryMode: int(mt.DirectoryMode), TimeoutUSec: mt.Timeout.Microseconds()}
		mr := &iosystemdunit.MountRuntime{Result: us.result.wire(), ReloadResult: resultSuccess.wire(), CleanResult: resultSuccess.wire()}
		if us.mnt.ctrlPID != 0 {
			mr.ControlPID = &iosystemdunit.ProcessId{PID: int64(us.mnt.ctrlPID)}
		}
		r.Mount = mr
	}
	return c, r
}

// lookupForQuery returns the unit called name (or an alias of it) for List,
// loading it from disk if nothing referred to it yet (as upstream does, so
// that status and show work on any installed unit); an instance is loaded from
// its template on demand, as upstream. A unit without a file is nil, as
// upstream answers NoSuchUnit for it, and is not kept. Masked and bad-setting
// units are returned: List refuses them by name. m.mu held.
func (m *Manager) lookupForQuery(name string) *unitState {
	us, known := m.units[m.loader.id(name)]
	if known {
		if us.u.LoadState == unit.NotFound {
			return nil
		}
		return us
	}
	if _, _, _, tmpl, err := unit.ParseName(name); err != nil || tmpl {
		return nil
	}
	us, err := m.get(name)
	if err != nil {
		return nil
	}
	if us.u.LoadState == unit.NotFound {
		delete(m.units, us.u.Name)
		m.unitsChanged()
		return nil
	}
	return us
}

// List answers io.systemd.Unit.List: every loaded unit (with more), or the
// one a filter picks.
func (v varlinkUnit) List(ctx context.Context, c *varlink.Call, name *string, pid *iosystemdunit.ProcessId, cgroup *string, invocationID *string) error {
	m := v.m
	type item struct {
		C UnitContext `json:"context"`
		R UnitRuntime `json:"runtime"`
	}
	var items []item
	m.mu.Lock()
	switch {
	case cgroup != nil || invocationID != nil:
		for _, n := range m.listLocked() {
			us := m.units[n]
			if (cgroup != nil && m.controlGroup(us) == *cgroup && *cgroup != "") ||
				(invocationID != nil && us.rt.invocationID == *invocationID && *invocationID != "") {
				uc, ur := m.unitInfo(us)
				items = append(items, item{uc, ur})
			}
		}
	case pid != nil:
		p := int(pid.PID)
		if p < 0 {
			m.mu.Unlock()
			return varlinkd.ReplyInvalidParameter(ctx, *c, "pid")
		}
		if p == 0 {
			if peer, ok := varlinkd.PeerOf(*c); ok {
				p = int(peer.PID)
			}
		}
		if pr := m.pids[p]; pr != nil && pr.us != nil { // a generator belongs to no unit
			uc, ur := m.unitInfo(pr.us)
			items = append(items, item{uc, ur})
		}
	case name != nil:
		us := m.lookupForQuery(*name)
		var loadErr string
		switch {
		case us == nil:
		case us.u.LoadState == unit.Masked: // as upstream: no unit data for these
			loadErr = iosystemdunit.ErrorUnitMasked
		case us.u.LoadState == unit.BadSetting:
			loadErr = iosystemdunit.ErrorUnitError
		default:
			uc, ur := m.unitInfo(us)
			items = append(items, item{uc, ur})
		}
		if loadErr != "" {
			m.mu.Unlock()
			return varlinkd.ReplyError(ctx, *c, loadErr, nil)
		}
	default:
		for _, s := range m.listLocked() {
			uc, ur := m.unitInfo(m.units[s])
			items = append(items, item{uc, ur})
		}
	}
	m.mu.Unlock()

	if len(items) == 0 {
		var p iosystemdunit.NoSuchUnit
		param := ""
		switch {
		case cgroup != nil:
			param = "cgroup"
		case invocationID != nil:
			param = "invocationID"
		case pid != nil:
			param = "pid"
		case name != nil:
			param = "name"
		}
		if param != "" {
			p.Parameter = &param
		}
		return varlinkd.ReplyError(ctx, *c, iosystemdunit.ErrorNoSuchUnit, p)
	}
	return varlinkd.ReplyList(ctx, c, items)
}
