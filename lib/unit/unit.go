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
	"slices"
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
	// Names, if set, is the search path's alias map (BuildNameMap) for loading
	// many units at one moment; nil builds one for this Load.
	Names *NameMap
	// Host, if set, gives the host specifiers' values; nil reads them from the
	// root once (HostFor).
	Host *Host
}

// Unit is one loaded unit.
type Unit struct {
	Name      string   // "foo@bar.service": the unit's id, what its alias symlinks point at
	Names     []string // Name first, then its aliases (symlinks in the search path), sorted
	Type      string   // "service", "socket", "target", …
	Prefix    string   // "foo"
	Instance  string   // "bar", or "" for a non-instance unit
	Template  string   // "foo@.service" for an instance, else ""
	Fragment  string   // in-root path of the main file, "" if none
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
	// Implicit holds the dependencies upstream adds without a setting naming
	// them: the slice, default dependencies, a socket's or timer's unit
	// (deps.go).
	Implicit Deps

	privateTmp bool // PrivateTmp= is on: /tmp and /var/tmp are wanted mounted (MountPaths)
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
// the real root). An alias name loads the unit it is an alias of: the result's
// Name is that unit's, Names lists every name. A missing unit is not an error:
// it has LoadState NotFound. The error is for invalid names and I/O failures.
func Load(root, name string, opts *Options) (*Unit, error) {
	if _, _, _, tmpl, err := ParseName(name); err != nil {
		return nil, err
	} else if tmpl {
		return nil, fmt.Errorf("cannot load template %q without an instance", name)
	}
	dirs := DefaultDirs
	var warn func(error)
	var dc *conf.DirCache
	var nm *NameMap
	var host *Host
	if opts != nil {
		if opts.Dirs != nil {
			dirs = opts.Dirs
		}
		warn, dc, nm, host = opts.Warn, opts.DirCache, opts.Names, opts.Host
	}
	if nm == nil {
		nm = BuildNameMap(root, dirs)
	}
	if host == nil {
		host = HostFor(root)
	}
	requested := name
	name = nm.Canonical(name)
	prefix, inst, typ, _, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	u := &Unit{Name: name, Type: typ, Prefix: prefix, Instance: inst,
		Names: append([]string{name}, nm.Aliases(name)...)}
	if requested != name && !slices.Contains(u.Names, requested) {
		u.Names = append(u.Names, requested)
	}
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
	if main == "" && requested != name {
		// The alias symlink points outside the search path: read it as itself.
		main, mask, err = dc.FindMain(root, dirs, requested)
		if err != nil {
			return nil, err
		}
	}
	if main == "" && u.Template != "" {
		main, mask, err = dc.FindMain(root, dirs, u.Template)
		if err != nil {
			return nil, err
		}
	}
	u.Spec = Specifiers{Name: name, Prefix: prefix, Instance: inst, Fragment: main, Host: host}
	if mask {
		u.LoadState = Masked
		u.File = &conf.File{}
		return u, nil
	}
	dropins, err := dc.FindDropins(root, dropinDirs(dirs, u.Names, ".d"))
	if err != nil {
		return nil, err
	}
	if main == "" && len(dropins) == 0 && typ != "slice" && typ != "device" {
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
		// Only drop-ins (or, for a slice or device, nothing at all): upstream loads
		// such a unit only for types that need no fragment — slices,
		// targets and the like — not for services and sockets.
		if typ == "service" || typ == "socket" || typ == "mount" {
			u.LoadState = NotFound
		}
	}

	f.TrackUse()
	defer f.StopTracking()
	wants, requires, upholds := depDirs(root, dirs, u.Names, inst, dc)
	u.parseUnit(report)
	u.Unit.Wants = appendUniq(u.Unit.Wants, wants...)
	u.Unit.Requires = appendUniq(u.Unit.Requires, requires...)
	u.Unit.Upholds = appendUniq(u.Unit.Upholds, upholds...)
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
	u.parseImplicit(report) // deps.go
	// Settings the manager reads later, on demand, count as applied: read them once here,
	// while keys are tracked (problems are reported when the manager reads them).
	u.ManagedOOM(nil)
	u.reportUnused(report) // keys.go
	return u, nil
}

// depDirs lists the units symlinked into the .wants/, .requires/ and
// .upholds/ directories of a unit's names, found as drop-in directories are.
func depDirs(root string, dirs, names []string, inst string, dc *conf.DirCache) (wants, requires, upholds []string) {
	var lists [3]uniqList
	for k, suffix := range []string{".wants", ".requires", ".upholds"} {
		for _, d := range dropinDirs(dirs, names, suffix) {
			if dc.Absent(root, d) {
				continue
			}
			ents, err := os.ReadDir(path.Join(rootJoin(root), d))
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
				lists[k].add(dep)
			}
		}
		sort.Strings(lists[k].list)
	}
	return lists[0].list, lists[1].list, lists[2].list
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
