package unit

import (
	"path"
	"strings"
)

// dropinDirs lists the directories whose files apply to a unit with the given
// names (its own name first, then its aliases), suffix ".d" for drop-ins or
// ".wants", ".requires", ".upholds" for dependency directories, in systemd's
// order of precedence (upstream's unit_file_find_dropin_paths):
//
//   - for each name, in each search directory: NAME.d, the template's
//     TEMPLATE.d for an instance, then every dash prefix ("foo-bar-baz.service"
//     → "foo-bar-.service", "foo-.service"), each with its template too;
//   - last, in each search directory, the type-wide "service.d" (or
//     "socket.d", …), the most generic.
//
// A file name found in an earlier directory hides the same name in later
// ones (conf.FindDropins); the survivors apply in lexical order of their file
// names. So the unit's own directories beat the type-wide ones whatever
// search directory each is in, and for the rest the search path decides.
func dropinDirs(dirs, names []string, suffix string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, n := range names {
		for _, d := range dirs {
			unitDirs(d, n, suffix, add, 0)
		}
	}
	if len(names) > 0 {
		if _, _, typ, _, err := ParseName(names[0]); err == nil {
			for _, d := range dirs {
				add(path.Join(d, typ+suffix))
			}
		}
	}
	return out
}

// unitDirs adds dir/name+suffix, the template's and the dash prefixes'.
func unitDirs(dir, name, suffix string, add func(string), depth int) {
	if depth > 64 {
		return
	}
	add(path.Join(dir, name+suffix))
	prefix, inst, typ, tmpl, err := ParseName(name)
	if err != nil {
		return
	}
	if inst != "" && !tmpl {
		unitDirs(dir, prefix+"@."+typ, suffix, add, depth+1)
	}
	p, ok := dashPrefix(prefix)
	if !ok {
		return
	}
	built := p + "." + typ
	if inst != "" && !tmpl {
		built = p + "@" + inst + "." + typ
	}
	unitDirs(dir, built, suffix, add, depth+1)
}

// dashPrefix is the next shorter dash prefix of a unit name prefix, ending in
// "-": "foo-bar-baz" → "foo-bar-", "foo-bar-" → "foo-"; none for "foo" or "foo-"
// (a leading dash ends the walk too).
func dashPrefix(prefix string) (string, bool) {
	chopped := false
	for {
		i := strings.LastIndexByte(prefix, '-')
		if i <= 0 {
			return "", false
		}
		if i+1 < len(prefix) || chopped {
			return prefix[:i+1], true
		}
		prefix = prefix[:i] // a trailing dash: look one component further up, once
		chopped = true
	}
}
