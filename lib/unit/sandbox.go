package unit

// Execution security settings of a service (systemd.exec(5)): resource
// limits and process attributes, mount-namespace sandboxing, seccomp
// filters and DynamicUser=. Parsed here, applied by the manager's exec
// shim in the child before it executes the service (services/pid1).

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/seccomp"
)

// RLimit is one Limit*= setting: resource number and soft and hard
// values (unix.RLIM_INFINITY for infinity).
type RLimit struct {
	Name       string // "NOFILE", …
	Resource   int
	Soft, Hard uint64
}

// Infinity is an unlimited resource limit.
const Infinity = uint64(unix.RLIM_INFINITY)

// rlimitKinds lists the Limit*= settings with their resource and value
// syntax: bytes (1024-based units), a plain count, seconds (a time span,
// rounded up), microseconds (a time span whose bare numbers are µs) or a
// nice level.
var rlimitKinds = []struct {
	name     string
	resource int
	kind     string
}{
	{"CPU", unix.RLIMIT_CPU, "sec"}, {"FSIZE", unix.RLIMIT_FSIZE, "bytes"},
	{"DATA", unix.RLIMIT_DATA, "bytes"}, {"STACK", unix.RLIMIT_STACK, "bytes"},
	{"CORE", unix.RLIMIT_CORE, "bytes"}, {"RSS", unix.RLIMIT_RSS, "bytes"},
	{"NOFILE", unix.RLIMIT_NOFILE, "count"}, {"AS", unix.RLIMIT_AS, "bytes"},
	{"NPROC", unix.RLIMIT_NPROC, "count"}, {"MEMLOCK", unix.RLIMIT_MEMLOCK, "bytes"},
	{"LOCKS", unix.RLIMIT_LOCKS, "count"}, {"SIGPENDING", unix.RLIMIT_SIGPENDING, "count"},
	{"MSGQUEUE", unix.RLIMIT_MSGQUEUE, "bytes"}, {"NICE", unix.RLIMIT_NICE, "nice"},
	{"RTPRIO", unix.RLIMIT_RTPRIO, "count"}, {"RTTIME", unix.RLIMIT_RTTIME, "usec"},
}

// ParseRLimit parses a Limit*= value of the given kind: one value for
// both limits or SOFT:HARD, each a number or "infinity".
func ParseRLimit(kind, v string) (soft, hard uint64, err error) {
	s, h, pair := strings.Cut(v, ":")
	if soft, err = rlimitValue(kind, s); err != nil {
		return 0, 0, err
	}
	hard = soft
	if pair {
		if hard, err = rlimitValue(kind, h); err != nil {
			return 0, 0, err
		}
		if soft > hard {
			return 0, 0, fmt.Errorf("soft limit %q above hard limit %q", s, h)
		}
	}
	return soft, hard, nil
}

func rlimitValue(kind, v string) (uint64, error) {
	v = strings.TrimSpace(v)
	if v == "infinity" {
		return Infinity, nil
	}
	bad := &conf.ValueError{Type: "resource limit", Value: v}
	switch kind {
	case "bytes":
		n, err := conf.ParseBytes(v)
		if err != nil {
			return 0, err
		}
		return n, nil
	case "count":
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == Infinity {
			return 0, bad
		}
		return n, nil
	case "sec", "usec":
		unit := time.Second
		if kind == "usec" {
			unit = time.Microsecond
		}
		d, err := conf.ParseTimespanUnit(v, unit)
		if err != nil {
			return 0, err
		}
		if d == conf.Infinity {
			return Infinity, nil
		}
		if kind == "usec" {
			return uint64(d / time.Microsecond), nil
		}
		return uint64((d + time.Second - 1) / time.Second), nil // whole seconds, rounded up
	case "nice":
		// "+N"/"-N" is a nice level (-20…19), stored as 20-N; a bare
		// number is the kernel's raw value 0…40.
		if strings.HasPrefix(v, "+") || strings.HasPrefix(v, "-") {
			n, err := strconv.Atoi(v)
			if err != nil || n < -20 || n > 19 {
				return 0, bad
			}
			return uint64(20 - n), nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > 40 {
			return 0, bad
		}
		return n, nil
	}
	return 0, bad
}

// Mount-namespace settings.

// PathSpec is one path of ReadWritePaths=, ReadOnlyPaths= or
// InaccessiblePaths=: "-" makes a missing path fine; "+" (relative to
// RootDirectory=, which init does not support) is the same as none.
type PathSpec struct {
	Path     string
	Optional bool
}

// BindSpec is one BindPaths=/BindReadOnlyPaths= entry.
type BindSpec struct {
	Source, Dest string
	Optional     bool // "-": a missing source is fine
	Recursive    bool // rbind (the default) rather than norbind
}

// TmpfsSpec is one TemporaryFileSystem= entry.
type TmpfsSpec struct {
	Path    string
	Options string // mount options, "" for upstream's defaults
}

// SyscallSet is SystemCallFilter= or SystemCallLog=: Allow says whether
// the names are the only ones allowed (an allow list) or those refused (a
// deny list); Errno maps each name to its errno (0: the default action).
type SyscallSet struct {
	Set   bool
	Allow bool
	Errno map[string]int
}

// FamilySet is RestrictAddressFamilies=.
type FamilySet struct {
	Set      bool
	Allow    bool
	Families []int
}

// Sandbox is the execution security of a service.
type Sandbox struct {
	Limits                   []RLimit
	UMask                    uint32 // default 0022
	Nice                     *int
	OOMScoreAdjust           *int
	SecureBits               *int
	IOSchedulingClass        int  // 0: unset; 1 realtime, 2 best-effort, 3 idle
	IOSchedulingPriority     *int // 0…7
	CPUSchedulingPolicy      *int // SCHED_*
	CPUSchedulingPriority    *int
	CPUSchedulingResetOnFork bool

	PrivateTmp            string // "", "yes", "disconnected"
	ProtectSystem         string // "", "yes", "full", "strict"
	ProtectHome           string // "", "yes", "read-only", "tmpfs"
	ReadWritePaths        []PathSpec
	ReadOnlyPaths         []PathSpec
	InaccessiblePaths     []PathSpec
	TemporaryFileSystem   []TmpfsSpec
	BindPaths             []BindSpec
	BindReadOnlyPaths     []BindSpec
	PrivateDevices        bool
	PrivateNetwork        bool
	ProtectKernelTunables bool
	ProtectKernelModules  bool
	ProtectKernelLogs     bool
	ProtectControlGroups  bool
	ProtectHostname       bool
	ProtectClock          bool
	ProtectProc           string // "", "default", "noaccess", "invisible", "ptraceable"
	ProcSubset            string // "", "all", "pid"
	// RestrictNamespaces=: the CLONE_NEW* kinds allowed, when set.
	RestrictNamespaces     *uint32
	CacheDirectory         []string
	LogsDirectory          []string
	ConfigurationDirectory []string
	// Their modes (default 0755).
	CacheDirectoryMode, LogsDirectoryMode, ConfigurationDirectoryMode uint32

	SystemCallFilter        SyscallSet
	SystemCallLog           SyscallSet
	SystemCallArchitectures []string
	SystemCallErrorNumber   int // 0: kill the process
	RestrictAddressFamilies FamilySet
	MemoryDenyWriteExecute  bool
	LockPersonality         bool
	RestrictRealtime        bool
	RestrictSUIDSGID        bool

	DynamicUser bool
}

// NeedsNamespace reports whether the service runs in a mount namespace of
// its own.
func (s *Sandbox) NeedsNamespace() bool {
	return s.PrivateTmp != "" || s.ProtectSystem != "" || s.ProtectHome != "" ||
		len(s.ReadWritePaths)+len(s.ReadOnlyPaths)+len(s.InaccessiblePaths)+len(s.TemporaryFileSystem)+
			len(s.BindPaths)+len(s.BindReadOnlyPaths) > 0 ||
		s.PrivateDevices || s.PrivateNetwork || s.ProtectKernelTunables || s.ProtectKernelModules ||
		s.ProtectKernelLogs || s.ProtectControlGroups || s.ProtectHostname ||
		(s.ProtectProc != "" && s.ProtectProc != "default") || s.ProcSubset == "pid"
}

// Active reports whether anything of s must be applied in the child.
func (s *Sandbox) Active() bool {
	return len(s.Limits) > 0 || s.UMask != 0o022 || s.Nice != nil || s.OOMScoreAdjust != nil ||
		s.SecureBits != nil || s.IOSchedulingClass != 0 || s.IOSchedulingPriority != nil ||
		s.CPUSchedulingPolicy != nil || s.CPUSchedulingResetOnFork || s.NeedsNamespace() || s.UsesSeccomp() ||
		s.DynamicUser
}

// UsesSeccomp reports whether a seccomp filter is needed.
func (s *Sandbox) UsesSeccomp() bool {
	return s.SystemCallFilter.Set || s.SystemCallLog.Set || len(s.SystemCallArchitectures) > 0 ||
		s.RestrictAddressFamilies.Set || s.MemoryDenyWriteExecute || s.LockPersonality ||
		s.RestrictRealtime || s.RestrictSUIDSGID || s.RestrictNamespaces != nil ||
		s.ProtectKernelModules || s.ProtectKernelLogs || s.ProtectClock || s.ProtectHostname ||
		s.PrivateDevices
}

// unsupportedExec are upstream exec settings init does not implement:
// reported at load with file:line, so a hardened unit never runs less
// hardened without a word.
var unsupportedExec = []string{
	"PrivateUsers", "PrivateIPC", "PrivateMounts", "PrivatePIDs", "PrivateBPF", "RootDirectory",
	"RootImage", "RootEphemeral", "RootHash", "RootVerity", "MountAPIVFS", "MountFlags", "ExecPaths",
	"NoExecPaths", "RestrictFileSystems", "RestrictNetworkInterfaces", "KeyringMode", "RemoveIPC",
	"SELinuxContext", "AppArmorProfile", "SmackProcessLabel", "Personality", "MountImages",
	"ExtensionImages", "ExtensionDirectories", "NetworkNamespacePath", "IPCNamespacePath",
	"BindLogSockets", "RestrictFileSystemAccess", "ProtectControlGroupsEx", "DevicePolicy", "DeviceAllow",
	"IPAddressDeny", "IPAddressAllow", "SocketBindDeny", "SocketBindAllow", "CPUAffinity", "NUMAPolicy",
	"NUMAMask", "PrivateNetworkEx",
}

// parseSandbox fills s.Sandbox.
func (u *Unit) parseSandbox(s *Service, report func(error)) {
	x := &s.Sandbox
	for _, k := range rlimitKinds {
		e, ok := u.File.Lookup("Service", "Limit"+k.name)
		if !ok || e.Value == "" {
			continue
		}
		v, ok := u.expand(e, report)
		if !ok {
			continue
		}
		soft, hard, err := ParseRLimit(k.kind, v)
		if err != nil {
			report(e.Wrap(err))
			continue
		}
		x.Limits = append(x.Limits, RLimit{Name: k.name, Resource: k.resource, Soft: soft, Hard: hard})
	}
	x.UMask = u.mode("Service", "UMask", 0o022, report)
	x.Nice = u.optInt("Nice", -20, 19, report)
	x.OOMScoreAdjust = u.optInt("OOMScoreAdjust", -1000, 1000, report)
	x.SecureBits = u.secureBits(report)
	switch c := u.enum("Service", "IOSchedulingClass", "", []string{"none", "realtime", "best-effort", "idle", "0", "1", "2", "3"}, report); c {
	case "realtime", "1":
		x.IOSchedulingClass = 1
	case "best-effort", "2":
		x.IOSchedulingClass = 2
	case "idle", "3":
		x.IOSchedulingClass = 3
	}
	x.IOSchedulingPriority = u.optInt("IOSchedulingPriority", 0, 7, report)
	if p := u.enum("Service", "CPUSchedulingPolicy", "", []string{"other", "batch", "idle", "fifo", "rr"}, report); p != "" {
		n := map[string]int{"other": unix.SCHED_NORMAL, "batch": unix.SCHED_BATCH, "idle": unix.SCHED_IDLE,
			"fifo": unix.SCHED_FIFO, "rr": unix.SCHED_RR}[p]
		x.CPUSchedulingPolicy = &n
	}
	x.CPUSchedulingPriority = u.optInt("CPUSchedulingPriority", 0, 99, report)
	x.CPUSchedulingResetOnFork = u.boolean("Service", "CPUSchedulingResetOnFork", false, report)

	x.PrivateTmp = u.boolOrWord("PrivateTmp", map[string]string{"disconnected": "disconnected"}, report)
	x.ProtectSystem = u.boolOrWord("ProtectSystem", map[string]string{"full": "full", "strict": "strict"}, report)
	x.ProtectHome = u.boolOrWord("ProtectHome", map[string]string{"read-only": "read-only", "tmpfs": "tmpfs"}, report)
	x.ReadWritePaths = u.pathSpecs("ReadWritePaths", report)
	x.ReadOnlyPaths = u.pathSpecs("ReadOnlyPaths", report)
	x.InaccessiblePaths = u.pathSpecs("InaccessiblePaths", report)
	x.TemporaryFileSystem = u.tmpfsSpecs(report)
	x.BindPaths = u.bindSpecs("BindPaths", report)
	x.BindReadOnlyPaths = u.bindSpecs("BindReadOnlyPaths", report)
	x.PrivateDevices = u.boolean("Service", "PrivateDevices", false, report)
	x.PrivateNetwork = u.boolean("Service", "PrivateNetwork", false, report)
	x.ProtectKernelTunables = u.boolean("Service", "ProtectKernelTunables", false, report)
	x.ProtectKernelModules = u.boolean("Service", "ProtectKernelModules", false, report)
	x.ProtectKernelLogs = u.boolean("Service", "ProtectKernelLogs", false, report)
	x.ProtectControlGroups = u.boolOrStronger("ProtectControlGroups", []string{"private", "strict"}, report)
	x.ProtectHostname = u.boolOrStronger("ProtectHostname", []string{"private"}, report)
	x.ProtectClock = u.boolean("Service", "ProtectClock", false, report)
	x.ProtectProc = u.enum("Service", "ProtectProc", "", []string{"default", "noaccess", "invisible", "ptraceable"}, report)
	x.ProcSubset = u.enum("Service", "ProcSubset", "", []string{"all", "pid"}, report)
	x.RestrictNamespaces = u.namespaces(report)
	x.CacheDirectory = u.dirs("CacheDirectory", report)
	x.LogsDirectory = u.dirs("LogsDirectory", report)
	x.ConfigurationDirectory = u.dirs("ConfigurationDirectory", report)
	x.CacheDirectoryMode = u.mode("Service", "CacheDirectoryMode", 0o755, report)
	x.LogsDirectoryMode = u.mode("Service", "LogsDirectoryMode", 0o755, report)
	x.ConfigurationDirectoryMode = u.mode("Service", "ConfigurationDirectoryMode", 0o755, report)

	x.SystemCallFilter = u.syscallSet("SystemCallFilter", true, report)
	x.SystemCallLog = u.syscallSet("SystemCallLog", false, report)
	x.SystemCallArchitectures = listSetting(u, "Service", "SystemCallArchitectures", report, func(v string, warn func(error)) ([]string, error) {
		var out []string
		for _, a := range strings.Fields(v) {
			if !seccomp.ValidArch(a) {
				warn(fmt.Errorf("unknown architecture %q, ignoring", a))
				continue
			}
			out = append(out, a)
		}
		return out, nil
	})
	if e, ok := u.File.Lookup("Service", "SystemCallErrorNumber"); ok && e.Value != "" && e.Value != "kill" {
		if n, err := ErrnoNumber(e.Value); err != nil {
			report(e.Wrap(err))
		} else {
			x.SystemCallErrorNumber = n
		}
	}
	x.RestrictAddressFamilies = u.families(report)
	x.MemoryDenyWriteExecute = u.boolean("Service", "MemoryDenyWriteExecute", false, report)
	x.LockPersonality = u.boolean("Service", "LockPersonality", false, report)
	x.RestrictRealtime = u.boolean("Service", "RestrictRealtime", false, report)
	x.RestrictSUIDSGID = u.boolean("Service", "RestrictSUIDSGID", false, report)

	x.DynamicUser = u.boolean("Service", "DynamicUser", false, report)
	if x.DynamicUser {
		// Implied, as upstream (systemd.exec(5)).
		if x.ProtectSystem == "" || x.ProtectSystem == "yes" || x.ProtectSystem == "full" {
			x.ProtectSystem = "strict"
		}
		if x.ProtectHome == "" {
			x.ProtectHome = "read-only"
		}
		if x.PrivateTmp == "" {
			x.PrivateTmp = "yes"
		}
		x.RestrictSUIDSGID = true
		s.NoNewPrivileges = true
	}

	// The settings of unsupportedExec are reported by the loader's key check
	// (keys.go), like every other key upstream knows and stead does not apply.
}

// optInt reads an optional integer in [min, max].
func (u *Unit) optInt(key string, min, max int, report func(error)) *int {
	e, ok := u.File.Lookup("Service", key)
	if !ok || e.Value == "" {
		return nil
	}
	n, err := conf.Int("integer", min, max)(e)
	if err != nil {
		report(err)
		return nil
	}
	return &n
}

// boolOrWord reads a setting that is a boolean or one of words: "" for
// false (or unset), "yes" for true.
func (u *Unit) boolOrWord(key string, words map[string]string, report func(error)) string {
	e, ok := u.File.Lookup("Service", key)
	if !ok || e.Value == "" {
		return ""
	}
	if w, ok := words[e.Value]; ok {
		return w
	}
	b, err := conf.ParseBool(e.Value)
	if err != nil {
		report(e.Wrap(err))
		return ""
	}
	if b {
		return "yes"
	}
	return ""
}

// boolOrStronger reads a boolean setting that upstream also accepts some
// words for, which init applies as "yes" and says so: never less than
// asked, no silent downgrade.
func (u *Unit) boolOrStronger(key string, words []string, report func(error)) bool {
	e, ok := u.File.Lookup("Service", key)
	if !ok || e.Value == "" {
		return false
	}
	v := e.Value
	if w, _, _ := strings.Cut(v, ":"); key == "ProtectHostname" && (w == "yes" || w == "private") {
		v = w // "yes:NAME": the name is not set
	}
	for _, w := range words {
		if v == w {
			report(e.Wrap(fmt.Errorf("%q is applied as \"yes\" by this init", e.Value)))
			return true
		}
	}
	if v != e.Value {
		report(e.Wrap(fmt.Errorf("%q is applied as %q by this init (no hostname is set)", e.Value, v)))
	}
	b, err := conf.ParseBool(v)
	if err != nil {
		report(e.Wrap(err))
		return false
	}
	return b
}

// secureBitNames are SecureBits= words and their bits.
var secureBitNames = map[string]int{
	"noroot": 1 << 0, "noroot-locked": 1 << 1, "no-setuid-fixup": 1 << 2,
	"no-setuid-fixup-locked": 1 << 3, "keep-caps": 1 << 4, "keep-caps-locked": 1 << 5,
}

func (u *Unit) secureBits(report func(error)) *int {
	var bits int
	set := false
	for _, e := range u.File.Entries("Service", "SecureBits") {
		if e.Value == "" {
			bits, set = 0, false
			continue
		}
		for _, w := range strings.Fields(e.Value) {
			b, ok := secureBitNames[w]
			if !ok {
				report(e.Wrap(fmt.Errorf("unknown secure bit %q, ignoring", w)))
				continue
			}
			bits |= b
			set = true
		}
	}
	if !set {
		return nil
	}
	return &bits
}

// absPath checks that p is an absolute, normalized path.
func absPath(p string) error {
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p && path.Clean(p)+"/" != p {
		return fmt.Errorf("path %q is not absolute and normalized", p)
	}
	return nil
}

func (u *Unit) pathSpecs(key string, report func(error)) []PathSpec {
	return listSetting(u, "Service", key, report, func(v string, warn func(error)) ([]PathSpec, error) {
		ws, err := wordTexts(v)
		if err != nil {
			return nil, err
		}
		var out []PathSpec
		for _, w := range ws {
			var ps PathSpec
			for len(w) > 0 && (w[0] == '-' || w[0] == '+') {
				ps.Optional = ps.Optional || w[0] == '-'
				w = w[1:]
			}
			if err := absPath(w); err != nil {
				warn(fmt.Errorf("%w, ignoring", err))
				continue
			}
			ps.Path = path.Clean(w)
			out = append(out, ps)
		}
		return out, nil
	})
}

func (u *Unit) tmpfsSpecs(report func(error)) []TmpfsSpec {
	return listSetting(u, "Service", "TemporaryFileSystem", report, func(v string, warn func(error)) ([]TmpfsSpec, error) {
		ws, err := wordTexts(v)
		if err != nil {
			return nil, err
		}
		var out []TmpfsSpec
		for _, w := range ws {
			p, opts, _ := strings.Cut(w, ":")
			if err := absPath(p); err != nil {
				warn(fmt.Errorf("%w, ignoring", err))
				continue
			}
			out = append(out, TmpfsSpec{Path: path.Clean(p), Options: opts})
		}
		return out, nil
	})
}

func (u *Unit) bindSpecs(key string, report func(error)) []BindSpec {
	return listSetting(u, "Service", key, report, func(v string, warn func(error)) ([]BindSpec, error) {
		ws, err := wordTexts(v)
		if err != nil {
			return nil, err
		}
		var out []BindSpec
		for _, w := range ws {
			b := BindSpec{Recursive: true}
			if strings.HasPrefix(w, "-") {
				b.Optional, w = true, w[1:]
			}
			parts := strings.SplitN(w, ":", 3)
			b.Source, b.Dest = parts[0], parts[0]
			if len(parts) > 1 {
				b.Dest = parts[1]
			}
			if len(parts) > 2 {
				switch parts[2] {
				case "rbind":
				case "norbind":
					b.Recursive = false
				default:
					warn(fmt.Errorf("%q: unknown bind option %q, ignoring the entry", w, parts[2]))
					continue
				}
			}
			if err := absPath(b.Source); err != nil {
				warn(fmt.Errorf("%w, ignoring", err))
				continue
			}
			if err := absPath(b.Dest); err != nil {
				warn(fmt.Errorf("%w, ignoring", err))
				continue
			}
			b.Source, b.Dest = path.Clean(b.Source), path.Clean(b.Dest)
			out = append(out, b)
		}
		return out, nil
	})
}

// namespaces reads RestrictNamespaces=: a boolean (yes: none allowed) or
// namespace kinds, "~" inverting; later assignments add (or with "~"
// remove) kinds.
func (u *Unit) namespaces(report func(error)) *uint32 {
	var all uint32
	for _, f := range seccomp.NamespaceFlags {
		all |= f
	}
	var allowed *uint32
	for _, e := range u.File.Entries("Service", "RestrictNamespaces") {
		if e.Value == "" {
			allowed = nil
			continue
		}
		v, ok := u.expand(e, report)
		if !ok {
			continue
		}
		if b, err := conf.ParseBool(v); err == nil {
			n := uint32(0)
			if !b {
				n = all
			}
			allowed = &n
			continue
		}
		invert := strings.HasPrefix(v, "~")
		var set uint32
		for _, w := range strings.Fields(strings.TrimPrefix(v, "~")) {
			f, ok := seccomp.NamespaceFlags[w]
			if !ok {
				report(e.Wrap(fmt.Errorf("unknown namespace type %q, ignoring", w)))
				continue
			}
			set |= f
		}
		cur := uint32(0)
		first := allowed == nil
		if !first {
			cur = *allowed
		}
		switch {
		case invert && first:
			cur = all &^ set
		case invert:
			cur &^= set
		default:
			cur |= set
		}
		allowed = &cur
	}
	return allowed
}

// syscallSet reads SystemCallFilter= or SystemCallLog=. The first
// assignment decides: a plain one is an allow list (for
// SystemCallFilter=, @default joins it, as upstream), a "~" one a deny
// list; later ones of the same kind add names, of the other kind remove
// them. Entries are names or @groups, with ":ERRNO" in deny lists of
// SystemCallFilter=.
func (u *Unit) syscallSet(key string, withErrno bool, report func(error)) SyscallSet {
	var set SyscallSet
	for _, e := range u.File.Entries("Service", key) {
		if e.Value == "" {
			set = SyscallSet{}
			continue
		}
		v, ok := u.expand(e, report)
		if !ok {
			continue
		}
		invert := strings.HasPrefix(v, "~")
		v = strings.TrimPrefix(v, "~")
		if !set.Set {
			set = SyscallSet{Set: true, Allow: !invert, Errno: map[string]int{}}
			if set.Allow && withErrno {
				names, _ := seccomp.Expand("@default")
				for _, n := range names {
					set.Errno[n] = 0
				}
			}
		}
		add := invert != set.Allow // same kind as the list: add; other kind: remove
		for _, w := range strings.Fields(v) {
			name, errName, hasErrno := strings.Cut(w, ":")
			errno := 0
			if hasErrno {
				if !withErrno || set.Allow {
					report(e.Wrap(fmt.Errorf("%q: an error number is only allowed in deny lists, ignoring", w)))
					continue
				}
				if errName != "kill" {
					n, err := ErrnoNumber(errName)
					if err != nil {
						report(e.Wrap(err))
						continue
					}
					errno = n
				}
			}
			names, err := seccomp.Expand(name)
			if err != nil {
				report(e.Wrap(fmt.Errorf("%w, ignoring", err)))
				continue
			}
			for _, n := range names {
				if add {
					set.Errno[n] = errno
				} else {
					delete(set.Errno, n)
				}
			}
		}
	}
	return set
}

// families reads RestrictAddressFamilies=: "none" (no socket at all), a
// list of AF_* names (an allow list) or "~" and a list (a deny list);
// later assignments of the same kind add, of the other kind remove.
func (u *Unit) families(report func(error)) FamilySet {
	var set FamilySet
	for _, e := range u.File.Entries("Service", "RestrictAddressFamilies") {
		if e.Value == "" {
			set = FamilySet{}
			continue
		}
		v, ok := u.expand(e, report)
		if !ok {
			continue
		}
		if v == "none" {
			set = FamilySet{Set: true, Allow: true}
			continue
		}
		invert := strings.HasPrefix(v, "~")
		v = strings.TrimPrefix(v, "~")
		if !set.Set {
			set = FamilySet{Set: true, Allow: !invert}
		}
		add := invert != set.Allow
		for _, w := range strings.Fields(v) {
			f, ok := addressFamilies[w]
			if !ok {
				report(e.Wrap(fmt.Errorf("unknown address family %q, ignoring", w)))
				continue
			}
			var kept []int
			for _, x := range set.Families {
				if x != f {
					kept = append(kept, x)
				}
			}
			if add {
				kept = append(kept, f)
			}
			set.Families = kept
		}
	}
	return set
}

// addressFamilies are the AF_* names RestrictAddressFamilies= knows.
var addressFamilies = map[string]int{
	"AF_UNIX": unix.AF_UNIX, "AF_LOCAL": unix.AF_UNIX, "AF_INET": unix.AF_INET, "AF_INET6": unix.AF_INET6,
	"AF_NETLINK": unix.AF_NETLINK, "AF_PACKET": unix.AF_PACKET, "AF_BLUETOOTH": unix.AF_BLUETOOTH,
	"AF_ALG": unix.AF_ALG, "AF_VSOCK": unix.AF_VSOCK, "AF_CAN": unix.AF_CAN, "AF_XDP": unix.AF_XDP,
	"AF_KEY": unix.AF_KEY, "AF_TIPC": unix.AF_TIPC, "AF_RDS": unix.AF_RDS, "AF_SMC": unix.AF_SMC,
	"AF_QIPCRTR": unix.AF_QIPCRTR, "AF_MCTP": unix.AF_MCTP, "AF_APPLETALK": unix.AF_APPLETALK,
	"AF_X25": unix.AF_X25, "AF_AX25": unix.AF_AX25, "AF_IPX": unix.AF_IPX, "AF_NFC": unix.AF_NFC,
	"AF_LLC": unix.AF_LLC, "AF_IB": unix.AF_IB, "AF_MPLS": unix.AF_MPLS, "AF_KCM": unix.AF_KCM,
	"AF_RXRPC": unix.AF_RXRPC, "AF_ISDN": unix.AF_ISDN, "AF_PHONET": unix.AF_PHONET,
	"AF_IEEE802154": unix.AF_IEEE802154, "AF_CAIF": unix.AF_CAIF, "AF_NETROM": unix.AF_NETROM,
	"AF_ROSE": unix.AF_ROSE, "AF_DECnet": unix.AF_DECnet, "AF_NETBEUI": unix.AF_NETBEUI,
	"AF_SECURITY": unix.AF_SECURITY, "AF_ATMPVC": unix.AF_ATMPVC, "AF_ATMSVC": unix.AF_ATMSVC,
	"AF_BRIDGE": unix.AF_BRIDGE, "AF_ECONET": unix.AF_ECONET, "AF_IRDA": unix.AF_IRDA,
	"AF_PPPOX": unix.AF_PPPOX, "AF_WANPIPE": unix.AF_WANPIPE, "AF_IUCV": unix.AF_IUCV,
	"AF_SNA": unix.AF_SNA, "AF_ROUTE": unix.AF_NETLINK,
}

// ErrnoNumber parses an error name (EPERM, any case) or number.
func ErrnoNumber(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n <= 4095 {
		return n, nil
	}
	for e := unix.Errno(1); e < 256; e++ {
		if name := unix.ErrnoName(e); name != "" && strings.EqualFold(name, s) {
			return int(e), nil
		}
	}
	return 0, &conf.ValueError{Type: "error number", Value: s}
}

// SandboxKeys lists the [Service] settings parseSandbox reads, for tables
// of known settings; UnsupportedExecKeys those it reports as not
// supported.
func SandboxKeys() []string {
	out := []string{"UMask", "Nice", "OOMScoreAdjust", "SecureBits", "IOSchedulingClass", "IOSchedulingPriority",
		"CPUSchedulingPolicy", "CPUSchedulingPriority", "CPUSchedulingResetOnFork", "PrivateTmp", "ProtectSystem",
		"ProtectHome", "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths", "TemporaryFileSystem", "BindPaths",
		"BindReadOnlyPaths", "PrivateDevices", "PrivateNetwork", "ProtectKernelTunables", "ProtectKernelModules",
		"ProtectKernelLogs", "ProtectControlGroups", "ProtectHostname", "ProtectClock", "ProtectProc", "ProcSubset",
		"RestrictNamespaces", "CacheDirectory", "LogsDirectory", "ConfigurationDirectory", "CacheDirectoryMode",
		"LogsDirectoryMode", "ConfigurationDirectoryMode", "SystemCallFilter", "SystemCallLog",
		"SystemCallArchitectures", "SystemCallErrorNumber", "RestrictAddressFamilies", "MemoryDenyWriteExecute",
		"LockPersonality", "RestrictRealtime", "RestrictSUIDSGID", "DynamicUser"}
	for _, k := range rlimitKinds {
		out = append(out, "Limit"+k.name)
	}
	return out
}

// UnsupportedExecKeys lists the upstream exec settings init reports as not
// supported.
func UnsupportedExecKeys() []string { return append([]string(nil), unsupportedExec...) }
