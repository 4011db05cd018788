package oomd

import (
	"math/bits"
	"sort"
	"strings"
	"time"
)

// maxDepth bounds the walk of a watched subtree.
const maxDepth = 64

// overFraction reports whether a/b > t/10000, exactly.
func overFraction(a, b uint64, t int) bool {
	hi1, lo1 := bits.Mul64(a, permyriadMax)
	hi2, lo2 := bits.Mul64(b, uint64(t))
	return hi1 > hi2 || (hi1 == hi2 && lo1 > lo2)
}

// belowFraction reports whether a/b < t/10000, exactly.
func belowFraction(a, b uint64, t int) bool {
	hi1, lo1 := bits.Mul64(a, permyriadMax)
	hi2, lo2 := bits.Mul64(b, uint64(t))
	return hi1 < hi2 || (hi1 == hi2 && lo1 < lo2)
}

// SwapRound is one round of the swap monitor (every SwapInterval while any group has
// ManagedOOMSwap=kill): when both available memory and free swap are below 100% −
// SwapUsedLimit=, it kills the leaf (or memory.oom.group) descendant of the watched groups
// using the most swap, if it uses more than 5% of the swap. It returns the killed group, or "".
func (m *Manager) SwapRound() string {
	m.mu.Lock()
	if len(m.swap) == 0 {
		m.mu.Unlock()
		return ""
	}
	sys, err := ReadMemInfo(m.root)
	if err != nil {
		m.mu.Unlock()
		m.log.Debug("cannot read meminfo", "err", err)
		return ""
	}
	m.sys = sys
	limit := m.cfg.SwapUsedLimit
	watched := sortedKeys(m.swap)
	m.mu.Unlock()

	free := permyriadMax - limit
	if sys.SwapTotal == 0 || !belowFraction(sys.MemAvailable, sys.MemTotal, free) || !belowFraction(sys.SwapFree, sys.SwapTotal, free) {
		return ""
	}
	m.log.Debug("memory and swap above the limit", "memoryUsed", sys.MemUsed(), "memoryTotal", sys.MemTotal,
		"swapUsed", sys.SwapUsed(), "swapTotal", sys.SwapTotal, "limit", FormatPermyriad(int64(limit)))
	var cands []*cgroupState
	seen := map[string]bool{}
	for _, p := range watched {
		for _, c := range m.candidates(p, nil) {
			if !seen[c.Path] {
				seen[c.Path] = true
				cands = append(cands, c)
			}
		}
	}
	threshold := sys.SwapTotal * SwapCandidateThreshold / 100
	sortBySwap(cands)
	for _, c := range cands {
		if c.Swap <= threshold {
			continue
		}
		if m.kill(c.Path, "memory-used", "memoryUsed", sys.MemUsed(), "memoryTotal", sys.MemTotal,
			"swapUsed", sys.SwapUsed(), "swapTotal", sys.SwapTotal, "swapUsedLimit", FormatPermyriad(int64(limit)),
			"cgroupSwap", c.Swap) {
			return c.Path
		}
	}
	if len(cands) == 0 {
		m.log.Debug("no candidates for a swap kill")
	}
	return ""
}

// PressureRound is one round of the memory pressure monitor (every PressureInterval): a
// watched group whose "full avg10" stayed above its limit for its duration, with reclaim
// (pgscan growth) in the last 30 s, has its descendant with the highest pgscan rate killed.
// At most one group is killed per round, and none for 15 s after a kill. It returns the
// killed group, or "".
func (m *Manager) PressureRound() string {
	now := m.clock.Now()
	m.mu.Lock()
	if len(m.pressure) == 0 {
		m.candPgscan = map[string]uint64{}
		m.mu.Unlock()
		return ""
	}
	cfg := m.cfg
	paths := sortedKeys(m.pressure)
	for _, p := range paths {
		w := m.pressure[p]
		st, err := m.readState(p)
		if err != nil {
			m.log.Debug("cannot read watched group", "cgroup", p, "err", err)
			w.hitStart, w.seen = 0, false
			continue
		}
		if w.seen {
			st.Last = w.pgscan
		}
		if st.rate() > 0 {
			w.lastReclaim = now
		}
		w.pgscan, w.seen, w.last = st.Pgscan, true, *st
	}
	// The candidates' readings, for their pgscan rates, every round.
	prev := m.candPgscan
	m.mu.Unlock()
	cands := map[string][]*cgroupState{}
	next := map[string]uint64{}
	for _, p := range paths {
		cands[p] = m.candidates(p, prev)
		for _, c := range cands[p] {
			next[c.Path] = c.Pgscan
		}
	}
	m.mu.Lock()
	m.candPgscan = next
	if m.pauseUntil > 0 {
		if now < m.pauseUntil {
			m.mu.Unlock()
			return ""
		}
		m.pauseUntil = 0
	}
	type target struct {
		path     string
		pressure int64
		limit    int
		duration time.Duration
	}
	var targets []target
	for _, p := range paths {
		w := m.pressure[p]
		if w == nil || !w.seen {
			continue
		}
		limit, dur := w.limit, w.duration
		if limit == 0 {
			limit = cfg.DefaultMemoryPressureLimit
		}
		if dur == 0 {
			dur = cfg.DefaultMemoryPressureDuration
		}
		if w.last.Pressure.Avg10 <= int64(limit) {
			w.hitStart = 0
			continue
		}
		if w.hitStart == 0 {
			w.hitStart = now
		}
		if now-w.hitStart < dur {
			continue
		}
		if w.lastReclaim == 0 || now-w.lastReclaim > ReclaimWindow {
			m.log.Debug("memory pressure above the limit but no reclaim activity", "cgroup", p)
			continue
		}
		targets = append(targets, target{p, w.last.Pressure.Avg10, limit, dur})
	}
	m.mu.Unlock()

	for _, t := range targets {
		cs := cands[t.path]
		sortByPgscan(cs)
		for _, c := range cs {
			if c.rate() == 0 && c.Current == 0 {
				continue
			}
			if m.kill(c.Path, "memory-pressure", "monitored", t.path,
				"pressure", FormatPermyriad(t.pressure), "limit", FormatPermyriad(int64(t.limit)),
				"duration", t.duration.String(), "pgscanRate", c.rate(), "memoryCurrent", c.Current) {
				m.mu.Lock()
				m.pauseUntil = now + PostActionDelay
				m.mu.Unlock()
				return c.Path
			}
		}
		m.log.Debug("no candidates for a memory pressure kill", "cgroup", t.path)
	}
	return ""
}

// fired is one ruleset whose conditions held for long enough on one group.
type fired struct {
	rule  *Rule
	group string
	start time.Duration
	why   []any
}

// RulesRound is one round of the OOM rules (every RulesInterval while any group has
// OOMRules=): for each (ruleset, group) all conditions must hold (memory pressure "full
// avg10" above MemoryPressureAbove=, system swap use above SwapUsageMax=) for LastingSec=,
// measured from the first round they held; then the action runs and the timer is cleared.
// At most one group is killed per round. It returns the killed group, or "".
func (m *Manager) RulesRound() string {
	now := m.clock.Now()
	m.mu.Lock()
	if len(m.ruled) == 0 {
		m.rulesPgscan = map[string]uint64{}
		m.mu.Unlock()
		return ""
	}
	sys, sysErr := ReadMemInfo(m.root)
	if sysErr == nil {
		m.sys = sys
	}
	paths := sortedKeys(m.ruled)
	prev := m.rulesPgscan
	next := map[string]uint64{}
	var fires []fired
	for _, p := range paths {
		w := m.ruled[p]
		pr, prErr := m.fs.MemoryPressure(p)
		if pg, err := m.fs.Pgscan(p); err == nil {
			self := cgroupState{Pgscan: pg, Last: prev["="+p]} // the group's own reading, keyed apart
			if self.rate() > 0 {
				m.rulesSeen[p] = now
			}
			next["="+p] = pg
		}
		for _, name := range w.rules {
			r := m.rules[name]
			key := ruleKey{name, p}
			if r == nil {
				if !m.undefWarn[key] {
					m.undefWarn[key] = true
					m.log.Warn("control group refers to an undefined ruleset, ignoring it", "cgroup", p, "ruleset", name)
				}
				continue
			}
			met := true
			var why []any
			if r.MemoryPressureAbove >= 0 {
				met = met && prErr == nil && pr.Avg10 > int64(r.MemoryPressureAbove)
				why = append(why, "pressure", FormatPermyriad(pr.Avg10), "memoryPressureAbove", FormatPermyriad(int64(r.MemoryPressureAbove)))
			}
			if r.SwapUsageMax >= 0 {
				met = met && sysErr == nil && sys.SwapTotal > 0 && overFraction(sys.SwapUsed(), sys.SwapTotal, r.SwapUsageMax)
				why = append(why, "swapUsed", sys.SwapUsed(), "swapTotal", sys.SwapTotal, "swapUsageMax", FormatPermyriad(int64(r.SwapUsageMax)))
			}
			start, timing := m.ruleStart[key]
			if !met {
				if timing {
					m.log.Debug("rule conditions no longer met, resetting its timer", "ruleset", name, "cgroup", p)
					delete(m.ruleStart, key)
				}
				continue
			}
			if !timing {
				start = now
				m.ruleStart[key] = now
			}
			if now-start < r.Lasting {
				m.log.Debug("rule conditions met, waiting", "ruleset", name, "cgroup", p, "for", (now - start).String(), "need", r.Lasting.String())
				continue
			}
			delete(m.ruleStart, key)
			fires = append(fires, fired{r, p, start, append(why, "lasting", (now - start).String(), "action", string(r.Action))})
		}
	}
	m.mu.Unlock()

	// Pgscan rates of the descendants of groups with a kill-by-pgscan rule.
	cands := map[string][]*cgroupState{}
	for _, p := range paths {
		m.mu.Lock()
		w := m.ruled[p]
		need := false
		if w != nil {
			for _, n := range w.rules {
				if r := m.rules[n]; r != nil && r.Action == ActionKillByPgscan {
					need = true
				}
			}
		}
		m.mu.Unlock()
		if !need {
			continue
		}
		cands[p] = m.candidates(p, prev)
		for _, c := range cands[p] {
			next[c.Path] = c.Pgscan
		}
	}
	m.mu.Lock()
	m.rulesPgscan = next
	m.mu.Unlock()

	for i, f := range fires {
		if g := m.ruleAction(f, now, sys, cands[f.group]); g != "" {
			// One kill per round: the other rules that fired keep their timers.
			m.mu.Lock()
			for _, o := range fires[i+1:] {
				m.ruleStart[ruleKey{o.rule.Name, o.group}] = o.start
			}
			m.mu.Unlock()
			return g
		}
	}
	return ""
}

// ruleAction runs a fired rule's action; it returns the killed group, or "".
func (m *Manager) ruleAction(f fired, now time.Duration, sys MemInfo, cands []*cgroupState) string {
	reason := "rule " + f.rule.Name
	attrs := append([]any{"monitored", f.group}, f.why...)
	switch f.rule.Action {
	case ActionKillAll:
		if m.kill(f.group, reason, attrs...) {
			return f.group
		}
	case ActionKillByPgscan:
		m.mu.Lock()
		seen := m.rulesSeen[f.group]
		m.mu.Unlock()
		if seen == 0 || now-seen > ReclaimWindow {
			m.log.Info("no reclaim activity, skipping the pgscan-based action", "ruleset", f.rule.Name, "cgroup", f.group)
			return ""
		}
		if cands == nil {
			cands = m.candidates(f.group, nil)
		}
		sortByPgscan(cands)
		for _, c := range cands {
			if c.rate() == 0 && c.Current == 0 {
				continue
			}
			if m.kill(c.Path, reason, append(attrs, "pgscanRate", c.rate(), "memoryCurrent", c.Current)...) {
				return c.Path
			}
		}
	case ActionKillBySwap:
		if sys.SwapTotal == 0 {
			m.mu.Lock()
			warned := m.noSwapWarn[f.rule.Name]
			m.noSwapWarn[f.rule.Name] = true
			m.mu.Unlock()
			if !warned {
				m.log.Warn("rule uses kill-by-swap but there is no swap, skipping", "ruleset", f.rule.Name)
			}
			return ""
		}
		cs := m.candidates(f.group, nil)
		sortBySwap(cs)
		threshold := sys.SwapTotal * SwapCandidateThreshold / 100
		for _, c := range cs {
			if c.Swap <= threshold {
				continue
			}
			if m.kill(c.Path, reason, append(attrs, "cgroupSwap", c.Swap)...) {
				return c.Path
			}
		}
	}
	return ""
}

// readState reads one group's memory files. memory.current is required (its absence means
// the group is gone); the others default to 0.
func (m *Manager) readState(p string) (*cgroupState, error) {
	cur, _, err := m.fs.Uint(p, "memory.current")
	if err != nil {
		return nil, err
	}
	st := &cgroupState{Path: p, Current: cur}
	st.Pressure, _ = m.fs.MemoryPressure(p)
	st.Pgscan, _ = m.fs.Pgscan(p)
	st.Swap, _, _ = m.fs.Uint(p, "memory.swap.current")
	if v, ok, err := m.fs.Uint(p, "memory.min"); err == nil && ok {
		st.Min = &v
	}
	if v, ok, err := m.fs.Uint(p, "memory.low"); err == nil && ok {
		st.Low = &v
	}
	return st, nil
}

// candidates returns the groups a kill under prefix may pick: prefix itself when it is a leaf
// or has memory.oom.group=1, else, recursively, its children that are. Groups with
// ManagedOOMPreference=omit are left out. prev holds the pgscan of the previous reading
// (nil: rates are the whole counters). Groups that vanish during the walk are skipped.
func (m *Manager) candidates(prefix string, prev map[string]uint64) []*cgroupState {
	prefixOwner, ownerErr := m.fs.Owner(prefix)
	var out []*cgroupState
	var walk func(p string, depth int)
	walk = func(p string, depth int) {
		if depth > maxDepth {
			return
		}
		var kids []string
		if !m.fs.OOMGroup(p) {
			var err error
			kids, err = m.fs.Children(p)
			if err != nil {
				return // gone
			}
		}
		if len(kids) > 0 {
			for _, k := range kids {
				walk(k, depth+1)
			}
			return
		}
		st, err := m.readState(p)
		if err != nil {
			return
		}
		if prev != nil {
			st.Last = prev[p]
		}
		if ownerErr == nil {
			st.Pref = m.preference(p, prefixOwner)
		}
		if st.Pref != prefOmit {
			out = append(out, st)
		}
	}
	walk(prefix, 0)
	return out
}

// preference reads user.oomd_avoid and user.oomd_omit, honoured only when the group belongs to
// root or to the owner of the watched ancestor (so that a delegated user cannot shield its
// groups at others' expense). omit wins over avoid.
func (m *Manager) preference(p string, prefixOwner uint32) preference {
	uid, err := m.fs.Owner(p)
	if err != nil || (uid != 0 && uid != prefixOwner) {
		return prefNone
	}
	pref := prefNone
	if m.fs.XAttrBool(p, "user.oomd_avoid") {
		pref = prefAvoid
	}
	if m.fs.XAttrBool(p, "user.oomd_omit") {
		pref = prefOmit
	}
	return pref
}

// sortBySwap orders swap-kill candidates: avoided groups last, then most swap first.
func sortBySwap(cs []*cgroupState) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Pref != b.Pref {
			return a.Pref < b.Pref
		}
		if a.Swap != b.Swap {
			return a.Swap > b.Swap
		}
		return strings.Compare(a.Path, b.Path) < 0
	})
}

// sortByPgscan orders pressure-kill candidates: avoided groups last, then the highest pgscan
// rate, then the most memory.
func sortByPgscan(cs []*cgroupState) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Pref != b.Pref {
			return a.Pref < b.Pref
		}
		if a.rate() != b.rate() {
			return a.rate() > b.rate()
		}
		if a.Current != b.Current {
			return a.Current > b.Current
		}
		return strings.Compare(a.Path, b.Path) < 0
	})
}
