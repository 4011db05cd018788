// Package settingstable writes the table of docs/systemd.unit.md that gives,
// for every unit-file setting upstream systemd 262 knows (lib/unit's
// upstream_keys.go), what stead does with it. The status is observed, not
// declared: each setting is put, with a sample value, into a synthetic unit
// of a type that has its section, and that unit is loaded with lib/unit's
// loader (the one init uses). A setting the loader applies draws no warning;
// one it does not apply draws the loader's warning ("not supported by stead",
// "recorded … not acted on", …); one that makes the unit unusable changes its
// load state (bad-setting), which makes init refuse to start it. Only the
// sample values are hand-written (samples.go): a setting that gains an
// implementation changes status in the next `go generate` by itself.
package settingstable

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/unit"
)

// Status is what stead does with a setting.
type Status string

// The statuses of the table.
const (
	Implemented Status = "implemented"
	Ignored     Status = "warned and ignored"
	Refused     Status = "refused"
)

// Row is one setting of the table.
type Row struct {
	Section, Key string
	Status       Status
	Note         string // the warning class, or why the load fails
}

// SectionOrder is the order of the table's sections: [Unit] and [Install],
// which every type has, then each type's own. Sections upstream_keys.go
// holds beyond these follow in name order.
var SectionOrder = []string{"Unit", "Install", "Service", "Socket", "Mount", "Automount", "Swap", "Timer", "Path", "Slice", "Scope"}

// probe is the synthetic unit a section's settings are tried in: its name
// and the lines that make it load without the setting under test.
type probe struct {
	name  string
	base  []string // lines of the unit, sections included
	owner string   // the section a base line's key is in ("" when none)
}

// probes gives, per section, the unit each setting of that section is tried
// in. A base line assigning the key under test is left out.
var probes = map[string]probe{
	"Unit":      {name: "probe.service", base: []string{"[Service]", "ExecStart=/bin/true", "[Unit]"}},
	"Install":   {name: "probe.service", base: []string{"[Service]", "ExecStart=/bin/true", "[Install]"}},
	"Service":   {name: "probe.service", base: []string{"[Service]", "ExecStart=/bin/true"}},
	"Socket":    {name: "probe.socket", base: []string{"[Socket]", "ListenStream=/run/probe.sock"}},
	"Mount":     {name: "srv-probe.mount", base: []string{"[Mount]", "What=/dev/vdb", "Where=/srv/probe"}},
	"Automount": {name: "srv-probe.automount", base: []string{"[Automount]", "Where=/srv/probe"}},
	"Swap":      {name: "dev-vdc.swap", base: []string{"[Swap]", "What=/dev/vdc"}},
	"Timer":     {name: "probe.timer", base: []string{"[Timer]", "OnActiveSec=1s"}},
	"Path":      {name: "probe.path", base: []string{"[Path]", "PathExists=/srv/probe"}},
	"Slice":     {name: "probe.slice", base: []string{"[Slice]"}},
	"Scope":     {name: "probe.scope", base: []string{"[Scope]"}},
}

// unitDir is where the synthetic units are written, under a temporary root.
const unitDir = "/etc/systemd/system"

// Generate loads one synthetic unit per upstream setting and returns the
// table's rows in SectionOrder, keys sorted within each section.
func Generate() ([]Row, error) {
	root, err := os.MkdirTemp("", "stead-settingstable-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	if err := os.MkdirAll(filepath.Join(root, unitDir), 0o755); err != nil {
		return nil, err
	}
	keys := unit.UpstreamKeys()
	var rows []Row
	for _, sec := range sections(keys) {
		p, ok := probes[sec]
		if !ok {
			return nil, fmt.Errorf("no synthetic unit for section [%s]: add one to probes", sec)
		}
		base, err := load(root, p, "", "")
		if err != nil {
			return nil, err
		}
		if base.state != unit.Loaded {
			return nil, fmt.Errorf("the synthetic %s does not load by itself: %s %v", p.name, base.state, base.warnings)
		}
		for _, k := range keys[sec] {
			o, err := load(root, p, k, sampleValue(sec, k))
			if err != nil {
				return nil, err
			}
			r, err := classify(sec, k, base, o)
			if err != nil {
				return nil, err
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// sections lists the sections of keys in table order.
func sections(keys map[string][]string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, s := range SectionOrder {
		if _, ok := keys[s]; ok {
			out = append(out, s)
			seen[s] = true
		}
	}
	var rest []string
	for s := range keys {
		if !seen[s] {
			rest = append(rest, s)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// observed is what loading a synthetic unit showed.
type observed struct {
	state    string
	line     int      // the line of the setting under test (0 for the base unit)
	warnings []string // messages of the setting's line, or without a line
}

// load writes the probe unit with key=value as its last line (none when key
// is "") and loads it with lib/unit.
func load(root string, p probe, key, value string) (observed, error) {
	var lines []string
	for _, l := range p.base {
		if key != "" && strings.HasPrefix(l, key+"=") {
			continue // the setting under test replaces the base's own
		}
		lines = append(lines, l)
	}
	o := observed{}
	if key != "" {
		lines = append(lines, key+"="+value)
		o.line = len(lines)
	}
	path := filepath.Join(unitDir, p.name)
	if err := os.WriteFile(filepath.Join(root, path), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return o, err
	}
	u, err := unit.Load(root, p.name, &unit.Options{Dirs: []string{unitDir}, Host: &unit.Host{}})
	if err != nil {
		return o, err
	}
	o.state = u.LoadState
	for _, w := range u.Warnings {
		var ce *conf.Error
		if errors.As(w, &ce) && (ce.File == path || ce.File == filepath.Join(root, path)) && ce.Line > 0 {
			if ce.Line == o.line {
				o.warnings = append(o.warnings, ce.Msg)
			}
			continue
		}
		o.warnings = append(o.warnings, w.Error())
	}
	return o, nil
}

// Warning classes: the loader's wording, reduced to what does not name the key.
var (
	notSupported = regexp.MustCompile(`^\S+= in \[\S+\] is not supported by stead, ignoring$`)
	notActedOn   = regexp.MustCompile(`^\S+: recorded as a dependency, but stead's job engine does not act on \S+= yet$`)
)

// classify compares a setting's unit with the base unit. A warning that
// neither says the setting is ignored nor makes the unit fail to load is
// about the sample value: an error, so that samples.go gets a valid one
// rather than the table a wrong status.
func classify(sec, key string, base, o observed) (Row, error) {
	r := Row{Section: sec, Key: key}
	var own []string
	for _, w := range o.warnings {
		if o.line == 0 || !contains(base.warnings, w) {
			own = append(own, w)
		}
	}
	if o.state != base.state {
		r.Status = Refused
		r.Note = "the unit fails to load (" + o.state + ")"
		if len(own) > 0 {
			r.Note += ": " + noteOf(key, own[0])
		}
		return r, nil
	}
	if len(own) == 0 {
		r.Status = Implemented
		return r, nil
	}
	r.Status = Ignored
	r.Note = noteOf(key, own[0])
	if !ignoring.MatchString(own[0]) {
		return r, fmt.Errorf("[%s] %s=%s: the sample value draws %q: give it a valid one in samples.go",
			sec, key, sampleValue(sec, key), own[0])
	}
	return r, nil
}

// ignoring matches the loader's warnings that say a setting is not applied,
// as opposed to a value that is invalid.
var ignoring = regexp.MustCompile(`not supported|stead does not|does not act on`)

// noteOf is the class of a warning about key: its text without the key's
// own name where that is all that varies.
func noteOf(key, w string) string {
	switch {
	case notSupported.MatchString(w):
		return "not supported by stead"
	case notActedOn.MatchString(w):
		return "recorded as a dependency; the job engine does not act on it yet"
	}
	w = strings.TrimPrefix(w, key+": ")
	return w
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Counts returns how many rows have each status.
func Counts(rows []Row) map[Status]int {
	c := map[Status]int{}
	for _, r := range rows {
		c[r.Status]++
	}
	return c
}

// Markdown renders the rows as one table per section, with a summary line.
func Markdown(rows []Row) string {
	var b strings.Builder
	c := Counts(rows)
	fmt.Fprintf(&b, "%d settings: %d implemented, %d warned and ignored, %d refused.\n",
		len(rows), c[Implemented], c[Ignored], c[Refused])
	sec := ""
	for _, r := range rows {
		if r.Section != sec {
			sec = r.Section
			n := 0
			for _, x := range rows {
				if x.Section == sec {
					n++
				}
			}
			fmt.Fprintf(&b, "\n### [%s] (%d)\n\n| Setting | Status | Warning or reason |\n|---|---|---|\n", sec, n)
		}
		fmt.Fprintf(&b, "| `%s=` | %s | %s |\n", r.Key, r.Status, strings.ReplaceAll(r.Note, "|", `\|`))
	}
	return b.String()
}

// The markers the table sits between in docs/systemd.unit.md.
const (
	BeginMarker = "<!-- BEGIN settings table: generated by lib/unit/internal/settingstable (go generate ./lib/unit); DO NOT EDIT -->"
	EndMarker   = "<!-- END settings table -->"
)

// Splice returns doc with the text between the markers replaced by table.
func Splice(doc, table string) (string, error) {
	i := strings.Index(doc, BeginMarker)
	j := strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		return "", fmt.Errorf("the markers %q and %q are missing", BeginMarker, EndMarker)
	}
	return doc[:i+len(BeginMarker)] + "\n" + table + doc[j:], nil
}
