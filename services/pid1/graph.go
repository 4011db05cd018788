package pid1

// Loading units as upstream does: a unit is loaded with every unit it names
// (so that the reverse dependencies — WantedBy=, RequiredBy=, ConflictedBy=,
// TriggeredBy=, … — are known for the units that exist), an alias loads the
// unit it points at (one unit, several names), and dependency lists name units
// by their ids, never by an alias. The symmetric graph itself is built with
// the other relations in ordering.go (buildDeps).

import (
	"path"
	"sort"
	"strings"

	"github.com/stead-os/stead/lib/unit"
)

// unitLoader is the manager's loading state. m.mu guards it.
type unitLoader struct {
	aliases map[string]string // alias → unit id, for every loaded unit's other names
	names   *unit.NameMap     // the search path's alias symlinks; nil: read them at the next load
	queue   []string          // names referred to by loaded units, still to load
	fresh   []*unitState      // loaded by the current loadUnit call: canonicalized at its end
	busy    bool              // loadUnit is draining the queue
}

// reset forgets the alias map so the next load reads the search path again.
func (l *unitLoader) reset() {
	l.names = nil
	l.aliases = nil
}

// noteNames records us's names as aliases of its id.
func (l *unitLoader) noteNames(us *unitState) {
	if l.aliases == nil {
		l.aliases = map[string]string{}
	}
	for _, n := range us.u.Names {
		if n != us.u.Name {
			l.aliases[n] = us.u.Name
		}
	}
}

// id is the unit id name stands for: itself unless it is a known alias.
func (l *unitLoader) id(name string) string {
	if c, ok := l.aliases[name]; ok {
		return c
	}
	return name
}

// loadOptions are the unit.Load options of the manager. m.mu held.
func (m *Manager) loadOptions(unitName string) *unit.Options {
	if m.loader.names == nil {
		m.loader.names = unit.BuildNameMap(m.cfg.Root, m.cfg.Dirs)
	}
	return &unit.Options{Dirs: m.cfg.Dirs, DirCache: m.dirCache, Names: m.loader.names, Warn: func(e error) {
		m.log.Warn("unit file problem", "unit", unitName, "err", e)
	}}
}

// loadUnit returns the unit called name, loading it and then, breadth first,
// every unit it refers to that is not loaded yet. m.mu held.
func (m *Manager) loadUnit(name string) (*unitState, error) {
	us, err := m.loadOne(name)
	if err != nil || m.loader.busy {
		return us, err
	}
	m.loader.busy = true
	for len(m.loader.queue) > 0 {
		n := m.loader.queue[0]
		m.loader.queue = m.loader.queue[1:]
		if _, err := m.loadOne(n); err != nil {
			m.log.Debug("referenced unit cannot be loaded", "unit", n, "err", err)
		}
	}
	for _, f := range m.loader.fresh {
		m.canonicalize(f.u)
		m.requireParentMounts(f) // mount_linux.go
	}
	m.loader.fresh = nil
	m.loader.busy = false
	return us, nil
}

// loadOne loads one unit (or finds it loaded) and queues the names it refers
// to. m.mu held.
func (m *Manager) loadOne(name string) (*unitState, error) {
	id := m.loader.id(name)
	if us, ok := m.units[id]; ok {
		return us, nil
	}
	u, err := unit.Load(m.cfg.Root, id, m.loadOptions(id))
	if err != nil {
		return nil, err
	}
	if us, ok := m.units[u.Name]; ok { // an alias of a unit loaded by its id
		m.loader.noteNames(&unitState{u: u})
		return us, nil
	}
	us := &unitState{u: u, active: StateInactive, sub: subDead}
	m.units[u.Name] = us
	m.loader.noteNames(us)
	m.loader.fresh = append(m.loader.fresh, us)
	m.unitsChanged()
	if u.LoadState == unit.Loaded || u.LoadState == unit.BadSetting {
		for _, l := range referencedLists(u) {
			for _, n := range l {
				if _, known := m.units[m.loader.id(n)]; !known {
					m.loader.queue = append(m.loader.queue, n)
				}
			}
		}
	}
	return us, nil
}

// referencedLists are the lists of unit names in u, for loading what they
// name.
func referencedLists(u *unit.Unit) [][]string {
	s := &u.Unit
	ls := [][]string{s.Wants, s.Requires, s.Requisite, s.BindsTo, s.PartOf, s.Upholds, s.Conflicts,
		s.Before, s.After, s.OnFailure, s.OnSuccess, s.PropagatesReloadTo, s.ReloadPropagatedFrom,
		s.PropagatesStopTo, s.StopPropagatedFrom, s.JoinsNamespaceOf}
	for _, k := range sortedKinds(u.Implicit) {
		ls = append(ls, u.Implicit[k])
	}
	return ls
}

// canonicalize rewrites the unit names in u's dependency lists to unit ids
// and drops the unit itself: an alias is the same unit, and a unit never
// wants, orders against or conflicts with itself. m.mu held.
func (m *Manager) canonicalize(u *unit.Unit) {
	fix := func(l []string) []string {
		out := l[:0]
		seen := map[string]bool{}
		for _, n := range l {
			id := m.loader.id(n)
			if id == u.Name || seen[id] {
				continue
			}
			seen[id] = true
			out = append(out, id)
		}
		return out
	}
	s := &u.Unit
	for _, l := range []*[]string{&s.Wants, &s.Requires, &s.Requisite, &s.BindsTo, &s.PartOf, &s.Upholds, &s.Conflicts,
		&s.Before, &s.After, &s.OnFailure, &s.OnSuccess, &s.PropagatesReloadTo, &s.ReloadPropagatedFrom,
		&s.PropagatesStopTo, &s.StopPropagatedFrom, &s.JoinsNamespaceOf} {
		*l = fix(*l)
	}
	for k, l := range u.Implicit {
		u.Implicit[k] = fix(l)
	}
}

// buildDeps computes every loaded unit's dependencies in both directions:
// what its files say, what upstream adds implicitly (its slice, default
// dependencies, a socket's or timer's unit), a target's ordering after the
// units it pulls in, the mount units of RequiresMountsFor= paths, and for each
// of those the reverse on the other unit. Implicit dependencies on units that
// do not exist are left out (see docs/systemd.unit.md). m.mu held; it may load
// mount units, after which the caller builds again.
func (m *Manager) buildDeps(all []*unitState) map[string]unit.Deps {
	g := map[string]unit.Deps{}
	add := func(a, kind, b string) {
		if a == b {
			return
		}
		if g[a] == nil {
			g[a] = unit.Deps{}
		}
		g[a].Add(kind, b)
		if rev := unit.ReverseDep[kind]; rev != "" {
			if g[b] == nil {
				g[b] = unit.Deps{}
			}
			g[b].Add(rev, a)
		}
	}
	exists := func(n string) bool {
		us := m.units[m.loader.id(n)]
		return us != nil && (us.u.LoadState == unit.Loaded || us.u.LoadState == unit.BadSetting)
	}
	for _, us := range all {
		u := us.u
		if u.LoadState != unit.Loaded && u.LoadState != unit.BadSetting {
			continue
		}
		fd := u.FileDeps()
		for _, k := range sortedKinds(fd) {
			for _, n := range fd[k] {
				add(u.Name, k, m.loader.id(n))
			}
		}
		for _, k := range sortedKinds(u.Implicit) {
			for _, n := range u.Implicit[k] {
				if exists(n) {
					add(u.Name, k, m.loader.id(n))
				}
			}
		}
		req, wants := u.MountPaths()
		for i, paths := range [][]string{req, wants} {
			for _, p := range paths {
				for _, mnt := range mountPrefixes(p) {
					if mnt == u.Name {
						continue
					}
					mu, known := m.units[mnt]
					if !known {
						mu, _ = m.get(mnt) // the graph is built again: the set of units changed
					}
					if mu == nil || mu.u.LoadState != unit.Loaded {
						continue
					}
					add(u.Name, unit.DepAfter, mnt)
					if i == 0 {
						add(u.Name, unit.DepRequires, mnt)
					} else {
						add(u.Name, unit.DepWants, mnt)
					}
				}
			}
		}
	}
	// A target with default dependencies is ordered after the units it pulls
	// in, unless either side opted out or that would order it both ways.
	for _, us := range all {
		u := us.u
		if u.Type != "target" || u.LoadState != unit.Loaded || !u.Unit.DefaultDependencies {
			continue
		}
		d := g[u.Name]
		var pulled []string
		for _, k := range []string{unit.DepRequires, unit.DepRequisite, unit.DepWants, unit.DepBindsTo} {
			pulled = append(pulled, d[k]...)
		}
		for _, n := range pulled {
			o := m.units[n]
			if o == nil || o.u.LoadState != unit.Loaded || !o.u.Unit.DefaultDependencies || contains(d[unit.DepBefore], n) {
				continue
			}
			add(u.Name, unit.DepAfter, n)
		}
	}
	return g
}

func sortedKinds(d unit.Deps) []string {
	ks := make([]string, 0, len(d))
	for k := range d {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// mountPrefixes lists the mount units of p and each of its parents, "/"
// included ("-.mount").
func mountPrefixes(p string) []string {
	p = path.Clean(p)
	var out []string
	for {
		out = append(out, unit.MountUnitName(p))
		if p == "/" {
			return out
		}
		p = path.Dir(p)
		if !strings.HasPrefix(p, "/") {
			return out
		}
	}
}
