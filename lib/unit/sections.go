package unit

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/conf"
)

// Condition is one Condition*= or Assert*= setting.
type Condition struct {
	Kind    string // "PathExists", "Virtualization", … (without the Condition/Assert prefix)
	Assert  bool   // Assert*= rather than Condition*=
	Trigger bool   // "|" prefix: any one triggering condition suffices
	Negate  bool   // "!" prefix
	Value   string
}

// UnitSection is the typed [Unit] section.
type UnitSection struct {
	Description                                 string
	Wants, Requires, BindsTo, Requisite, PartOf []string
	Conflicts, After, Before                    []string
	Conditions                                  []Condition
	DefaultDependencies                         bool
	// The rest of the dependencies upstream reads from [Unit] (deps.go).
	Upholds, OnFailure, OnSuccess            []string
	PropagatesReloadTo, ReloadPropagatedFrom []string
	PropagatesStopTo, StopPropagatedFrom     []string
	JoinsNamespaceOf                         []string
	RequiresMountsFor, WantsMountsFor        []string // absolute paths
	Documentation                            []string
	Slice                                    string        // Slice= of the unit's type section, "" for the default
	Sockets                                  []string      // a service's Sockets=
	Actions                                                // FailureAction=, RefuseManualStart=, … (actions.go)
	StartLimitInterval                       time.Duration // StartLimitIntervalSec=, 0 disables
	StartLimitBurst                          int
	StartLimitSet                            bool // either was set
}

// Install is the typed [Install] section.
type Install struct {
	WantedBy, RequiredBy, Also, Alias []string
}

// Service is the typed [Service] section.
type Service struct {
	Type                                             string // simple, exec, forking, oneshot, notify, notify-reload, dbus, idle
	ExecStartPre, ExecStart, ExecStartPost, ExecStop []ExecCommand
	ExecStopPost, ExecReload, ExecCondition          []ExecCommand
	Restart                                          string // no, always, on-success, on-failure, on-abnormal, on-abort, on-watchdog
	RestartSec                                       time.Duration
	Environment                                      []string // NAME=VALUE, in order
	EnvironmentFiles                                 []string // "-" prefix kept: missing is fine
	User, Group, WorkingDirectory                    string
	SupplementaryGroups                              []string
	RuntimeDirectory, StateDirectory                 []string
	RuntimeDirectoryMode, StateDirectoryMode         uint32 // default 0755
	RuntimeDirectoryPreserve                         string // no, yes, restart
	LoadCredentials                                  []LoadCredential
	SetCredentials                                   []SetCredential
	ImportCredentials                                []ImportCredential
	TimeoutStart, TimeoutStop                        time.Duration
	KillMode                                         string // control-group, mixed, process, none
	KillSignal                                       string
	RemainAfterExit                                  bool
	SuccessExitStatus                                ExitStatusSet // clean exits of the main process besides 0 (exitstatus.go)
	RestartPreventExitStatus                         ExitStatusSet
	RestartForceExitStatus                           ExitStatusSet
	Watchdog                                         time.Duration
	FileDescriptorStoreMax                           int
	FileDescriptorStorePreserve                      string // no, yes, restart (default), on-success
	PIDFile                                          string
	ReloadSignal                                     string // Type=notify-reload: sent to reload (actions.go)
	GuessMainPID                                     bool   // Type=forking without PIDFile=
	// Standard streams: StandardInput= is "null" or "socket"; StandardOutput=
	// and StandardError= are "inherit", "null", "socket" or "log" (journal,
	// kmsg, console and their combinations: the manager's log output).
	StandardInput, StandardOutput, StandardError string
	// Privileges (security.go): capabilities the processes keep across
	// User= (ambient), the bounding set (AllCaps: unchanged) and
	// NoNewPrivileges=.
	AmbientCapabilities, CapabilityBoundingSet CapSet
	NoNewPrivileges                            bool
	// Execution security (sandbox.go): limits, namespaces, seccomp.
	Sandbox Sandbox
}

// Listen is one Listen*= line of a socket unit.
type Listen struct {
	Type    string // "stream", "datagram", "seqpacket", "netlink", "special" or "fifo"
	Address string // a path, "@abstract", "PORT" or "ADDR:PORT"; "FAMILY GROUP" for netlink
}

// Socket is the typed [Socket] section.
type Socket struct {
	ListenStream, ListenDatagram []string
	Listen                       []Listen // every Listen*= in file order: the order of the fds
	Accept                       bool
	MaxConnections               int // Accept=yes: concurrent connections (default 64)
	SocketMode                   uint32
	Symlinks                     []string
	FileDescriptorName           string
	Service                      string
}

const defaultTimeout = 90 * time.Second

func (u *Unit) parseUnit(report func(error)) {
	s := &u.Unit
	s.Description = u.str("Unit", "Description", report)
	s.Wants = u.names("Unit", "Wants", report)
	s.Requires = u.names("Unit", "Requires", report)
	s.BindsTo = appendUniq(u.names("Unit", "BindsTo", report), u.names("Unit", "BindTo", report)...)
	s.Requisite = u.names("Unit", "Requisite", report)
	s.PartOf = u.names("Unit", "PartOf", report)
	s.Conflicts = u.names("Unit", "Conflicts", report)
	s.After = u.names("Unit", "After", report)
	s.Before = u.names("Unit", "Before", report)
	s.DefaultDependencies = u.boolean("Unit", "DefaultDependencies", true, report)
	u.parseMoreDeps(report) // deps.go
	s.StartLimitInterval = 10 * time.Second
	s.StartLimitBurst = 5
	for _, sec := range []string{"Unit", "Service"} { // [Service] is the legacy place
		if e, ok := u.File.Lookup(sec, "StartLimitIntervalSec"); ok {
			if d, err := conf.Timespan(e); err != nil {
				report(err)
			} else {
				s.StartLimitInterval, s.StartLimitSet = d, true
			}
		}
		if e, ok := u.File.Lookup(sec, "StartLimitBurst"); ok {
			if n, err := unsignedInt(e); err != nil {
				report(err)
			} else {
				s.StartLimitBurst, s.StartLimitSet = n, true
			}
		}
	}
	u.parseActions(report)
	u.parseConditions(report)
}

// ConditionKinds are the Condition*=/Assert*= names (without the prefix)
// systemd 262 documents; lib/unit/condition evaluates each of them.
var ConditionKinds = []string{
	"Architecture", "Firmware", "Virtualization", "Host", "Fraction", "KernelCommandLine", "KernelVersion",
	"Version", "Credential", "Environment", "Security", "Capability", "ACPower", "NeedsUpdate", "FirstBoot",
	"PathExists", "PathExistsGlob", "PathIsDirectory", "PathIsSymbolicLink", "PathIsMountPoint",
	"PathIsReadWrite", "PathIsEncrypted", "PathIsSocket", "DirectoryNotEmpty", "FileNotEmpty",
	"FileIsExecutable", "User", "Group", "ControlGroupController", "Memory", "CPUs", "CPUFeature",
	"OSRelease", "MachineTag", "MemoryPressure", "CPUPressure", "IOPressure", "KernelModuleLoaded",
}

// condKind is what an empty Condition*= or Assert*= resets: one kind of
// one of the two.
type condKind struct {
	kind   string
	assert bool
}

// conditionKind splits a Condition*= or Assert*= key; ok is false for
// other keys.
func conditionKind(key string) (k condKind, ok bool) {
	if kind, ok := strings.CutPrefix(key, "Condition"); ok {
		return condKind{kind: kind}, true
	}
	if kind, ok := strings.CutPrefix(key, "Assert"); ok {
		return condKind{kind: kind, assert: true}, true
	}
	return condKind{}, false
}

// parseConditions reads the Condition*= and Assert*= settings of every
// [Unit] section. An empty assignment drops the conditions of its kind
// before it; rather than filtering the list at each reset (quadratic in a
// hostile file), a first pass finds each kind's last reset and the second
// keeps only what follows it.
func (u *Unit) parseConditions(report func(error)) {
	secs := u.File.SectionsNamed("Unit")
	lastReset := map[condKind]int{} // entry position of the kind's last reset, counted across sections
	pos := 0
	for _, sec := range secs {
		for _, e := range sec.Entries {
			pos++
			if k, ok := conditionKind(e.Key); ok && e.Value == "" {
				lastReset[k] = pos
			}
		}
	}
	pos = 0
	for _, sec := range secs {
		for _, e := range sec.Entries {
			pos++
			k, ok := conditionKind(e.Key)
			if !ok || e.Value == "" {
				continue
			}
			v, ok := u.expand(e, report) // a bad value is reported even if a reset drops it
			if !ok || pos < lastReset[k] {
				continue
			}
			if !slices.Contains(ConditionKinds, k.kind) {
				report(e.Wrap(errors.New("unknown condition or assertion, ignoring")))
				continue
			}
			c := Condition{Kind: k.kind, Assert: k.assert}
			for len(v) > 0 && (v[0] == '|' || v[0] == '!') {
				if v[0] == '|' {
					c.Trigger = true
				} else {
					c.Negate = true
				}
				v = strings.TrimLeft(v[1:], " ")
			}
			if pathCondition(k.kind) && path.IsAbs(v) {
				v = path.Clean(v) // as upstream: "/proc/sys/" is "/proc/sys"
			}
			c.Value = v
			u.Unit.Conditions = append(u.Unit.Conditions, c)
		}
	}
}

// pathCondition reports whether a condition kind takes a path.
func pathCondition(kind string) bool {
	switch kind {
	case "PathExists", "PathExistsGlob", "PathIsDirectory", "PathIsSymbolicLink", "PathIsMountPoint",
		"PathIsReadWrite", "PathIsEncrypted", "DirectoryNotEmpty", "FileNotEmpty", "FileIsExecutable", "NeedsUpdate":
		return true
	}
	return false
}

func (u *Unit) parseInstall(report func(error)) {
	u.Install.WantedBy = u.names("Install", "WantedBy", report)
	u.Install.RequiredBy = u.names("Install", "RequiredBy", report)
	u.Install.Also = u.names("Install", "Also", report)
	u.Install.Alias = u.names("Install", "Alias", report)
	// Applied by enable/disable (install.go, which reads [Install] itself): not unsupported.
	u.File.MarkUsed("Install", "UpheldBy", "DefaultInstance")
}

// unsignedInt reads a count: a decimal integer, at least 0.
var unsignedInt = conf.Int("unsigned integer", 0, math.MaxInt)

// boolean reads a boolean; unset, empty or invalid, it is def.
func (u *Unit) boolean(section, key string, def bool, report func(error)) bool {
	e, _ := u.File.Lookup(section, key)
	conf.Set(&def, e, conf.Bool, report)
	return def
}

// timespan reads a time span; unset, empty or invalid, it is def.
func (u *Unit) timespan(section, key string, def time.Duration, report func(error)) time.Duration {
	e, _ := u.File.Lookup(section, key)
	conf.Set(&def, e, conf.Timespan, report)
	return def
}

func (u *Unit) enum(section, key, def string, allowed []string, report func(error)) string {
	e, ok := u.File.Lookup(section, key)
	if !ok || e.Value == "" {
		return def
	}
	for _, a := range allowed {
		if e.Value == a {
			return a
		}
	}
	report(e.Wrap(fmt.Errorf("unknown value %q", e.Value)))
	return def
}

// execs reads an Exec*= setting as upstream does: the line is split into
// words first and the specifiers of each word expanded after, so that %i keeps
// its escaped form ("\x2d") instead of being unescaped again. A command whose
// specifiers fail makes the unit unloadable, as upstream, unless its "-"
// prefix says failures are fine.
func (u *Unit) execs(key string, report func(error)) ([]ExecCommand, bool) {
	var out []ExecCommand
	bad := false
	for _, e := range u.File.Entries("Service", key) {
		cmds, relaxed, err := ParseExecWarn(e.Value)
		if err != nil {
			report(e.Wrap(err))
			bad = true
			continue
		}
		if relaxed {
			report(e.Wrap(errors.New("ignoring unknown escape sequences, keeping them as written")))
		}
	cmds:
		for _, c := range cmds {
			p, err := u.Spec.Expand(c.Path)
			if err != nil {
				report(e.Wrap(err))
				bad = bad || !c.IgnoreFailure
				continue
			}
			c.Path = p
			argv := make([]string, len(c.Argv))
			for i, a := range c.Argv {
				if argv[i], err = u.Spec.Expand(a); err != nil {
					report(e.Wrap(err))
					bad = bad || !c.IgnoreFailure
					continue cmds
				}
			}
			c.Argv = argv
			if !strings.HasPrefix(c.Path, "/") && strings.Contains(c.Path, "/") {
				report(e.Wrap(fmt.Errorf("executable path %q is neither absolute nor a plain name", c.Path)))
				bad = true
				continue
			}
			out = append(out, c)
		}
	}
	return out, bad
}

// words reads a list setting of words (Environment=, SupplementaryGroups=, …)
// as upstream: each assignment is split into words, then each word's
// specifiers are expanded (a word whose specifiers fail is dropped with a
// warning). A syntax error (an unknown escape such as "\ ", unbalanced quotes)
// keeps the words before it and drops the rest of the line, as upstream.
// An empty assignment resets the list.
func (u *Unit) words(section, key string, report func(error)) []string {
	var out []string
	for _, e := range u.File.Entries(section, key) {
		ws, err := wordsUntilError(e.Value)
		if err != nil {
			report(e.Wrap(fmt.Errorf("invalid syntax, ignoring the rest of the line: %w", err)))
		}
		for _, w := range ws {
			v, err := u.Spec.Expand(w)
			if err != nil {
				report(e.Wrap(err))
				continue
			}
			out = append(out, v)
		}
	}
	return out
}

// wordsUntilError splits v into words; on a syntax error it returns the
// words before the bad one with the error.
func wordsUntilError(v string) ([]string, error) {
	if ws, err := wordTexts(v); err == nil {
		return ws, nil
	}
	// Find the first bad word: split the text word by word.
	var out []string
	rest := v
	for {
		rest = strings.TrimLeft(rest, " \t\n\r")
		if rest == "" {
			return out, nil
		}
		n := wordEnd(rest)
		ws, err := wordTexts(rest[:n])
		if err != nil {
			return out, err
		}
		out = append(out, ws...)
		rest = rest[n:]
	}
}

// wordEnd is the length of the first word of s (which starts with no
// whitespace): up to unquoted, unescaped whitespace.
func wordEnd(s string) int {
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '\'' || c == '"':
			q = c
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return i
		}
	}
	return len(s)
}

// wordTexts splits a value into its words, quotes and escapes resolved.
func wordTexts(v string) ([]string, error) {
	ws, err := SplitWords(v)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.text
	}
	return out, nil
}

// listSetting reads every assignment of a list setting, specifiers expanded. An empty
// assignment resets the list; parse turns one value into its items and reports what it skips
// through warn, which adds the assignment's file and line; an error drops the whole
// assignment.
func listSetting[T any](u *Unit, section, key string, report func(error), parse func(v string, warn func(error)) ([]T, error)) []T {
	var out []T
	for _, e := range u.File.Entries(section, key) {
		if e.Value == "" {
			out = nil
			continue
		}
		v, ok := u.expand(e, report)
		if !ok {
			continue
		}
		items, err := parse(v, func(err error) { report(e.Wrap(err)) })
		if err != nil {
			report(e.Wrap(err))
			continue
		}
		out = append(out, items...)
	}
	return out
}

// parseService fills u.Service; it returns true when the unit cannot be
// started as configured (bad-setting).
func (u *Unit) parseService(report func(error)) bool {
	s := &Service{}
	u.Service = s
	s.Type = u.enum("Service", "Type", "simple",
		[]string{"simple", "exec", "forking", "oneshot", "notify", "notify-reload", "dbus", "idle"}, report)
	var bad, b bool
	s.ExecStartPre, b = u.execs("ExecStartPre", report)
	bad = bad || b
	s.ExecStart, b = u.execs("ExecStart", report)
	bad = bad || b
	s.ExecStartPost, b = u.execs("ExecStartPost", report)
	bad = bad || b
	s.ExecStop, _ = u.execs("ExecStop", report)
	s.ExecStopPost, _ = u.execs("ExecStopPost", report)
	s.ExecReload, _ = u.execs("ExecReload", report)
	s.ExecCondition, _ = u.execs("ExecCondition", report)
	if t, _ := u.File.Get("Service", "Type"); t == "" && len(s.ExecStart) == 0 {
		s.Type = "oneshot" // no Type= and no ExecStart= (a stop-only service): oneshot, as upstream
	} else if t == "" && u.rawValue("Service", "BusName") != "" {
		s.Type = "dbus" // BusName= without Type=: dbus, as upstream
	}
	switch {
	case len(s.ExecStart) == 0 && len(s.ExecStop) == 0 && u.rawValue("Unit", "SuccessAction") != "":
		// Nothing to run, an action when it "succeeds" (systemd-poweroff.service and the
		// like): upstream loads these as oneshot services.
	case len(s.ExecStart) == 0 && len(s.ExecStop) == 0:
		report(fmt.Errorf("%s: service has no ExecStart= or ExecStop= setting, refusing", u.Name))
		bad = true
	case len(s.ExecStart) == 0 && s.Type != "oneshot":
		report(fmt.Errorf("%s: service has no ExecStart= setting, which only Type=oneshot services may lack, refusing", u.Name))
		bad = true
	}
	if len(s.ExecStart) > 1 && s.Type != "oneshot" {
		report(fmt.Errorf("%s: service has more than one ExecStart= setting, which is only allowed for Type=oneshot services, refusing", u.Name))
		bad = true
	}
	s.Restart = u.enum("Service", "Restart", "no",
		[]string{"no", "always", "on-success", "on-failure", "on-abnormal", "on-abort", "on-watchdog"}, report)
	s.RestartSec = u.timespan("Service", "RestartSec", 100*time.Millisecond, report)
	s.Environment = u.words("Service", "Environment", report)
	s.EnvironmentFiles = listSetting(u, "Service", "EnvironmentFile", report, func(v string, _ func(error)) ([]string, error) {
		if !strings.HasPrefix(strings.TrimPrefix(v, "-"), "/") {
			return nil, fmt.Errorf("path %q is not absolute", v)
		}
		return []string{v}, nil
	})
	s.User = u.str("Service", "User", report)
	s.Group = u.str("Service", "Group", report)
	s.SupplementaryGroups = u.words("Service", "SupplementaryGroups", report)
	s.RuntimeDirectoryMode = u.mode("Service", "RuntimeDirectoryMode", 0o755, report)
	s.StateDirectoryMode = u.mode("Service", "StateDirectoryMode", 0o755, report)
	u.parseCredentials(s, report)
	s.WorkingDirectory = u.str("Service", "WorkingDirectory", report)
	s.PIDFile = u.str("Service", "PIDFile", report)
	u.parseServiceExtras(s, report)
	s.RuntimeDirectory = u.dirs("RuntimeDirectory", report)
	s.StateDirectory = u.dirs("StateDirectory", report)
	s.RuntimeDirectoryPreserve = u.preserveMode("RuntimeDirectoryPreserve", "no", report)
	ts := u.timespan("Service", "TimeoutSec", defaultTimeout, report)
	startDefault := ts
	if _, set := u.File.Get("Service", "TimeoutSec"); !set && s.Type == "oneshot" {
		startDefault = 0 // oneshot services have no start timeout unless one is set
	}
	s.TimeoutStart = u.timespan("Service", "TimeoutStartSec", startDefault, report)
	s.TimeoutStop = u.timespan("Service", "TimeoutStopSec", ts, report)
	s.KillMode = u.enum("Service", "KillMode", "control-group", []string{"control-group", "mixed", "process", "none"}, report)
	s.KillSignal = "SIGTERM"
	if e, ok := u.File.Lookup("Service", "KillSignal"); ok && e.Value != "" {
		if _, err := SignalNumber(e.Value); err != nil {
			report(e.Wrap(err))
		} else {
			s.KillSignal = e.Value
		}
	}
	s.RemainAfterExit = u.boolean("Service", "RemainAfterExit", false, report)
	s.SuccessExitStatus = u.exitStatusSet("SuccessExitStatus", report)
	s.RestartPreventExitStatus = u.exitStatusSet("RestartPreventExitStatus", report)
	s.RestartForceExitStatus = u.exitStatusSet("RestartForceExitStatus", report)
	s.Watchdog = u.timespan("Service", "WatchdogSec", 0, report)
	u.parseStdio(s, report)
	u.parseSecurity(s, report)
	u.parseSandbox(s, report)
	fdStoreMax, _ := u.File.Lookup("Service", "FileDescriptorStoreMax")
	conf.Set(&s.FileDescriptorStoreMax, fdStoreMax, unsignedInt, report)
	s.FileDescriptorStorePreserve = u.preserveMode("FileDescriptorStorePreserve", "restart", report)
	return bad
}

// preserveMode reads a [Service] setting of the kind RuntimeDirectoryPreserve= and
// FileDescriptorStorePreserve= are: a boolean (yes or no), "restart" or, for the fd store
// only, "on-success". Empty or unset is def.
func (u *Unit) preserveMode(key, def string, report func(error)) string {
	modes := []string{"no", "yes", "restart"}
	if key == "FileDescriptorStorePreserve" {
		modes = append(modes, "on-success")
	}
	if v, ok := u.File.Get("Service", key); ok && v != "" && !slices.Contains(modes, v) {
		if b, err := conf.ParseBool(v); err == nil {
			return map[bool]string{true: "yes", false: "no"}[b]
		}
	}
	return u.enum("Service", key, def, modes, report)
}

func (u *Unit) parseSocket(report func(error)) bool {
	s := &Socket{SocketMode: 0o666, MaxConnections: 64}
	u.Socket = s
	for _, sec := range u.File.SectionsNamed("Socket") {
		for _, e := range sec.Entries {
			var typ string
			switch e.Key {
			case "ListenStream":
				typ = "stream"
			case "ListenDatagram":
				typ = "datagram"
			case "ListenSequentialPacket":
				typ = "seqpacket"
			case "ListenNetlink":
				typ = "netlink"
			case "ListenSpecial":
				typ = "special"
			case "ListenFIFO":
				typ = "fifo"
			default:
				continue
			}
			u.File.MarkUsed("Socket", e.Key)
			if e.Value == "" { // reset: drops every Listen*= before it
				s.Listen, s.ListenStream, s.ListenDatagram = nil, nil, nil
				continue
			}
			v, ok := u.expand(e, report)
			if !ok {
				continue
			}
			if typ == "netlink" {
				if _, _, err := ParseNetlinkListen(v); err != nil {
					report(e.Wrap(err))
					continue
				}
			} else if (typ == "special" || typ == "fifo") && !path.IsAbs(v) {
				report(e.Wrap(fmt.Errorf("%q is not an absolute path, ignoring", v)))
				continue
			}
			s.Listen = append(s.Listen, Listen{Type: typ, Address: v})
			switch typ {
			case "stream":
				s.ListenStream = append(s.ListenStream, v)
			case "datagram":
				s.ListenDatagram = append(s.ListenDatagram, v)
			}
		}
	}
	s.Accept = u.boolean("Socket", "Accept", false, report)
	maxConn, _ := u.File.Lookup("Socket", "MaxConnections")
	conf.Set(&s.MaxConnections, maxConn, conf.Int("positive integer", 1, math.MaxInt), report)
	if e, ok := u.File.Lookup("Socket", "SocketMode"); ok && e.Value != "" {
		m, err := strconv.ParseUint(e.Value, 8, 32)
		if err != nil || m > 0o7777 {
			report(e.Wrap(&conf.ValueError{Type: "file mode", Value: e.Value}))
		} else {
			s.SocketMode = uint32(m)
		}
	}
	s.Symlinks = u.words("Socket", "Symlinks", report)
	s.FileDescriptorName = u.str("Socket", "FileDescriptorName", report)
	if s.FileDescriptorName == "" {
		s.FileDescriptorName = u.Name
	}
	s.Service = u.str("Socket", "Service", report)
	if s.Service != "" && s.Accept {
		report(fmt.Errorf("%s: explicit service configuration for accepting socket units not supported, refusing", u.Name))
		return true
	}
	if s.Service == "" {
		s.Service = strings.TrimSuffix(u.Name, ".socket") + ".service"
		if s.Accept {
			s.Service = u.Prefix + "@.service"
		}
	}
	if s.Accept {
		for _, l := range s.Listen {
			if l.Type != "stream" && l.Type != "seqpacket" {
				report(fmt.Errorf("%s: Accept=yes needs stream or sequential-packet listeners only, refusing", u.Name))
				return true
			}
		}
	}
	if len(s.Listen) == 0 {
		report(fmt.Errorf("%s: socket unit lacks a Listen setting, refusing", u.Name))
		return true
	}
	if s.Accept && len(s.ListenDatagram) > 0 {
		report(fmt.Errorf("%s: Accept=yes is not supported for datagram sockets, refusing", u.Name))
		return true
	}
	return false
}

// mode reads an octal file mode.
func (u *Unit) mode(section, key string, def uint32, report func(error)) uint32 {
	e, ok := u.File.Lookup(section, key)
	if !ok || e.Value == "" {
		return def
	}
	m, err := strconv.ParseUint(e.Value, 8, 32)
	if err != nil || m > 0o7777 {
		report(e.Wrap(&conf.ValueError{Type: "file mode", Value: e.Value}))
		return def
	}
	return uint32(m)
}

// dirs reads RuntimeDirectory=/StateDirectory=: relative paths without ".."
// (a ":" suffix naming a symlink is not supported and dropped with a warning).
func (u *Unit) dirs(key string, report func(error)) []string {
	return listSetting(u, "Service", key, report, func(v string, warn func(error)) ([]string, error) {
		ws, err := wordTexts(v)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, d := range ws {
			if i := strings.IndexByte(d, ':'); i >= 0 {
				warn(fmt.Errorf("%s: symlink destinations are not supported, ignoring them", d))
				d = d[:i]
			}
			c := path.Clean(d)
			if d == "" || strings.HasPrefix(d, "/") || c == "." || c == ".." || strings.HasPrefix(c, "../") {
				warn(fmt.Errorf("%q is not a relative path below the base directory, ignoring", d))
				continue
			}
			out = append(out, c)
		}
		return out, nil
	})
}

// parseCredentials reads LoadCredential=, SetCredential= and ImportCredential=.
func (u *Unit) parseCredentials(s *Service, report func(error)) {
	s.LoadCredentials = serviceList(u, "LoadCredential", ParseLoadCredential, report)
	s.SetCredentials = serviceList(u, "SetCredential", ParseSetCredential, report)
	s.ImportCredentials = serviceList(u, "ImportCredential", ParseImportCredential, report)
}

// serviceList reads the [Service] list setting key whose every assignment is one item.
func serviceList[T any](u *Unit, key string, parse func(string) (T, error), report func(error)) []T {
	return listSetting(u, "Service", key, report, func(v string, _ func(error)) ([]T, error) {
		x, err := parse(v)
		if err != nil {
			return nil, err
		}
		return []T{x}, nil
	})
}

// SignalNumber parses a signal name ("SIGTERM", "TERM", "SIGRTMIN+3") or
// number.
func SignalNumber(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return n, nil
	}
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if rest, ok := strings.CutPrefix(s, "SIGRTMIN+"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 && n <= sigRTMax-sigRTMin {
			return sigRTMin + n, nil
		}
	}
	if n := unix.SignalNum(s); n != 0 {
		return int(n), nil
	}
	return 0, &conf.ValueError{Type: "signal", Value: s}
}

// The real-time signal range as the C library (and so systemd) exposes it.
const sigRTMin, sigRTMax = 34, 64

// parseStdio reads StandardInput=, StandardOutput= and StandardError= with
// systemd's defaults: output inherits the input when that is a socket, else
// goes to the log; errors inherit the output.
func (u *Unit) parseStdio(s *Service, report func(error)) {
	s.StandardInput = "null"
	if e, ok := u.File.Lookup("Service", "StandardInput"); ok && e.Value != "" {
		switch e.Value {
		case "null", "socket":
			s.StandardInput = e.Value
		default:
			report(e.Wrap(fmt.Errorf("StandardInput=%s is not supported, using null", e.Value)))
		}
	}
	out := func(key, def string) string {
		e, ok := u.File.Lookup("Service", key)
		if !ok || e.Value == "" {
			return def
		}
		switch e.Value {
		case "inherit", "null", "socket":
			return e.Value
		case "journal", "kmsg", "console", "journal+console", "kmsg+console", "tty":
			return "log"
		}
		report(e.Wrap(fmt.Errorf("%s=%s is not supported, using %s", key, e.Value, def)))
		return def
	}
	def := "log"
	if s.StandardInput == "socket" {
		def = "inherit"
	}
	s.StandardOutput = out("StandardOutput", def)
	s.StandardError = out("StandardError", "inherit")
}
