package unit

import (
	"os"
	"path"
	"sort"
	"strings"
)

// NameMap knows the aliases of the unit search path: a symlink in a unit
// directory whose target has another valid unit name of the same type makes
// its name another name of that unit (systemd.unit(5): "unit aliases"). Alias=
// in [Install] only says which such symlinks `enable` creates; loading reads
// the symlinks. A template alias (foo@.service → bar@.service) aliases every
// instance. A NameMap is a snapshot: build a new one after the directories
// change.
type NameMap struct {
	canon   map[string]string   // alias → the name its symlink points at
	aliases map[string][]string // target name → its aliases, sorted
}

// maxAliasHops bounds symlink chains (a → b → c): longer ones are cycles or abuse.
const maxAliasHops = 16

// BuildNameMap reads the aliases in dirs (in-root, most important first)
// under root. A name found first as a regular file or mask is not an alias,
// whatever lower-priority directories hold; a symlink to a file of the same
// name elsewhere (a linked unit file) is not one either.
func BuildNameMap(root string, dirs []string) *NameMap {
	nm := &NameMap{canon: map[string]string{}, aliases: map[string][]string{}}
	seen := map[string]bool{}
	for _, d := range dirs {
		ents, err := os.ReadDir(path.Join(rootJoin(root), d))
		if err != nil {
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if seen[n] {
				continue
			}
			_, _, typ, _, err := ParseName(n)
			if err != nil {
				continue
			}
			seen[n] = true
			if e.Type()&os.ModeSymlink == 0 {
				continue
			}
			target, err := os.Readlink(path.Join(rootJoin(root), d, n))
			if err != nil || target == "/dev/null" {
				continue
			}
			t := path.Base(target)
			if t == n {
				continue
			}
			_, _, ttyp, ttmpl, err := ParseName(t)
			_, _, _, ntmpl, _ := ParseName(n)
			if err != nil || ttyp != typ || ttmpl != ntmpl {
				continue // not a valid alias: loaded through its own name
			}
			nm.canon[n] = t
		}
	}
	for a := range nm.canon {
		c := nm.resolve(a)
		if c != a {
			nm.aliases[c] = append(nm.aliases[c], a)
		}
	}
	for _, l := range nm.aliases {
		sort.Strings(l)
	}
	return nm
}

// resolve follows name's alias chain to its end.
func (nm *NameMap) resolve(name string) string {
	n := name
	for i := 0; i < maxAliasHops; i++ {
		t, ok := nm.canon[n]
		if !ok {
			return n
		}
		n = t
	}
	return name // a cycle: the name stands for itself
}

// Canonical returns the unit name that name is an alias of (name itself when it
// is none). An instance follows its template's aliases: with foo@.service an
// alias of bar@.service, foo@x.service is bar@x.service.
func (nm *NameMap) Canonical(name string) string {
	if nm == nil {
		return name
	}
	if c := nm.resolve(name); c != name {
		return c
	}
	prefix, inst, typ, tmpl, err := ParseName(name)
	if err != nil || tmpl || inst == "" {
		return name
	}
	t := nm.resolve(prefix + "@." + typ)
	if t == prefix+"@."+typ {
		return name
	}
	return strings.TrimSuffix(t, "."+typ) + inst + "." + typ
}

// Aliases returns the other names of the unit called canonical, sorted.
func (nm *NameMap) Aliases(canonical string) []string {
	if nm == nil {
		return nil
	}
	out := append([]string(nil), nm.aliases[canonical]...)
	prefix, inst, typ, tmpl, err := ParseName(canonical)
	if err == nil && !tmpl && inst != "" {
		for _, a := range nm.aliases[prefix+"@."+typ] {
			out = append(out, strings.TrimSuffix(a, "."+typ)+inst+"."+typ)
		}
	}
	sort.Strings(out)
	return out
}
