package pid1

import (
	"context"
	"maps"
	"math"
	"net"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/api/iosystemdmanagedoom"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/unit"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

// ManagedOOMSocket is where oomd subscribes to the units' OOM settings,
// under the root.
const ManagedOOMSocket = "/run/systemd/io.systemd.ManagedOOM"

// Properties reported over io.systemd.ManagedOOM.
const (
	oomPropSwap     = "ManagedOOMSwap"
	oomPropPressure = "ManagedOOMMemoryPressure"
	oomPropRules    = "OOMRules"
)

// oomHub holds the one subscription oomd may have, as upstream allows one.
// Guarded by Manager.mu.
type oomHub struct {
	active   bool
	queue    [][]iosystemdmanagedoom.ControlGroup // updates not yet sent
	wake     chan struct{}                        // cap 1: a batch is queued
	reported map[string]bool                      // units the subscriber knows as watched
	parsed   map[string]parsedOOM                 // per unit, for the loaded file
}

// parsedOOM caches a unit file's settings so warnings are logged once.
type parsedOOM struct {
	u *unit.Unit
	o unit.ManagedOOM
}

// managedOOM returns us's OOM settings. m.mu held.
func (m *Manager) managedOOM(us *unitState) unit.ManagedOOM {
	h := &m.oom
	if p, ok := h.parsed[us.u.Name]; ok && p.u == us.u {
		return p.o
	}
	o := us.u.ManagedOOM(func(e error) { m.log.Warn("unit file problem", "unit", us.u.Name, "err", e) })
	if h.parsed == nil {
		h.parsed = map[string]parsedOOM{}
	}
	h.parsed[us.u.Name] = parsedOOM{us.u, o}
	return o
}

// oomPath is the cgroup oomd watches for us: the unit's real cgroup, or
// where upstream would put it when the manager runs without cgroups.
func (m *Manager) oomPath(us *unitState) string {
	if cg := m.controlGroup(us); cg != "" {
		return cg
	}
	name := us.u.Name
	if us.u.Type != "slice" {
		return "/system.slice/" + name
	}
	if name == "-.slice" {
		return "/"
	}
	// a-b-c.slice lives in /a.slice/a-b.slice/a-b-c.slice
	parts := strings.Split(strings.TrimSuffix(name, ".slice"), "-")
	p := ""
	for i := range parts {
		p += "/" + strings.Join(parts[:i+1], "-") + ".slice"
	}
	return p
}

// oomEntries lists us's settings; with all, also those left at auto (which
// tell oomd to stop watching). m.mu held.
func (m *Manager) oomEntries(us *unitState, o unit.ManagedOOM, all bool) []iosystemdmanagedoom.ControlGroup {
	path := m.oomPath(us)
	var out []iosystemdmanagedoom.ControlGroup
	if all || o.Swap != unit.OOMAuto {
		out = append(out, iosystemdmanagedoom.ControlGroup{Mode: iosystemdmanagedoom.ManagedOOMMode(o.Swap), Path: path, Property: oomPropSwap})
	}
	if all || o.MemoryPressure != unit.OOMAuto {
		limit := oomLimit(o.MemoryPressureLimit)
		cg := iosystemdmanagedoom.ControlGroup{Mode: iosystemdmanagedoom.ManagedOOMMode(o.MemoryPressure), Path: path, Property: oomPropPressure, Limit: &limit}
		if o.MemoryPressureDuration > 0 {
			d := o.MemoryPressureDuration.Microseconds()
			cg.Duration = &d
		}
		out = append(out, cg)
	}
	if all || len(o.Rules) > 0 {
		mode := unit.OOMAuto
		if len(o.Rules) > 0 {
			mode = unit.OOMKill
		}
		rules := append([]string{}, o.Rules...)
		out = append(out, iosystemdmanagedoom.ControlGroup{Mode: iosystemdmanagedoom.ManagedOOMMode(mode), Path: path, Property: oomPropRules, Rules: &rules})
	}
	return out
}

// oomLimit converts a limit in ‱ to what travels on the wire: a fraction of
// UINT32_MAX, rounded.
func oomLimit(permyriad int) int64 {
	return int64((uint64(permyriad)*math.MaxUint32 + 5000) / 10000)
}

// running reports whether us has processes oomd could watch.
func running(us *unitState) bool {
	return us.active != StateInactive && us.active != StateFailed
}

// managedOOMInitial lists the settings of every running unit that asks for
// OOM handling and remembers them as reported. m.mu held.
func (m *Manager) managedOOMInitial() []iosystemdmanagedoom.ControlGroup {
	out := []iosystemdmanagedoom.ControlGroup{}
	m.oom.reported = map[string]bool{}
	for _, name := range m.listLocked() {
		us := m.units[name]
		if !running(us) {
			continue
		}
		if e := m.oomEntries(us, m.managedOOM(us), false); len(e) > 0 {
			out = append(out, e...)
			m.oom.reported[name] = true
		}
	}
	return out
}

// Extended attributes on a unit's cgroup that tell oomd how to treat it
// (ManagedOOMPreference=).
const (
	xattrOOMAvoid = "user.oomd_avoid"
	xattrOOMOmit  = "user.oomd_omit"
)

// applyOOMPreference marks us's cgroup for oomd: user.oomd_avoid=1 or
// user.oomd_omit=1 per ManagedOOMPreference=, neither for none. Units without
// a cgroup are left alone. m.mu held.
func (m *Manager) applyOOMPreference(us *unitState) {
	dir := us.svc.ex.cgroup // host path, set when the unit's processes got a cgroup
	if dir == "" {
		return
	}
	pref := m.managedOOM(us).Preference
	fresh := us.svc.ex.cgroupNew // a cgroup we just created has nothing to remove
	us.svc.ex.cgroupNew = false
	for attr, want := range map[string]bool{xattrOOMAvoid: pref == "avoid", xattrOOMOmit: pref == "omit"} {
		var err error
		if want {
			err = unix.Setxattr(dir, attr, []byte("1"), 0)
		} else if fresh {
			continue
		} else if err = unix.Removexattr(dir, attr); err == unix.ENODATA || err == unix.EOPNOTSUPP {
			err = nil // not set, or a kernel without cgroup xattrs: nothing to undo
		}
		if err != nil {
			m.log.Warn("cannot set oomd preference on the cgroup", "unit", us.u.Name, "xattr", attr, "err", err)
		}
	}
}

// notifyManagedOOM marks a unit's cgroup with its OOM preference once it is
// up, and queues an update for the subscriber when us starts or stops and
// asks for (or had) OOM handling. m.mu held.
func (m *Manager) notifyManagedOOM(us *unitState, old, active string) {
	if active == StateActive && cgroupTypes[us.u.Type] {
		m.applyOOMPreference(us)
	}
	if !m.oom.active || running(us) == (old != StateInactive && old != StateFailed) {
		return
	}
	m.updateManagedOOM(us)
}

// updateManagedOOM sends us's current settings if they matter to the
// subscriber: all of them when it watches the unit or should start to, all
// at auto when the unit stopped. m.mu held.
func (m *Manager) updateManagedOOM(us *unitState) {
	h := &m.oom
	if !h.active {
		return
	}
	name := us.u.Name
	o := m.managedOOM(us)
	if !running(us) {
		o = unit.ManagedOOM{Swap: unit.OOMAuto, MemoryPressure: unit.OOMAuto}
	}
	wants := len(m.oomEntries(us, o, false)) > 0
	if !wants && !h.reported[name] {
		return
	}
	h.reported[name] = wants
	h.queue = append(h.queue, m.oomEntries(us, o, true))
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// reloadUnitsAndOOM is ReloadUnits followed by the OOM preference of every
// active unit and an update for every running unit whose OOM settings the
// reload changed.
func (m *Manager) reloadUnitsAndOOM() error {
	err := m.ReloadUnits()
	m.mu.Lock()
	defer m.mu.Unlock()
	before := maps.Clone(m.oom.parsed) // what the subscriber was told, before re-parsing
	for _, name := range m.listLocked() {
		if us := m.units[name]; us.active == StateActive && cgroupTypes[us.u.Type] {
			m.applyOOMPreference(us)
		}
	}
	if !m.oom.active {
		return err
	}
	for _, name := range m.listLocked() {
		us := m.units[name]
		prev, seen := before[name]
		if !running(us) || (seen && prev.u == us.u) {
			continue
		}
		if seen && sameOOM(prev.o, m.managedOOM(us)) {
			continue
		}
		m.updateManagedOOM(us)
	}
	return err
}

func sameOOM(a, b unit.ManagedOOM) bool {
	return a.Swap == b.Swap && a.MemoryPressure == b.MemoryPressure && a.MemoryPressureLimit == b.MemoryPressureLimit &&
		a.MemoryPressureDuration == b.MemoryPressureDuration && strings.Join(a.Rules, " ") == strings.Join(b.Rules, " ")
}

// managedOOMSocket is io.systemd.ManagedOOM on its own socket (VarlinkSockets).
func (m *Manager) managedOOMSocket() daemon.Socket {
	return daemon.Socket{Path: ManagedOOMSocket, Mode: 0o666,
		Interfaces: []varlinkd.Dispatcher{iosystemdmanagedoom.VarlinkNew(varlinkManagedOOM{m})}}
}

type varlinkManagedOOM struct{ m *Manager }

// OOMDaemonUnit is the unit whose processes may subscribe to ManagedOOM besides privileged
// peers: oomd runs as its own user (User=systemd-oom), as upstream's unit has it.
const OOMDaemonUnit = "systemd-oomd.service"

// isOOMDaemon reports whether c's peer is a process of OOMDaemonUnit that this manager
// started.
func (m *Manager) isOOMDaemon(c varlink.Call) bool {
	peer, ok := varlinkd.PeerOf(c)
	if !ok {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.oomDaemonPID(int(peer.PID))
}

// oomDaemonPID reports whether pid is a process this manager runs for OOMDaemonUnit. m.mu
// held.
func (m *Manager) oomDaemonPID(pid int) bool {
	p := m.pids[pid]
	return p != nil && p.us != nil && p.us.u.Name == OOMDaemonUnit
}

// SubscribeManagedOOMCGroups answers with the current settings and, with
// 'more', keeps the call open to stream updates until the client hangs up.
func (v varlinkManagedOOM) SubscribeManagedOOMCGroups(ctx context.Context, c iosystemdmanagedoom.VarlinkCall) error {
	m := v.m
	if !varlinkd.Privileged(c.Call) && !m.isOOMDaemon(c.Call) {
		return varlinkd.ReplyPermissionDenied(ctx, c.Call)
	}
	m.mu.Lock()
	if !c.WantsMore() {
		saved := m.oom.reported
		initial := m.managedOOMInitial()
		m.oom.reported = saved
		m.mu.Unlock()
		return c.ReplySubscribeManagedOOMCGroups(ctx, initial)
	}
	if m.oom.active {
		m.mu.Unlock()
		return c.ReplySubscriptionTaken(ctx)
	}
	h := &m.oom
	h.active, h.queue, h.wake = true, nil, make(chan struct{}, 1)
	initial := m.managedOOMInitial()
	wake := h.wake
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		h.active, h.queue, h.reported = false, nil, nil
		m.mu.Unlock()
	}()

	c.Continues = true
	if err := c.ReplySubscribeManagedOOMCGroups(ctx, initial); err != nil {
		return err
	}
	watch, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	gone := peerGone(watch, c.Call)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-gone:
			return nil
		case <-wake:
		}
		m.mu.Lock()
		batches := h.queue
		h.queue = nil
		m.mu.Unlock()
		for _, b := range batches {
			if err := c.ReplySubscribeManagedOOMCGroups(ctx, b); err != nil {
				return err
			}
		}
	}
}

// peerGone is closed when the peer of c hangs up, so a subscription is
// released without waiting for the next write to fail. The watcher polls
// every half second and stops once ctx ends; by then the descriptor may
// belong to another connection, but nobody listens to done any more.
func peerGone(ctx context.Context, c varlink.Call) <-chan struct{} {
	done := make(chan struct{})
	nc, ok := c.Conn.(interface{ NetConn() net.Conn })
	if !ok {
		return done // never closes: the write path notices instead
	}
	sc, ok := nc.NetConn().(syscall.Conn)
	if !ok {
		return done
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return done
	}
	var fd int
	_ = raw.Control(func(f uintptr) { fd = int(f) })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
			n, err := unix.Poll(pfd, 500)
			if err == unix.EINTR {
				continue
			}
			if err != nil || (n > 0 && pfd[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0) {
				return
			}
		}
	}()
	return done
}
