package oomd

import (
	"context"
	"regexp"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/api/iosteadoom"
	"github.com/stead-os/stead/lib/api/iosystemdoom"
	"github.com/stead-os/stead/lib/varlinkd"
)

// oomService implements io.systemd.oom.
type oomService struct{ m *Manager }

// userSlice finds the uid of the user-UID.slice a cgroup path lies in.
var userSlice = regexp.MustCompile(`/user-([0-9]+)\.slice(/|$)`)

// ownerUID is the uid owning a cgroup as upstream decides it for reports: the UID of the
// user-UID.slice on its path; ENXIO when the path is in no user slice.
func ownerUID(p string) (uint32, error) {
	m := userSlice.FindStringSubmatch(p)
	if m == nil {
		return 0, unix.ENXIO
	}
	n, err := strconv.ParseUint(m[1], 10, 32)
	if err != nil {
		return 0, unix.ENXIO
	}
	return uint32(n), nil
}

// ReportManagedOOMCGroups takes a user manager's settings. Callers other than root must own
// every group (lie in their user-UID.slice), else the whole call fails with EPERM.
func (s *oomService) ReportManagedOOMCGroups(ctx context.Context, c iosystemdoom.VarlinkCall, cgroups []iosystemdoom.ControlGroup) error {
	peer, ok := varlinkd.PeerOf(c.Call)
	if !ok {
		return varlinkd.ReplyErrno(ctx, c.Call, unix.EPERM)
	}
	var ws []Watch
	for _, cg := range cgroups {
		if peer.UID != 0 {
			uid, err := ownerUID(cg.Path)
			if err != nil {
				return varlinkd.ReplyErrno(ctx, c.Call, err)
			}
			if uid != peer.UID {
				return varlinkd.ReplyErrno(ctx, c.Call, unix.EPERM)
			}
		}
		w := Watch{Kill: cg.Mode == "kill", Path: cg.Path, Property: cg.Property, Limit: cg.Limit, Duration: cg.Duration}
		if cg.Rules != nil {
			w.Rules = *cg.Rules
		}
		ws = append(ws, w)
	}
	s.m.Apply("uid:"+strconv.FormatUint(uint64(peer.UID), 10), ws, false)
	return c.ReplyReportManagedOOMCGroups(ctx)
}

// describeService implements io.stead.oom.
type describeService struct{ m *Manager }

func (s *describeService) Describe(ctx context.Context, c iosteadoom.VarlinkCall) error {
	st := s.m.Describe()
	return c.ReplyDescribe(ctx, st.DryRun, st.SwapUsedLimit, st.DefaultMemoryPressureLimit,
		st.DefaultMemoryPressureDurationUSec, st.PrekillHookTimeoutUSec, st.System, st.SwapMonitored,
		st.MemoryPressureMonitored, st.RulesMonitored, st.Rulesets)
}

// Dispatchers are the interfaces oomd serves on its socket besides io.systemd.service.
func (m *Manager) Dispatchers() []varlinkd.Dispatcher {
	return []varlinkd.Dispatcher{iosystemdoom.VarlinkNew(&oomService{m}), iosteadoom.VarlinkNew(&describeService{m})}
}

func usec(d time.Duration) int64 { return int64(d / time.Microsecond) }

func clampInt(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}

// Describe reads the current state of everything oomd watches, as oomctl dump shows it.
func (m *Manager) Describe() *iosteadoom.State {
	m.mu.Lock()
	cfg := m.cfg
	swap := sortedKeys(m.swap)
	pressure := sortedKeys(m.pressure)
	type pw struct {
		limit    int
		duration time.Duration
		last     uint64
		seen     bool
	}
	pws := map[string]pw{}
	for _, p := range pressure {
		w := m.pressure[p]
		pws[p] = pw{w.limit, w.duration, w.pgscan, w.seen}
	}
	var rulesMon []iosteadoom.RulesCGroup
	for _, p := range sortedKeys(m.ruled) {
		rulesMon = append(rulesMon, iosteadoom.RulesCGroup{Path: p, Rules: append([]string(nil), m.ruled[p].rules...)})
	}
	var sets []iosteadoom.Ruleset
	for _, n := range sortedKeys(m.rules) {
		r := m.rules[n]
		rs := iosteadoom.Ruleset{Name: n, Action: string(r.Action), LastingUSec: usec(r.Lasting)}
		if r.MemoryPressureAbove >= 0 {
			v := int64(r.MemoryPressureAbove)
			rs.MemoryPressureAbove = &v
		}
		if r.SwapUsageMax >= 0 {
			v := int64(r.SwapUsageMax)
			rs.SwapUsageMax = &v
		}
		sets = append(sets, rs)
	}
	m.mu.Unlock()

	st := &iosteadoom.State{
		DryRun: m.dryRun, SwapUsedLimit: int64(cfg.SwapUsedLimit),
		DefaultMemoryPressureLimit:        int64(cfg.DefaultMemoryPressureLimit),
		DefaultMemoryPressureDurationUSec: usec(cfg.DefaultMemoryPressureDuration),
		PrekillHookTimeoutUSec:            usec(cfg.PrekillHookTimeout),
		SwapMonitored:                     []iosteadoom.SwapCGroup{},
		MemoryPressureMonitored:           []iosteadoom.PressureCGroup{},
		RulesMonitored:                    rulesMon,
		Rulesets:                          sets,
	}
	if st.RulesMonitored == nil {
		st.RulesMonitored = []iosteadoom.RulesCGroup{}
	}
	if st.Rulesets == nil {
		st.Rulesets = []iosteadoom.Ruleset{}
	}
	if sys, err := ReadMemInfo(m.root); err == nil {
		st.System = iosteadoom.SystemContext{MemoryUsed: clampInt(sys.MemUsed()), MemoryTotal: clampInt(sys.MemTotal),
			SwapUsed: clampInt(sys.SwapUsed()), SwapTotal: clampInt(sys.SwapTotal)}
	}
	for _, p := range swap {
		sc := iosteadoom.SwapCGroup{Path: p}
		if p != "/" {
			v, _, _ := m.fs.Uint(p, "memory.swap.current")
			n := clampInt(v)
			sc.SwapUsage = &n
		}
		st.SwapMonitored = append(st.SwapMonitored, sc)
	}
	for _, p := range pressure {
		w := pws[p]
		limit, dur := w.limit, w.duration
		if limit == 0 {
			limit = cfg.DefaultMemoryPressureLimit
		}
		if dur == 0 {
			dur = cfg.DefaultMemoryPressureDuration
		}
		pc := iosteadoom.PressureCGroup{Path: p, Limit: int64(limit), DurationUSec: usec(dur)}
		if rs, err := m.readState(p); err == nil {
			pc.Pressure = iosteadoom.Pressure{Avg10: rs.Pressure.Avg10, Avg60: rs.Pressure.Avg60, Avg300: rs.Pressure.Avg300, TotalUSec: clampInt(rs.Pressure.Total)}
			pc.CurrentMemoryUsage = clampInt(rs.Current)
			pc.Pgscan = clampInt(rs.Pgscan)
			if p != "/" {
				if rs.Min != nil {
					v := clampInt(*rs.Min)
					pc.MemoryMin = &v
				}
				if rs.Low != nil {
					v := clampInt(*rs.Low)
					pc.MemoryLow = &v
				}
			}
		}
		if w.seen {
			pc.LastPgscan = clampInt(w.last)
		}
		st.MemoryPressureMonitored = append(st.MemoryPressureMonitored, pc)
	}
	return st
}
