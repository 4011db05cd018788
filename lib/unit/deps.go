package unit

import (
	"fmt"
	"path"
	"strings"

	"github.com/stead-os/stead/lib/conf"
)

// Dependency kinds, named as upstream's Describe output and io.systemd.Unit
// name them. Each has a reverse (ReverseDep): the manager records both
// directions, as upstream does.
const (
	DepWants                = "Wants"
	DepWantedBy             = "WantedBy"
	DepRequires             = "Requires"
	DepRequiredBy           = "RequiredBy"
	DepRequisite            = "Requisite"
	DepRequisiteOf          = "RequisiteOf"
	DepBindsTo              = "BindsTo"
	DepBoundBy              = "BoundBy"
	DepPartOf               = "PartOf"
	DepConsistsOf           = "ConsistsOf"
	DepUpholds              = "Upholds"
	DepUpheldBy             = "UpheldBy"
	DepConflicts            = "Conflicts"
	DepConflictedBy         = "ConflictedBy"
	DepBefore               = "Before"
	DepAfter                = "After"
	DepOnFailure            = "OnFailure"
	DepOnFailureOf          = "OnFailureOf"
	DepOnSuccess            = "OnSuccess"
	DepOnSuccessOf          = "OnSuccessOf"
	DepPropagatesReloadTo   = "PropagatesReloadTo"
	DepReloadPropagatedFrom = "ReloadPropagatedFrom"
	DepPropagatesStopTo     = "PropagatesStopTo"
	DepStopPropagatedFrom   = "StopPropagatedFrom"
	DepJoinsNamespaceOf     = "JoinsNamespaceOf"
	DepTriggers             = "Triggers"
	DepTriggeredBy          = "TriggeredBy"
)

// ReverseDep maps each dependency kind to the one the other unit records.
var ReverseDep = map[string]string{
	DepWants:                DepWantedBy,
	DepWantedBy:             DepWants,
	DepRequires:             DepRequiredBy,
	DepRequiredBy:           DepRequires,
	DepRequisite:            DepRequisiteOf,
	DepRequisiteOf:          DepRequisite,
	DepBindsTo:              DepBoundBy,
	DepBoundBy:              DepBindsTo,
	DepPartOf:               DepConsistsOf,
	DepConsistsOf:           DepPartOf,
	DepUpholds:              DepUpheldBy,
	DepUpheldBy:             DepUpholds,
	DepConflicts:            DepConflictedBy,
	DepConflictedBy:         DepConflicts,
	DepBefore:               DepAfter,
	DepAfter:                DepBefore,
	DepOnFailure:            DepOnFailureOf,
	DepOnFailureOf:          DepOnFailure,
	DepOnSuccess:            DepOnSuccessOf,
	DepOnSuccessOf:          DepOnSuccess,
	DepPropagatesReloadTo:   DepReloadPropagatedFrom,
	DepReloadPropagatedFrom: DepPropagatesReloadTo,
	DepPropagatesStopTo:     DepStopPropagatedFrom,
	DepStopPropagatedFrom:   DepPropagatesStopTo,
	DepTriggers:             DepTriggeredBy,
	DepTriggeredBy:          DepTriggers,
	DepJoinsNamespaceOf:     DepJoinsNamespaceOf,
}

// Deps is a set of dependencies by kind, each list in first-seen order.
type Deps map[string][]string

// Add records names under kind, each once.
func (d Deps) Add(kind string, names ...string) { d[kind] = appendUniq(d[kind], names...) }

// FileDeps returns the dependencies the unit's files state ([Unit] settings
// and .wants/, .requires/, .upholds/ directories), by kind.
func (u *Unit) FileDeps() Deps {
	s := &u.Unit
	d := Deps{}
	for k, l := range map[string][]string{
		DepWants: s.Wants, DepRequires: s.Requires, DepRequisite: s.Requisite, DepBindsTo: s.BindsTo,
		DepPartOf: s.PartOf, DepUpholds: s.Upholds, DepConflicts: s.Conflicts, DepBefore: s.Before,
		DepAfter: s.After, DepOnFailure: s.OnFailure, DepOnSuccess: s.OnSuccess,
		DepPropagatesReloadTo: s.PropagatesReloadTo, DepReloadPropagatedFrom: s.ReloadPropagatedFrom,
		DepPropagatesStopTo: s.PropagatesStopTo, DepStopPropagatedFrom: s.StopPropagatedFrom,
		DepJoinsNamespaceOf: s.JoinsNamespaceOf,
	} {
		if len(l) > 0 {
			d.Add(k, l...)
		}
	}
	return d
}

// typeSection is the section of a unit type's own settings ("" for none).
var typeSection = map[string]string{
	"service": "Service", "socket": "Socket", "mount": "Mount", "automount": "Automount",
	"swap": "Swap", "timer": "Timer", "path": "Path", "slice": "Slice", "scope": "Scope",
}

// cgroupUnitTypes are the types that run in a slice.
var cgroupUnitTypes = map[string]bool{"service": true, "socket": true, "mount": true, "swap": true, "scope": true}

// parseMoreDeps reads the [Unit] dependencies beyond the classic ones, the
// mount requirements, Documentation=, Slice= and Sockets=.
func (u *Unit) parseMoreDeps(report func(error)) {
	s := &u.Unit
	s.Upholds = u.names("Unit", "Upholds", report)
	s.OnFailure = u.names("Unit", "OnFailure", report)
	s.OnSuccess = u.names("Unit", "OnSuccess", report)
	s.PropagatesReloadTo = appendUniq(u.names("Unit", "PropagatesReloadTo", report), u.names("Unit", "PropagateReloadTo", report)...)
	s.ReloadPropagatedFrom = appendUniq(u.names("Unit", "ReloadPropagatedFrom", report), u.names("Unit", "PropagateReloadFrom", report)...)
	s.PropagatesStopTo = u.names("Unit", "PropagatesStopTo", report)
	s.StopPropagatedFrom = u.names("Unit", "StopPropagatedFrom", report)
	s.JoinsNamespaceOf = u.names("Unit", "JoinsNamespaceOf", report)
	s.RequiresMountsFor = u.absPaths("Unit", "RequiresMountsFor", report)
	s.WantsMountsFor = u.absPaths("Unit", "WantsMountsFor", report)
	s.Documentation = u.words("Unit", "Documentation", report)
	if sec := typeSection[u.Type]; sec != "" && cgroupUnitTypes[u.Type] {
		if v := u.str(sec, "Slice", report); v != "" {
			if _, inst, typ, _, err := ParseName(v); err != nil || typ != "slice" || inst != "" {
				e, _ := u.File.Lookup(sec, "Slice")
				report(e.Wrap(fmt.Errorf("%q is not a slice unit name, ignoring", v)))
			} else {
				s.Slice = v
			}
		}
	}
	if u.Type == "service" {
		s.Sockets = u.names("Service", "Sockets", report)
	}
	// These are in the dependency graph (Describe lists them both ways, jobs are ordered by
	// them where they order) but the job engine does not act on them yet: say so rather than
	// let a unit count on them silently.
	for _, k := range graphOnlyDeps {
		if e, ok := u.File.Lookup("Unit", k); ok && e.Value != "" {
			report(e.Wrap(fmt.Errorf("recorded as a dependency, but stead's job engine does not act on %s= yet", k)))
		}
	}
}

// graphOnlyDeps are the [Unit] dependency settings init records but does not act on.
var graphOnlyDeps = []string{"Requisite", "PartOf", "Upholds", "PropagatesReloadTo",
	"PropagateReloadTo", "ReloadPropagatedFrom", "PropagateReloadFrom", "PropagatesStopTo", "StopPropagatedFrom",
	"JoinsNamespaceOf"}

// absPaths reads a list of absolute paths, specifiers expanded.
func (u *Unit) absPaths(section, key string, report func(error)) []string {
	var out []string
	for _, e := range u.File.Entries(section, key) {
		ws, err := wordsUntilError(e.Value)
		if err != nil {
			report(e.Wrap(err))
		}
		for _, w := range ws {
			v, err := u.Spec.Expand(w)
			if err != nil {
				report(e.Wrap(err))
				continue
			}
			if !path.IsAbs(v) {
				report(e.Wrap(fmt.Errorf("path %q is not absolute, ignoring", v)))
				continue
			}
			out = appendUniq(out, path.Clean(v))
		}
	}
	return out
}

// parseImplicit adds the dependencies upstream derives from the unit's type
// and settings rather than from dependency settings: the slice, default
// dependencies (DefaultDependencies=yes), a socket's service, a timer's or
// path unit's unit, Sockets=. They go to u.Implicit; the manager merges them
// with the file's and adds the ones that need other units (targets ordered
// after what they want, mount units for RequiresMountsFor=).
func (u *Unit) parseImplicit(report func(error)) {
	d := Deps{}
	u.Implicit = d
	if u.LoadState != Loaded && u.LoadState != BadSetting {
		return
	}
	defaults := u.Unit.DefaultDependencies
	if slice := u.SliceName(); slice != "" {
		d.Add(DepRequires, slice)
		d.Add(DepAfter, slice)
	}
	if u.Type == "service" || u.Type == "mount" || u.Type == "swap" {
		u.execImplicit(d)
	}
	switch u.Type {
	case "service":
		if defaults {
			d.Add(DepRequires, "sysinit.target")
			d.Add(DepAfter, "sysinit.target", "basic.target")
			d.Add(DepConflicts, "shutdown.target")
			d.Add(DepBefore, "shutdown.target")
		}
		for _, s := range u.Unit.Sockets {
			d.Add(DepWants, s)
			d.Add(DepAfter, s)
			d.Add(DepTriggeredBy, s)
		}
		if u.Service != nil && u.Service.Type == "dbus" {
			d.Add(DepRequires, "dbus.socket")
			d.Add(DepAfter, "dbus.socket")
		}
	case "socket":
		if u.Socket != nil && !u.Socket.Accept && u.Socket.Service != "" {
			d.Add(DepBefore, u.Socket.Service)
			d.Add(DepTriggers, u.Socket.Service)
		}
		if defaults {
			d.Add(DepBefore, "sockets.target")
			d.Add(DepRequires, "sysinit.target")
			d.Add(DepAfter, "sysinit.target")
			d.Add(DepConflicts, "shutdown.target")
			d.Add(DepBefore, "shutdown.target")
		}
	case "target":
		if defaults && u.Name != "shutdown.target" {
			d.Add(DepConflicts, "shutdown.target")
			d.Add(DepBefore, "shutdown.target")
		}
	case "timer", "path":
		sec := typeSection[u.Type]
		target := u.str(sec, "Unit", report)
		if target == "" {
			target = strings.TrimSuffix(u.Name, "."+u.Type) + ".service"
		}
		d.Add(DepBefore, target)
		d.Add(DepTriggers, target)
		if defaults {
			d.Add(DepRequires, "sysinit.target")
			d.Add(DepAfter, "sysinit.target")
			d.Add(DepBefore, u.Type+"s.target")
			d.Add(DepConflicts, "shutdown.target")
			d.Add(DepBefore, "shutdown.target")
			if u.Type == "timer" {
				if _, ok := u.File.Lookup("Timer", "OnCalendar"); ok {
					d.Add(DepAfter, "time-set.target", "time-sync.target")
				}
			}
		}
	case "automount":
		m := strings.TrimSuffix(u.Name, ".automount") + ".mount"
		d.Add(DepBefore, m)
		d.Add(DepTriggers, m)
		if defaults {
			d.Add(DepConflicts, "umount.target")
			d.Add(DepBefore, "umount.target")
		}
	case "slice":
		// The root slice and system.slice are the manager's own, without
		// default dependencies, as upstream makes them.
		if defaults && u.Name != "-.slice" && u.Name != "system.slice" {
			d.Add(DepConflicts, "shutdown.target")
			d.Add(DepBefore, "shutdown.target")
		}
	case "mount":
		if u.Mount != nil {
			// The mounts above this one (those that exist: the manager drops
			// the rest), as upstream requires and orders them.
			for _, p := range u.Mount.ParentMounts() {
				d.Add(DepRequires, p)
				d.Add(DepAfter, p)
			}
		}
		if defaults {
			// The file-system target is not ordered after a mount that is
			// nofail or installed elsewhere (systemd.mount(5)).
			opts := u.rawValue("Mount", "Options")
			installed := HasMountOption(opts, "nofail") || HasMountOption(opts, "x-systemd.wanted-by") ||
				HasMountOption(opts, "x-systemd.required-by")
			if u.networkMount() {
				d.Add(DepAfter, "remote-fs-pre.target", "network.target", "network-online.target")
				d.Add(DepWants, "network-online.target")
				if !installed {
					d.Add(DepBefore, "remote-fs.target")
				}
			} else {
				d.Add(DepAfter, "local-fs-pre.target")
				if u.rawValue("Mount", "Type") == "tmpfs" {
					d.Add(DepAfter, "swap.target")
				}
				if !installed {
					d.Add(DepBefore, "local-fs.target")
				}
			}
			d.Add(DepConflicts, "umount.target")
			d.Add(DepBefore, "umount.target")
		}
	case "swap":
		if defaults {
			d.Add(DepConflicts, "umount.target")
			d.Add(DepBefore, "umount.target")
		}
	}
}

// journalOutputs are the StandardOutput=/StandardError= values that write to
// the journal (or the kernel log, which the journal reads).
var journalOutputs = map[string]bool{"journal": true, "journal+console": true, "kmsg": true, "kmsg+console": true}

// execImplicit adds what upstream derives from a unit's execution settings:
// ordering after the journal's socket when output goes to the journal (the
// default), and for PrivateTmp= the temporary directories' mounts and
// systemd-tmpfiles-setup.service. It reads the settings without counting them
// as applied: they are implemented (or reported) elsewhere.
func (u *Unit) execImplicit(d Deps) {
	in := u.rawValue(typeSection[u.Type], "StandardInput")
	out := u.rawValue(typeSection[u.Type], "StandardOutput")
	if out == "" {
		out = "journal"
		if strings.HasPrefix(in, "tty") {
			out = "inherit"
		}
	}
	errOut := u.rawValue(typeSection[u.Type], "StandardError")
	if errOut == "" || errOut == "inherit" {
		errOut = out
	}
	if journalOutputs[out] || journalOutputs[errOut] {
		d.Add(DepAfter, "systemd-journald.socket")
	}
	for _, k := range []string{"StateDirectory", "CacheDirectory", "LogsDirectory"} {
		if len(u.rawWords(typeSection[u.Type], k)) > 0 {
			// These need write access, and /var may be on the root file system.
			d.Add(DepAfter, "systemd-remount-fs.service")
			break
		}
	}
	if pt := u.rawValue(typeSection[u.Type], "PrivateTmp"); pt != "" {
		// Only the connected kind shares /tmp with the host's mounts; "disconnected"
		// gets a fresh one and needs nothing mounted.
		if b, err := conf.ParseBool(pt); err == nil && b {
			d.Add(DepAfter, "systemd-tmpfiles-setup.service")
			// The mounts of /tmp and /var/tmp are wanted only with default
			// dependencies, as upstream's dump shows.
			u.privateTmp = u.Unit.DefaultDependencies
		}
	}
}

// networkMount reports whether a mount unit mounts a network file system (by
// Type= or the _netdev option), which orders it against the remote-fs targets.
func (u *Unit) networkMount() bool {
	return NetworkFSType(u.rawValue("Mount", "Type")) || HasMountOption(u.rawValue("Mount", "Options"), "_netdev")
}

// MountPaths lists the paths the unit needs mounted (RequiresMountsFor=, and
// the directories its settings name), and the ones it only wants
// (WantsMountsFor=): the manager orders it after the mount units of each path
// and its parents that exist.
func (u *Unit) MountPaths() (requires, wants []string) {
	requires = append(requires, u.Unit.RequiresMountsFor...)
	if s := u.Service; s != nil && s.WorkingDirectory != "" {
		if wd := strings.TrimPrefix(s.WorkingDirectory, "-"); path.IsAbs(wd) {
			requires = appendUniq(requires, path.Clean(wd))
		}
	}
	if sec := typeSection[u.Type]; sec != "" && u.File != nil {
		for _, dir := range []struct{ key, base string }{{"RuntimeDirectory", "/run"}, {"StateDirectory", "/var/lib"},
			{"CacheDirectory", "/var/cache"}, {"LogsDirectory", "/var/log"}, {"ConfigurationDirectory", "/etc"}} {
			for _, w := range u.rawWords(sec, dir.key) {
				w, _, _ = strings.Cut(w, ":")
				if w != "" && !path.IsAbs(w) {
					requires = appendUniq(requires, path.Join(dir.base, w))
				}
			}
		}
	}
	wants = u.Unit.WantsMountsFor
	if u.privateTmp {
		wants = appendUniq(append([]string{}, wants...), "/tmp", "/var/tmp")
	}
	return requires, wants
}

// SliceName is the slice the unit runs in: Slice=, else system.slice, or for
// an instance system-PREFIX.slice (one slice per template, as upstream). A
// slice's parent is the slice its name nests in (foo-bar.slice in
// foo.slice, top-level ones in -.slice). Units of other types have none.
func (u *Unit) SliceName() string {
	if u.Type == "slice" {
		if u.Name == "-.slice" {
			return ""
		}
		base := strings.TrimSuffix(u.Name, ".slice")
		if i := strings.LastIndexByte(base, '-'); i > 0 {
			return base[:i] + ".slice"
		}
		return "-.slice"
	}
	if !cgroupUnitTypes[u.Type] {
		return ""
	}
	if u.Unit.Slice != "" {
		return u.Unit.Slice
	}
	if u.Type == "mount" && extrinsicMount(UnescapePath(u.Prefix)) {
		return "-.slice" // the API file systems belong to the whole system, as upstream
	}
	if u.Instance != "" {
		return "system-" + EscapeName(u.Prefix) + ".slice"
	}
	return "system.slice"
}

// extrinsicMount reports whether a mount point is one upstream keeps in the
// root slice: "/", "/usr", the API file systems (/proc, /sys, /dev, /run and
// below) and the initramfs's. An approximation of upstream's list; see
// docs/systemd.unit.md.
func extrinsicMount(where string) bool {
	if where == "/" || where == "/usr" {
		return true
	}
	for _, api := range []string{"/proc", "/sys", "/dev", "/run"} {
		if where == api || strings.HasPrefix(where, api+"/") {
			return true
		}
	}
	return false
}

// EscapeName escapes s for use in a unit name as systemd-escape does: "/"
// becomes "-", and bytes other than ASCII letters, digits, ":", "_" and "."
// (a leading "." included) become "\xNN".
func EscapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == ':', c == '_', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\x%02x", c)
		}
	}
	return b.String()
}

// MountUnitName is the mount unit for path p ("/" → "-.mount", "/var/lib" →
// "var-lib.mount"), as systemd-escape --path names it.
func MountUnitName(p string) string {
	p = strings.Trim(path.Clean(p), "/")
	if p == "" {
		return "-.mount"
	}
	return EscapeName(p) + ".mount"
}
