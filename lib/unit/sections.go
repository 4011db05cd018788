package unit

import (
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
	StartLimitInterval                          time.Duration // StartLimitIntervalSec=, 0 disables
	StartLimitBurst                             int
	StartLimitSet                               bool // either was set
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
	Type    string // "stream" or "datagram"
	Address string // a path, "@abstract", "PORT" or "ADDR:PORT"
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
	s.BindsTo = u.names("Unit", "BindsTo", report)
	s.Requisite = u.names("Unit", "Requisite", report)
	s.PartOf = u.names("Unit", "PartOf", report)
	s.Conflicts = u.names("Unit", "Conflicts", report)
	s.After = u.names("Unit", "After", report)
	s.Before = u.names("Unit", "Before", report)
	s.DefaultDependencies = u.boolean("Unit", "DefaultDependencies", true, report)
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
	u.parseConditions(report)
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
			c := Condition{Kind: k.kind, Assert: k.assert}
			for len(v) > 0 && (v[0] == '|' || v[0] == '!') {
				if v[0] == '|' {
					c.Trigger = true
				} else {
					c.Negate = true
				}
				v = strings.TrimLeft(v[1:], " ")
			}
			c.Value = v
			u.Unit.Conditions = append(u.Unit.Conditions, c)
		}
	}
}

func (u *Unit) parseInstall(report func(error)) {
	u.Install.WantedBy = u.names("Install", "WantedBy", report)
	u.Install.RequiredBy = u.names("Install", "RequiredBy", report)
	u.Install.Also = u.names("Install", "Also", report)
	u.Install.Alias = u.names("Install", "Alias", report)
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

func (u *Unit) execs(key string, report func(error)) ([]ExecCommand, bool) {
	var out []ExecCommand
	bad := false
	for _, e := range u.File.Entries("Service", key) {
		v, ok := u.expand(e, report)
		if !ok {
			bad = true
			continue
		}
		cmds, err := ParseExec(v)
		if err != nil {
			report(e.Wrap(err))
			bad = true
			continue
		}
		for _, c := range cmds {
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

func (u *Unit) words(section, key string, report func(error)) []string {
	return listSetting(u, section, key, report, func(v string, _ func(error)) ([]string, error) {
		return wordTexts(v)
	})
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
	}
	switch {
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
			default:
				continue
			}
			if e.Value == "" { // reset: drops every Listen*= before it
				s.Listen, s.ListenStream, s.ListenDatagram = nil, nil, nil
				continue
			}
			v, ok := u.expand(e, report)
			if !ok {
				continue
			}
			s.Listen = append(s.Listen, Listen{Type: typ, Address: v})
			if typ == "stream" {
				s.ListenStream = append(s.ListenStream, v)
			} else {
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
