package pid1

import "github.com/stead-os/stead/lib/unit"

// The ordering and requirement relations between loaded units, indexed so
// that the job engine looks only at a unit's neighbours instead of at every
// unit or job: with hundreds of queued jobs, checking every pair on every
// state change made starting them quadratic or worse.

// relations indexes the loaded units' After=/Before= (with the implicit
// ordering after a service's socket) and Requires=/BindsTo= by name. It is
// rebuilt when a unit is loaded or dropped, or when the units are reloaded.
type relations struct {
	gen, n int // m.unitsGen and len(m.units) it was built for

	// after[a][b]: a is ordered after b (a After=b, b Before=a, or b is
	// a's implicit socket).
	after map[string]map[string]bool
	// neighbours[a]: every unit ordered before or after a.
	neighbours map[string][]string
	// requiredBy[b]: the units whose Requires= or BindsTo= name b.
	requiredBy map[string][]*unitState
	// sockets[s]: the socket units (Accept=no) whose Service= is s.
	sockets map[string][]*unitState
	// deps[a]: every dependency of a in both directions, by kind (graph.go).
	deps map[string]unit.Deps
}

// unitsChanged invalidates the relations; call it (m.mu held) after adding
// or replacing a unit's configuration.
func (m *Manager) unitsChanged() { m.unitsGen++ }

// rels returns the relations of the loaded units, rebuilding them first if
// they are out of date. m.mu held.
func (m *Manager) rels() *relations {
	for m.rel == nil || m.rel.gen != m.unitsGen || m.rel.n != len(m.units) {
		gen := m.unitsGen
		all := make([]*unitState, 0, len(m.units))
		for _, us := range m.units {
			all = append(all, us)
		}
		r := &relations{after: map[string]map[string]bool{}, neighbours: map[string][]string{},
			requiredBy: map[string][]*unitState{}, sockets: map[string][]*unitState{}}
		edge := func(a, b string) {
			s := r.after[a]
			if s == nil {
				s = map[string]bool{}
				r.after[a] = s
			}
			if s[b] {
				return
			}
			s[b] = true
			r.neighbours[a] = append(r.neighbours[a], b)
			r.neighbours[b] = append(r.neighbours[b], a)
		}
		r.deps = m.buildDeps(all) // may load mount units: then build again
		for a, d := range r.deps {
			for _, b := range d[unit.DepAfter] {
				edge(a, b)
			}
		}
		for _, us := range all {
			u := us.u
			name := u.Name
			_, iafter := m.implicit(us) // may load the socket unit: then build again
			for _, n := range iafter {
				edge(name, n)
			}
			for _, list := range [][]string{u.Unit.Requires, u.Unit.BindsTo} {
				for _, n := range list {
					if l := r.requiredBy[n]; len(l) == 0 || l[len(l)-1] != us {
						r.requiredBy[n] = append(l, us)
					}
				}
			}
			if u.Socket != nil && !u.Socket.Accept {
				r.sockets[u.Socket.Service] = append(r.sockets[u.Socket.Service], us)
			}
		}
		r.gen, r.n = gen, len(all)
		m.rel = r
	}
	return m.rel
}

// orderedAfter reports whether a is ordered after b (a After=b, b Before=a,
// or b is a's implicit socket). m.mu held.
func (m *Manager) orderedAfter(a, b *unitState) bool {
	return m.rels().after[a.u.Name][b.u.Name]
}
