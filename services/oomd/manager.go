package oomd

import (
	"log/slog"
	"path"
	"sort"
	"sync"
	"time"
)

// Clock is the monotonic time the monitors see; tests drive a fake one.
type Clock interface {
	Now() time.Duration
}

// realClock counts from the daemon's start.
type realClock struct{ start time.Time }

func (c realClock) Now() time.Duration { return time.Since(c.start) + time.Nanosecond }

// Where a watch came from: the service manager (PID 1) or a user manager's report.
const sourceSystem = "system"

// pressureWatch is one group with ManagedOOMMemoryPressure=kill.
type pressureWatch struct {
	limit    int           // ‱; 0 = DefaultMemoryPressureLimit
	duration time.Duration // 0 = DefaultMemoryPressureDuration
	source   string

	hitStart    time.Duration // when the pressure went above the limit; 0 = it is not
	lastReclaim time.Duration // last round that saw pgscan grow; 0 = never
	pgscan      uint64        // at the last round
	seen        bool          // pgscan holds a reading
	last        cgroupState   // the last reading, for Describe
}

// rulesWatch is one group with OOMRules=.
type rulesWatch struct {
	rules  []string
	source string
}

// ruleKey is one (ruleset, group) pair whose conditions hold.
type ruleKey struct{ rule, cgroup string }

// cgroupState is one reading of a group's memory files.
type cgroupState struct {
	Path     string
	Pressure Pressure
	Pgscan   uint64
	Last     uint64 // pgscan at the previous reading; the rate is Pgscan − Last
	Current  uint64
	Swap     uint64
	Min, Low *uint64
	Pref     preference
}

// rate is the pgscan growth since the previous reading (a counter that went back counts from 0).
func (c *cgroupState) rate() uint64 {
	if c.Last > c.Pgscan {
		return c.Pgscan
	}
	return c.Pgscan - c.Last
}

// preference is ManagedOOMPreference= as the xattrs tell it.
type preference int

const (
	prefNone preference = iota
	prefAvoid
	prefOmit
)

// Manager is oomd's state: its configuration and rulesets, the groups it watches and what the
// monitors remember between rounds. Its methods are safe for concurrent use.
type Manager struct {
	root   string
	fs     *CGroupFS
	clock  Clock
	log    *slog.Logger
	dryRun bool
	killer Killer

	mu       sync.Mutex
	cfg      Config
	rules    map[string]*Rule
	swap     map[string]string // group → source
	pressure map[string]*pressureWatch
	ruled    map[string]*rulesWatch

	ruleStart   map[ruleKey]time.Duration
	candPgscan  map[string]uint64 // pressure candidates' pgscan at the last round
	rulesPgscan map[string]uint64 // rules candidates' pgscan at the last round
	rulesSeen   map[string]time.Duration
	pauseUntil  time.Duration // no pressure kill before this
	sys         MemInfo
	noSwapWarn  map[string]bool
	undefWarn   map[ruleKey]bool
}

// NewManager makes a manager over the tree under root with the default configuration.
func NewManager(root string, fs *CGroupFS, clock Clock, log *slog.Logger, dryRun bool) *Manager {
	if fs == nil {
		fs = NewCGroupFS(root)
	}
	if clock == nil {
		clock = realClock{time.Now()}
	}
	m := &Manager{root: root, fs: fs, clock: clock, log: log, dryRun: dryRun,
		cfg: DefaultConfig(), rules: map[string]*Rule{},
		swap: map[string]string{}, pressure: map[string]*pressureWatch{}, ruled: map[string]*rulesWatch{},
		ruleStart: map[ruleKey]time.Duration{}, candPgscan: map[string]uint64{}, rulesPgscan: map[string]uint64{},
		rulesSeen: map[string]time.Duration{}, noSwapWarn: map[string]bool{}, undefWarn: map[ruleKey]bool{}}
	m.killer = &cgroupKiller{m: m}
	return m
}

// SetConfig replaces the configuration and the rulesets.
func (m *Manager) SetConfig(c Config, rules map[string]*Rule) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg = c
	if rules != nil {
		m.rules = rules
		for k := range m.ruleStart {
			if _, ok := rules[k.rule]; !ok {
				delete(m.ruleStart, k)
			}
		}
		m.undefWarn = map[ruleKey]bool{}
	}
}

// Config returns the configuration in use.
func (m *Manager) Config() Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// Watch is one watched setting, as io.systemd.ManagedOOM and io.systemd.oom carry it.
type Watch struct {
	Kill     bool // mode kill; false (auto) stops watching
	Path     string
	Property string
	Limit    *int64 // fraction of 2³²−1
	Duration *int64 // µs
	Rules    []string
}

// Apply takes watches from source. replace drops source's earlier watches first (the first
// reply of a new subscription lists everything).
func (m *Manager) Apply(source string, ws []Watch, replace bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if replace {
		for p, s := range m.swap {
			if s == source {
				delete(m.swap, p)
			}
		}
		for p, w := range m.pressure {
			if w.source == source {
				delete(m.pressure, p)
			}
		}
		for p, w := range m.ruled {
			if w.source == source {
				delete(m.ruled, p)
			}
		}
	}
	for _, w := range ws {
		if w.Path == "" || w.Path[0] != '/' || path.Clean(w.Path) != w.Path {
			m.log.Warn("non-normalized cgroup path, ignoring", "cgroup", w.Path)
			continue
		}
		switch w.Property {
		case "ManagedOOMSwap":
			if w.Kill {
				m.swap[w.Path] = source
			} else {
				delete(m.swap, w.Path)
			}
		case "ManagedOOMMemoryPressure":
			if !w.Kill {
				delete(m.pressure, w.Path)
				continue
			}
			pw := m.pressure[w.Path]
			if pw == nil {
				pw = &pressureWatch{}
				m.pressure[w.Path] = pw
			}
			pw.source = source
			pw.limit, pw.duration = 0, 0
			if w.Limit != nil && *w.Limit > 0 {
				pw.limit = fractionToPermyriad(*w.Limit)
			}
			if w.Duration != nil && *w.Duration > 0 {
				pw.duration = time.Duration(*w.Duration) * time.Microsecond
			}
		case "OOMRules":
			if !w.Kill || len(w.Rules) == 0 {
				delete(m.ruled, w.Path)
				m.dropRuleTimers(w.Path)
				continue
			}
			m.ruled[w.Path] = &rulesWatch{rules: append([]string(nil), w.Rules...), source: source}
		default:
			m.log.Warn("unknown property, ignoring", "property", w.Property, "cgroup", w.Path)
		}
	}
}

func (m *Manager) dropRuleTimers(p string) {
	for k := range m.ruleStart {
		if k.cgroup == p {
			delete(m.ruleStart, k)
		}
	}
}

// fractionToPermyriad turns a fraction of 2³²−1 into ‱, rounded.
func fractionToPermyriad(f int64) int {
	const max = 1<<32 - 1
	if f >= max {
		return permyriadMax
	}
	return int((uint64(f)*permyriadMax + max/2) / max)
}

// sortedKeys returns m's keys sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
