// Package unit loads systemd unit files (.service, .socket, .target, …) on
// top of lib/conf: the unit search path under a root, drop-ins (per unit, per
// template and per type), template instantiation, specifiers, .wants/ and
// .requires/ directories, masking, and typed views of the [Unit], [Service],
// [Socket] and [Install] sections.
//
// Loading is lenient like systemd's: a bad line or value is reported with
// file:line in Unit.Warnings and skipped. A unit whose essential settings are
// unusable (no ExecStart= for a non-oneshot service, neither ExecStart= nor
// ExecStop=, an unparsable ExecStart=) gets LoadState "bad-setting".
package unit

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/stead-os/stead/lib/conf"
)

// The three directories generators write to (systemd.generator(7)): the
// early one ranks above /etc, the normal one between /run/systemd/system and
// /usr, the late one below everything.
const (
	GeneratorEarlyDir  = "/run/systemd/generator.early"
	GeneratorNormalDir = "/run/systemd/generator"
	GeneratorLateDir   = "/run/systemd/generator.late"
)

// DefaultDirs is the system unit search path, most important first: the
// subset of systemd.unit(5)'s order that stead has.
var DefaultDirs = []string{
	GeneratorEarlyDir,
	"/etc/systemd/system",
	"/run/systemd/system",
	GeneratorNormalDir,
	"/usr/lib/systemd/system",
	GeneratorLateDir,
}

// Load states, as systemd names them.
const (
	Loaded     = "loaded"
	NotFound   = "not-found"
	Masked     = "masked"
	BadSetting = "bad-setting"
)

// Options adjusts Load. A nil *Options means DefaultDirs and no callback.
type Options struct {
	Dirs []string    // in-root search directories, most important first
	Warn func(error) // called with each problem as it is found
	// DirCache, if set, answers for files and directories that do not exist
	// from listings of their directories (see conf.DirCache): for loading
	// many units at one moment.
	DirCache *conf.DirCache
}

// Unit is one loaded unit.
type Unit struct {
	Name      string // "foo@bar.service"
	Type      string // "service", "socket", "target", …
	Prefix    string // "foo"
	Instance  string // "bar", or "" for a non-instance unit
	Template  string // "foo@.service" for an instance, else ""
	Fragment  string // in-root path of the main file, "" if none
	DropIns   []string
	LoadState string
	File      *conf.File
	Warnings  []error
	Spec      Specifiers

	Unit    UnitSection
	Service *Service // set for .service units
	Socket  *Socket  // set for .socket units
	Mount   *Mount   // set for .mount units
	Timer   *Timer   // set for .timer units (timer.go)
	Install Install
}

// ParseName splits a unit name into prefix, instance and type. A template
// ("foo@.service") has an empty instance and template==true.
func ParseName(name string) (prefix, instance, typ string, template bool, err error) {
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 || dot == len(name)-1 || strings.ContainsAny(name, "/ \t\n") || len(name) > 255 {
		return "", "", "", false, fmt.Errorf("invalid unit name %q", name)
	}
	typ = name[dot+1:]
	switch typ {
	case "service", "socket", "target", "timer", "path", "mount", "automount", "swap", "device", "slice", "scope":
	default:
		return "", "", "", false, fmt.Errorf("invalid unit type in %q", name)
	}
	base := name[:dot]
	at := strings.IndexByte(base, '@')
	if at < 0 {
		return base, "", typ, false, nil
	}
	if at == 0 {
		return "", "", "", false, fmt.Errorf("invalid unit name %q", name)
	}
	return base[:at], base[at+1:], typ, at == len(base)-1, nil
}

// Load loads the unit called name from opts.Dirs under root ("" or "/" for
// the real root). A missing unit is not an error: it has LoadState NotFound.
// The error is for invalid names and I/O failures.
func Load(root, name string, opts *Options) (*Unit, error) {
	prefix, inst, typ, tmpl, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	if tmpl {
		return nil, fmt.Errorf("cannot load template %q without an instance", name)
	}
	dirs := DefaultDirs
	var warn func(error)
	var dc *conf.DirCache
	if opts != nil {
		if opts.Dirs != nil {
			dirs = opts.Dirs
		}
		warn = opts.Warn
		dc = opts.DirCache
	}
	u := &Unit{Name: name, Type: typ, Prefix: prefix, Instance: inst,
		Spec: Specifiers{Name: name, Prefix: prefix, Instance: inst}}
	if inst != "" {
		u.Template = prefix + "@." + typ
	}
	report := func(e error) {
		u.Warnings = append(u.Warnings, e)
		if warn != nil {
			warn(e)
		}
	}

	main, mask, err := dc.FindMain(root, dirs, name)
	if err != nil {
		return nil, err
	}
	if main == "" && u.Template != "" {
		main, mask, err = dc.FindMain(root, dirs, u.Template)
		if err != nil {
			return nil, err
		}
	}
	if mask {
		u.LoadState = Masked
		u.File = &conf.File{}
		return u, nil
	}
	var ddirs []string
	names := []string{name}
	if u.Template != "" {
		names = append(names, u.Template)
	}
	for _, d := range dirs {
		for _, n := range names {
			ddirs = append(ddirs, path.Join(d, n+".d"))
		}
		ddirs = append(ddirs, path.Join(d, typ+".d"))
	}
	dropins, err := dc.FindDropins(root, ddirs)
	if err != nil {
		return nil, err
	}
	// Device units need no file: the kernel's device is the unit.
	if main == "" && len(dropins) == 0 && typ != "device" {
		u.LoadState = NotFound
		u.File = &conf.File{}
		return u, nil
	}
	f, err := conf.LoadFiles(root, main, dropins, &conf.Options{Warn: warn})
	if err != nil {
		return nil, err
	}
	u.File, u.Fragment, u.DropIns = f, main, dropins
	u.Warnings = append(u.Warnings, f.Warnings...)
	u.LoadState = Loaded
	if main == "" {
		// Only drop-ins: systemd loads such a unit only for types that
		// need no fragment; treat it as not found for services.
		if typ == "service" || typ == "socket" || typ == "mount" {
			u.LoadState = NotFound
		}
	}

	wants, requires := depDirs(root, dirs, names, inst, dc)
	u.parseUnit(report)
	u.Unit.Wants = appendUniq(u.Unit.Wants, wants...)
	u.Unit.Requires = appendUniq(u.Unit.Requires, requires...)
	u.parseInstall(report)
	switch typ {
	case "service":
		if bad := u.parseService(report); bad && u.LoadState == Loaded {
			u.LoadState = BadSetting
		}
	case "socket":
		if bad := u.parseSocket(report); bad && u.LoadState == Loaded {
			u.LoadState = BadSetting
		}
	case "mount":
		if u.LoadState != Loaded {
			break
		}
		if bad := u.parseMount(report); bad {
			u.LoadState = BadSetting
		}
	case "timer":
		if bad := u.parseTimer(report); bad && u.LoadState == Loaded {
			u.LoadState = BadSetting
		}
	}
	return u, nil
}

// depDirs lists the units symlinked into NAME.wants/ and NAME.requires/.
func depDirs(root string, dirs, names []string, inst string, dc *conf.DirCache) (wants, requires []string) {
	var w, r uniqList
	for _, d := range dirs {
		for _, n := range names {
			for _, kind := range []string{".wants", ".requires"} {
				if dc.Absent(root, path.Join(d, n+kind)) {
					continue
				}
				ents, err := os.ReadDir(path.Join(rootJoin(root), d, n+kind))
				if err != nil {
					continue
				}
				for _, e := range ents {
					dep := e.Name()
					if _, _, _, tmpl, err := ParseName(dep); err != nil {
						continue
					} else if tmpl {
						if inst == "" {
							continue
						}
						i := strings.IndexByte(dep, '@')
						dep = dep[:i+1] + inst + dep[i+1:]
					}
					if kind == ".wants" {
						w.add(dep)
					} else {
						r.add(dep)
					}
				}
			}
		}
	}
	sort.Strings(w.list)
	sort.Strings(r.list)
	return w.list, r.list
}

func rootJoin(root string) string {
	if root == "" {
		return "/"
	}
	return root
}

// uniqList collects names in first-occurrence order, dropping repeats. The
// set makes each addition constant time: unit files and .wants/ directories
// are not trusted to be small, and loading runs under the manager's lock.
type uniqList struct {
	list []string
	seen map[string]struct{}
}

// add appends s unless it is already in the list.
func (l *uniqList) add(s string) {
	if _, dup := l.seen[s]; dup {
		return
	}
	if l.seen == nil {
		l.seen = map[string]struct{}{}
	}
	l.seen[s] = struct{}{}
	l.list = append(l.list, s)
}

// appendUniq appends the items not already in list, in order, each once.
func appendUniq(list []string, items ...string) []string {
	if len(items) == 0 {
		return list
	}
	l := uniqList{list: list, seen: make(map[string]struct{}, len(list)+len(items))}
	for _, x := range list {
		l.seen[x] = struct{}{}
	}
	for _, it := range items {
		l.add(it)
	}
	return l.list
}

// expand expands specifiers in an entry's value, reporting failures.
func (u *Unit) expand(e conf.Entry, report func(error)) (string, bool) {
	v, err := u.Spec.Expand(e.Value)
	if err != nil {
		report(e.Wrap(err))
		return "", false
	}
	return v, true
}

// names reads a list-of-unit-names setting.
func (u *Unit) names(section, key string, report func(error)) []string {
	var out uniqList
	for _, e := range u.File.Entries(section, key) {
		v, ok := u.expand(e, report)
		if !ok {
			continue
		}
		for _, n := range strings.Fields(v) {
			if _, _, _, tmpl, err := ParseName(n); err != nil || tmpl {
				if err == nil {
					err = errors.New("template without instance")
				}
				report(e.Wrap(err))
				continue
			}
			out.add(n)
		}
	}
	return out.list
}

func (u *Unit) str(section, key string, report func(error)) string {
	e, ok := u.File.Lookup(section, key)
	if !ok {
		return ""
	}
	v, _ := u.expand(e, report)
	return v
}
