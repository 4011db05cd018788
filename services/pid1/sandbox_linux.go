package pid1

// Execution security of a service's processes (systemd.exec(5)): resource
// limits and process attributes, a mount namespace, seccomp filters. Like
// upstream's systemd-executor, the settings are applied in the child by
// the exec shim (`init --exec-shim`, sandbox_shim_linux.go), which runs
// as the manager's user with its privileges, applies them, switches to
// the service's user and capabilities, loads the seccomp filters and only
// then executes the service. The manager hands the shim one JSON
// sandboxSpec on an inherited memfd. A setting that cannot be applied
// fails the start with upstream's exit status (226/NAMESPACE,
// 205/LIMITS, …) and says why in the unit's log.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/seccomp"
	"github.com/stead-os/stead/lib/unit"
)

// sandboxSpec is what the shim applies before executing the service.
type sandboxSpec struct {
	Limits         []unit.RLimit `json:"limits,omitempty"`
	UMask          uint32        `json:"umask"`
	Nice           *int          `json:"nice,omitempty"`
	OOMScoreAdjust *int          `json:"oomScoreAdjust,omitempty"`
	SecureBits     *int          `json:"secureBits,omitempty"`
	IOClass        int           `json:"ioClass,omitempty"`
	IOPriority     *int          `json:"ioPriority,omitempty"`
	CPUPolicy      *int          `json:"cpuPolicy,omitempty"`
	CPUPriority    *int          `json:"cpuPriority,omitempty"`
	CPUResetOnFork bool          `json:"cpuResetOnFork,omitempty"`

	Mounts   []mountOp `json:"mounts,omitempty"`
	Loopback bool      `json:"loopback,omitempty"` // PrivateNetwork=: bring lo up

	// Identity and privileges, applied after everything that needs the
	// manager's own: nil Cred keeps the user.
	Cred       *syscall.Credential `json:"cred,omitempty"`
	Bounding   unit.CapSet         `json:"bounding"`
	Ambient    unit.CapSet         `json:"ambient"`
	NoNewPrivs bool                `json:"noNewPrivs,omitempty"`

	Filters []seccomp.Filter `json:"filters,omitempty"`
}

// mountOp is one step of building the service's mount namespace, applied
// in order.
type mountOp struct {
	Path      string `json:"path"`
	Kind      string `json:"kind"` // ro, rw, inaccessible, tmpfs, bind, private-dev, proc
	Source    string `json:"source,omitempty"`
	Options   string `json:"options,omitempty"`
	Optional  bool   `json:"optional,omitempty"` // a missing path (or bind source) is skipped
	ReadOnly  bool   `json:"readOnly,omitempty"` // bind: BindReadOnlyPaths=
	Recursive bool   `json:"recursive,omitempty"`
}

// sandboxNeeded reports whether command c of s runs through the sandbox
// shim.
func sandboxNeeded(s *unit.Service) bool { return s.Sandbox.Active() }

// capability numbers the Protect*= settings drop from the bounding set,
// as upstream.
func protectDrops(x *unit.Sandbox) unit.CapSet {
	var d unit.CapSet
	add := func(ns ...int) {
		for _, n := range ns {
			d |= 1 << uint(n)
		}
	}
	if x.ProtectKernelModules {
		add(unix.CAP_SYS_MODULE)
	}
	if x.ProtectKernelLogs {
		add(unix.CAP_SYSLOG)
	}
	if x.ProtectClock {
		add(unix.CAP_SYS_TIME, unix.CAP_WAKE_ALARM)
	}
	if x.PrivateDevices {
		add(unix.CAP_MKNOD, unix.CAP_SYS_RAWIO)
	}
	return d
}

// sandboxSpecFor builds the spec for command c of us. m.mu held.
func (m *Manager) sandboxSpecFor(us *unitState, c unit.ExecCommand, cred *syscall.Credential, p privileges) (*sandboxSpec, uintptr, error) {
	x := &us.u.Service.Sandbox
	sp := &sandboxSpec{
		Limits: x.Limits, UMask: x.UMask, Nice: x.Nice, OOMScoreAdjust: x.OOMScoreAdjust,
		SecureBits: x.SecureBits, IOClass: x.IOSchedulingClass, IOPriority: x.IOSchedulingPriority,
		CPUPolicy: x.CPUSchedulingPolicy, CPUPriority: x.CPUSchedulingPriority, CPUResetOnFork: x.CPUSchedulingResetOnFork,
		Cred: cred, Bounding: p.bounding, Ambient: p.ambient, NoNewPrivs: p.noNewPrivs,
	}
	var unshare uintptr
	if c.Privileged {
		// "+": full privileges, no sandbox (as upstream); limits and
		// process attributes still apply.
		return sp, 0, nil
	}
	if drop := protectDrops(x); drop != 0 {
		sp.Bounding &^= drop
		if extra := sp.Ambient &^ sp.Bounding; extra != 0 {
			return nil, 0, fmt.Errorf("AmbientCapabilities=: %s is dropped by a Protect*= or PrivateDevices= setting", unit.CapabilityName(extra.Numbers()[0]))
		}
	}
	if x.NeedsNamespace() {
		unshare |= unix.CLONE_NEWNS
		ops, err := m.mountPlan(us)
		if err != nil {
			return nil, 0, err
		}
		sp.Mounts = ops
	}
	if x.PrivateNetwork {
		unshare |= unix.CLONE_NEWNET
		sp.Loopback = true
	}
	if x.ProtectHostname {
		unshare |= unix.CLONE_NEWUTS
	}
	filters, err := seccompFilters(x)
	if err != nil {
		return nil, 0, err
	}
	sp.Filters = filters
	return sp, unshare, nil
}

// mountPlan lists the mount steps of us's namespace, shallow paths first
// so that a deeper setting wins (ReadWritePaths=/var/lib/x under
// ProtectSystem=strict), in the order settings were added for one path.
func (m *Manager) mountPlan(us *unitState) ([]mountOp, error) {
	s := us.u.Service
	x := &s.Sandbox
	var ops []mountOp
	add := func(op mountOp) { ops = append(ops, op) }
	// The paths of the settings are the service's view of the file
	// system, which is the real one (host mode runs services on the host,
	// like their ExecStart= paths); only what the manager creates itself
	// (managed directories, private /tmp) lives under its root.
	host := func(p string) string { return p }
	switch x.ProtectSystem {
	case "yes", "full":
		add(mountOp{Path: host("/usr"), Kind: "ro"})
		add(mountOp{Path: host("/boot"), Kind: "ro", Optional: true})
		add(mountOp{Path: host("/efi"), Kind: "ro", Optional: true})
		if x.ProtectSystem == "full" {
			add(mountOp{Path: host("/etc"), Kind: "ro"})
		}
	case "strict":
		add(mountOp{Path: "/", Kind: "ro"})
		// The API file systems stay writable; PrivateDevices= and
		// ProtectKernel*= protect them.
		for _, p := range []string{"/dev", "/proc", "/sys"} {
			add(mountOp{Path: p, Kind: "rw", Optional: true})
		}
	}
	switch x.ProtectHome {
	case "yes":
		for _, p := range []string{"/home", "/root", "/run/user"} {
			add(mountOp{Path: host(p), Kind: "inaccessible", Optional: true})
		}
	case "read-only":
		for _, p := range []string{"/home", "/root", "/run/user"} {
			add(mountOp{Path: host(p), Kind: "ro", Optional: true})
		}
	case "tmpfs":
		for _, p := range []string{"/home", "/root", "/run/user"} {
			add(mountOp{Path: host(p), Kind: "tmpfs", Options: "mode=0755", ReadOnly: true, Optional: true})
		}
	}
	for _, p := range x.ReadOnlyPaths {
		add(mountOp{Path: host(p.Path), Kind: "ro", Optional: p.Optional})
	}
	for _, p := range x.ReadWritePaths {
		add(mountOp{Path: host(p.Path), Kind: "rw", Optional: p.Optional})
	}
	for _, p := range x.InaccessiblePaths {
		add(mountOp{Path: host(p.Path), Kind: "inaccessible", Optional: p.Optional})
	}
	// The service's own directories stay writable (ProtectSystem=strict).
	for _, d := range serviceDirs(s) {
		add(mountOp{Path: m.hostPath(filepath.Join(d.base, d.rel)), Kind: "rw", Optional: true})
	}
	ops = append(ops, m.privateDirOps(s)...)
	switch x.PrivateTmp {
	case "yes":
		dirs, err := m.privateTmpDirs(us)
		if err != nil {
			return nil, fmt.Errorf("PrivateTmp=: %w", err)
		}
		add(mountOp{Path: "/tmp", Kind: "bind", Source: dirs[0]})
		add(mountOp{Path: "/var/tmp", Kind: "bind", Source: dirs[1]})
	case "disconnected":
		add(mountOp{Path: "/tmp", Kind: "tmpfs", Options: "mode=01777"})
		add(mountOp{Path: "/var/tmp", Kind: "tmpfs", Options: "mode=01777"})
	}
	for _, t := range x.TemporaryFileSystem {
		opts := t.Options
		if opts == "" {
			opts = "mode=0755"
		}
		ro := false
		var kept []string
		for _, o := range strings.Split(opts, ",") {
			if o == "ro" {
				ro = true
				continue
			}
			if o != "rw" && o != "" {
				kept = append(kept, o)
			}
		}
		add(mountOp{Path: host(t.Path), Kind: "tmpfs", Options: strings.Join(kept, ","), ReadOnly: ro})
	}
	for _, b := range x.BindPaths {
		add(mountOp{Path: host(b.Dest), Kind: "bind", Source: host(b.Source), Optional: b.Optional, Recursive: b.Recursive})
	}
	for _, b := range x.BindReadOnlyPaths {
		add(mountOp{Path: host(b.Dest), Kind: "bind", Source: host(b.Source), Optional: b.Optional, Recursive: b.Recursive, ReadOnly: true})
	}
	if x.PrivateDevices {
		add(mountOp{Path: "/dev", Kind: "private-dev"})
	}
	if (x.ProtectProc != "" && x.ProtectProc != "default") || x.ProcSubset == "pid" {
		var o []string
		if x.ProtectProc != "" && x.ProtectProc != "default" {
			o = append(o, "hidepid="+x.ProtectProc)
		}
		if x.ProcSubset == "pid" {
			o = append(o, "subset=pid")
		}
		add(mountOp{Path: "/proc", Kind: "proc", Options: strings.Join(o, ",")})
	}
	if x.ProtectKernelTunables {
		for _, p := range []string{"/proc/acpi", "/proc/apm", "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq",
			"/proc/latency_stats", "/proc/mtrr", "/proc/scsi", "/proc/sys", "/proc/sysrq-trigger", "/proc/timer_stats", "/sys"} {
			add(mountOp{Path: p, Kind: "ro", Optional: true})
		}
		add(mountOp{Path: "/sys/fs/bpf", Kind: "ro", Optional: true})
		// The cgroup tree stays writable (ProtectControlGroups= protects
		// it), as upstream: a service manages its own cgroups, oomd kills
		// through cgroup.kill.
		add(mountOp{Path: "/sys/fs/cgroup", Kind: "rw", Optional: true})
		add(mountOp{Path: "/sys/fs/selinux", Kind: "rw", Optional: true})
		for _, p := range []string{"/proc/kallsyms", "/proc/kcore", "/sys/kernel/debug", "/sys/kernel/tracing"} {
			add(mountOp{Path: p, Kind: "inaccessible", Optional: true})
		}
	}
	if x.ProtectKernelModules {
		for _, p := range []string{"/lib/modules", "/usr/lib/modules"} {
			add(mountOp{Path: p, Kind: "inaccessible", Optional: true})
		}
	}
	if x.ProtectKernelLogs {
		for _, p := range []string{"/proc/kmsg", "/dev/kmsg"} {
			add(mountOp{Path: p, Kind: "inaccessible", Optional: true})
		}
	}
	if x.ProtectControlGroups {
		add(mountOp{Path: "/sys/fs/cgroup", Kind: "ro", Optional: true})
	}
	sort.SliceStable(ops, func(i, j int) bool { return pathDepth(ops[i].Path) < pathDepth(ops[j].Path) })
	for i := range ops {
		if ops[i].Kind == "inaccessible" {
			ops[i].Source = m.hostPath(inaccessibleDir)
		}
	}
	if err := m.makeInaccessibleNodes(); err != nil {
		return nil, fmt.Errorf("inaccessible nodes: %w", err)
	}
	return ops, nil
}

// pathDepth counts the components of an absolute path ("/" has none).
func pathDepth(p string) int {
	p = filepath.Clean(p)
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// inaccessibleDir is where the nodes that InaccessiblePaths= mounts over
// what it hides live, mode 0000, as upstream's.
const inaccessibleDir = "/run/systemd/inaccessible"

// makeInaccessibleNodes creates the inaccessible directory and file once.
func (m *Manager) makeInaccessibleNodes() error {
	base := m.hostPath(inaccessibleDir)
	if _, err := os.Stat(filepath.Join(base, "reg")); err == nil {
		return nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(base, "dir"), 0); err != nil && !os.IsExist(err) {
		return err
	}
	f, err := os.OpenFile(filepath.Join(base, "reg"), os.O_CREATE|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	f.Close()
	if err := os.Chmod(filepath.Join(base, "dir"), 0); err != nil {
		return err
	}
	return os.Chmod(filepath.Join(base, "reg"), 0)
}

// privateTmpDirs creates the unit's /tmp and /var/tmp for PrivateTmp=yes
// as upstream names them, shared by every process of one activation and
// removed when the unit stops (removePrivateTmp).
func (m *Manager) privateTmpDirs(us *unitState) ([2]string, error) {
	var out [2]string
	id := us.rt.invocationID
	if id == "" {
		id = "0"
	}
	for i, base := range []string{"/tmp", "/var/tmp"} {
		parent := m.hostPath(filepath.Join(base, "systemd-private-"+id+"-"+us.u.Name))
		if err := os.MkdirAll(parent, 0o700); err != nil {
			return out, err
		}
		if err := os.Chmod(parent, 0o700); err != nil {
			return out, err
		}
		d := filepath.Join(parent, "tmp")
		if err := os.Mkdir(d, 0o1777); err != nil && !os.IsExist(err) {
			return out, err
		}
		if err := unix.Chmod(d, 0o1777); err != nil {
			return out, err
		}
		out[i] = d
	}
	return out, nil
}

// removePrivateTmp removes the unit's PrivateTmp=yes directories.
func (m *Manager) removePrivateTmp(us *unitState) {
	for _, base := range []string{"/tmp", "/var/tmp"} {
		matches, _ := filepath.Glob(m.hostPath(filepath.Join(base, "systemd-private-*-"+us.u.Name)))
		for _, d := range matches {
			if strings.HasSuffix(d, "-"+us.u.Name) {
				_ = os.RemoveAll(d)
			}
		}
	}
}

// seccompFilters builds the filters of x, stacked in the kernel: each must
// allow a call for it to run.
func seccompFilters(x *unit.Sandbox) ([]seccomp.Filter, error) {
	arches := seccomp.LocalArches()
	badArch := seccomp.Allow
	if len(x.SystemCallArchitectures) > 0 {
		arches, badArch = x.SystemCallArchitectures, seccomp.Kill
	}
	var out []seccomp.Filter
	var rules []seccomp.Rule
	eperm := seccomp.Errno(unix.EPERM)
	denyGroup := func(group string) {
		names, _ := seccomp.Expand(group)
		for _, n := range names {
			rules = append(rules, seccomp.Rule{Syscall: n, Action: eperm})
		}
	}
	if x.ProtectKernelModules {
		denyGroup("@module")
	}
	if x.ProtectClock {
		denyGroup("@clock")
	}
	if x.PrivateDevices {
		denyGroup("@raw-io")
	}
	if x.ProtectKernelLogs {
		rules = append(rules, seccomp.Rule{Syscall: "syslog", Action: eperm})
	}
	if x.ProtectHostname {
		rules = append(rules, seccomp.Rule{Syscall: "sethostname", Action: eperm}, seccomp.Rule{Syscall: "setdomainname", Action: eperm})
	}
	if x.RestrictAddressFamilies.Set {
		rules = append(rules, seccomp.AddressFamilies(x.RestrictAddressFamilies.Allow, x.RestrictAddressFamilies.Families)...)
	}
	if x.MemoryDenyWriteExecute {
		rules = append(rules, seccomp.MemoryDenyWriteExecute()...)
	}
	if x.LockPersonality {
		rules = append(rules, seccomp.LockPersonality()...)
	}
	if x.RestrictRealtime {
		rules = append(rules, seccomp.RestrictRealtime()...)
	}
	if x.RestrictSUIDSGID {
		rules = append(rules, seccomp.RestrictSUIDSGID()...)
	}
	if x.RestrictNamespaces != nil {
		rules = append(rules, seccomp.RestrictNamespaces(*x.RestrictNamespaces)...)
	}
	if len(rules) > 0 || len(x.SystemCallArchitectures) > 0 {
		out = append(out, seccomp.Filter{Arches: arches, BadArch: badArch, Default: seccomp.Allow, Rules: rules})
	}
	if f := x.SystemCallFilter; f.Set {
		deny := seccomp.Kill
		if x.SystemCallErrorNumber != 0 {
			deny = seccomp.Errno(unix.Errno(x.SystemCallErrorNumber))
		}
		flt := seccomp.Filter{Arches: arches, BadArch: badArch, Default: deny}
		if f.Allow {
			flt.Default = deny
			for _, n := range sortedKeys(f.Errno) {
				flt.Rules = append(flt.Rules, seccomp.Rule{Syscall: n, Action: seccomp.Allow})
			}
		} else {
			flt.Default = seccomp.Allow
			for _, n := range sortedKeys(f.Errno) {
				a := deny
				if e := f.Errno[n]; e != 0 {
					a = seccomp.Errno(unix.Errno(e))
				}
				flt.Rules = append(flt.Rules, seccomp.Rule{Syscall: n, Action: a})
			}
		}
		out = append(out, flt)
	}
	if f := x.SystemCallLog; f.Set {
		flt := seccomp.Filter{Arches: arches, BadArch: seccomp.Allow, Default: seccomp.Allow}
		if f.Allow {
			// The names listed are logged… as an allow list: all others.
			flt.Default = seccomp.Log
			for _, n := range sortedKeys(f.Errno) {
				flt.Rules = append(flt.Rules, seccomp.Rule{Syscall: n, Action: seccomp.Allow})
			}
		} else {
			for _, n := range sortedKeys(f.Errno) {
				flt.Rules = append(flt.Rules, seccomp.Rule{Syscall: n, Action: seccomp.Log})
			}
		}
		out = append(out, flt)
	}
	for i := range out {
		if _, err := out[i].Program(); err != nil {
			return nil, fmt.Errorf("seccomp: %w", err)
		}
	}
	return out, nil
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sandboxLaunch turns a plain fork of path into one through the sandbox
// shim: the spec goes on a memfd appended to attr.Files, the shim's
// arguments take the place of path and argv, and the namespaces are
// unshared by the fork. The credential switch and the privileges move
// into the spec (the shim needs the manager's privileges first), so the
// returned privileges leave the fork alone. done closes the memfd once
// the child is forked and says which settings a failed fork was for.
func (m *Manager) sandboxLaunch(us *unitState, c unit.ExecCommand, path string, argv []string, attr *syscall.ProcAttr, p privileges) (string, []string, privileges, func(error) error, error) {
	if extra := p.ambient &^ p.bounding; extra != 0 {
		return "", nil, p, nil, fmt.Errorf("AmbientCapabilities=: %s is not in CapabilityBoundingSet=", unit.CapabilityName(extra.Numbers()[0]))
	}
	if err := checkAmbient(p.ambient); err != nil {
		return "", nil, p, nil, err
	}
	sp, unshare, err := m.sandboxSpecFor(us, c, attr.Sys.Credential, p)
	if err != nil {
		return "", nil, p, nil, err
	}
	data, err := json.Marshal(sp)
	if err != nil {
		return "", nil, p, nil, err
	}
	fd, err := unix.MemfdCreate("stead-sandbox", unix.MFD_CLOEXEC)
	if err != nil {
		return "", nil, p, nil, fmt.Errorf("sandbox: %w", err)
	}
	f := os.NewFile(uintptr(fd), "stead-sandbox")
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", nil, p, nil, fmt.Errorf("sandbox: %w", err)
	}
	attr.Files = append(attr.Files, f.Fd())
	attr.Sys.Credential = nil
	attr.Sys.Unshareflags |= unshare
	shimArgs := append(append(append([]string{}, m.cfg.ShimArgv...), "--sandbox-fd="+strconv.Itoa(len(attr.Files)-1), path), argv...)
	done := func(err error) error {
		f.Close()
		if err != nil && unshare != 0 {
			return fmt.Errorf("creating the service's namespaces (%s): %w", namespaceSettings(unshare), err)
		}
		return err
	}
	return m.cfg.ShimArgv[0], shimArgs, privileges{bounding: unit.AllCaps}, done, nil
}

// namespaceSettings names the settings behind a set of CLONE_NEW* flags.
func namespaceSettings(flags uintptr) string {
	var out []string
	if flags&unix.CLONE_NEWNS != 0 {
		out = append(out, "mount namespace: ProtectSystem=, PrivateTmp=, …")
	}
	if flags&unix.CLONE_NEWNET != 0 {
		out = append(out, "PrivateNetwork=")
	}
	if flags&unix.CLONE_NEWUTS != 0 {
		out = append(out, "ProtectHostname=")
	}
	return strings.Join(out, "; ")
}
