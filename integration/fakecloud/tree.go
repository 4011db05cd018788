package fakecloud

import (
	"slices"
	"strings"
)

// tree is a metadata hierarchy of plain-text leaves addressed by slash-separated paths, the
// shape of EC2-style services: a leaf answers its value, a directory the list of its
// children ("name" for leaves, "name/" for directories).
type tree struct {
	leaves map[string]string
	// listings overrides the listing of a directory (EC2 shows public-keys/ as "0=name").
	listings map[string]string
	// trailingNewline ends every listing entry with "\n" (Google) instead of joining the
	// entries with "\n" (EC2).
	trailingNewline bool
}

func newTree() *tree {
	return &tree{leaves: map[string]string{}, listings: map[string]string{}}
}

// set adds a leaf unless value is empty (an empty field means "no such key").
func (t *tree) set(path, value string) {
	if value != "" {
		t.leaves[path] = value
	}
}

// get answers a path relative to the tree's root ("" or "/" is the root). A trailing slash
// asks for a directory; without one, a leaf wins, then a directory.
func (t *tree) get(p string) (body string, dir, ok bool) {
	p = strings.TrimPrefix(p, "/")
	wantDir := p == "" || strings.HasSuffix(p, "/")
	name := strings.TrimSuffix(p, "/")
	if !wantDir {
		if v, ok := t.leaves[name]; ok {
			return v, false, true
		}
	}
	if name != "" && strings.Contains(name, "//") {
		return "", false, false
	}
	children := t.children(name)
	if len(children) == 0 {
		return "", false, false
	}
	if l, ok := t.listings[name]; ok {
		return l, true, true
	}
	if t.trailingNewline {
		return strings.Join(children, "\n") + "\n", true, true
	}
	return strings.Join(children, "\n"), true, true
}

// children lists the entries directly below dir ("" is the root), sorted, directories with
// a trailing slash.
func (t *tree) children(dir string) []string {
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	seen := map[string]bool{}
	var out []string
	for k := range t.leaves {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || rest == "" {
			continue
		}
		entry := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			entry = rest[:i+1]
		}
		if !seen[entry] {
			seen[entry] = true
			out = append(out, entry)
		}
	}
	slices.Sort(out)
	return out
}

// subtree returns the leaves below dir as nested maps (for JSON renderings); directories whose
// children are all decimal numbers become arrays. rename, if set, maps a child's name to its
// JSON key, given the directory holding it.
func (t *tree) subtree(dir string, rename func(dir, name string) string) any {
	if v, ok := t.leaves[dir]; ok && dir != "" {
		return v
	}
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	children := t.children(dir)
	numeric := len(children) > 0
	for i, c := range children {
		children[i] = strings.TrimSuffix(c, "/")
		numeric = numeric && isDecimal(children[i])
	}
	if numeric {
		arr := make([]any, len(children))
		for i := range arr {
			if _, ok := t.leaves[prefix+itoa(i)]; !ok && len(t.children(prefix+itoa(i))) == 0 {
				numeric = false
				break
			}
			arr[i] = t.subtree(prefix+itoa(i), rename)
		}
		if numeric {
			return arr
		}
	}
	m := make(map[string]any, len(children))
	for _, name := range children {
		key := name
		if rename != nil {
			key = rename(dir, name)
		}
		m[key] = t.subtree(prefix+name, rename)
	}
	return m
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

// camelCase turns "network-interfaces" into "networkInterfaces" (Google's recursive JSON).
func camelCase(s string) string {
	var b strings.Builder
	up := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' {
			up = true
			continue
		}
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		b.WriteByte(c)
	}
	return b.String()
}
