package pid1

// One cgroup per service under system.slice. As PID 1 the hierarchy is the
// cgroup2 mount at /sys/fs/cgroup; in host mode only a delegated cgroup is
// used: the cgroup2 group init itself runs in, when it is not the
// hierarchy's root and is writable — otherwise cgroups are off and the
// process group of each child stands in for it (see docs/init.md).

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupTree is where the manager creates unit cgroups.
type cgroupTree struct {
	mount string // host path of the cgroup2 mount
	base  string // our subtree below the mount ("" as PID 1)
}

// slicePath is the host path of system.slice.
func (t *cgroupTree) slicePath() string {
	return filepath.Join(t.mount, t.base, "system.slice")
}

// unitPath is the host path of a unit's cgroup.
func (t *cgroupTree) unitPath(name string) string { return filepath.Join(t.slicePath(), name) }

// relPath is a unit's cgroup as /proc/PID/cgroup shows it ("/system.slice/x.service"
// as PID 1).
func (t *cgroupTree) relPath(name string) string {
	return "/" + filepath.Join(t.base, "system.slice", name)
}

// detectCgroups finds the tree to use, or nil (with the reason) when units
// run without cgroups.
func detectCgroups(pid1 bool) (*cgroupTree, string) {
	if pid1 {
		var st unix.Statfs_t
		if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			return nil, "/sys/fs/cgroup is not a cgroup2 mount"
		}
		t := &cgroupTree{mount: "/sys/fs/cgroup"}
		if err := t.init(); err != nil {
			return nil, err.Error()
		}
		return t, ""
	}
	own := ownCgroup()
	if own == "" {
		return nil, "not in a cgroup2 hierarchy"
	}
	if own == "/" {
		return nil, "running in the root cgroup, which is not delegated to us"
	}
	mount := cgroup2Mount()
	if mount == "" {
		return nil, "no cgroup2 mount"
	}
	dir := filepath.Join(mount, own)
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return nil, fmt.Sprintf("own cgroup %s is not writable", own)
	}
	t := &cgroupTree{mount: mount, base: strings.TrimPrefix(own, "/")}
	if err := t.init(); err != nil {
		return nil, err.Error()
	}
	return t, ""
}

// init creates system.slice and delegates the available controllers to it
// as far as the kernel lets us (a group with processes of its own cannot
// pass controllers down; that is fine).
func (t *cgroupTree) init() error {
	if err := os.MkdirAll(t.slicePath(), 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", t.slicePath(), err)
	}
	for _, dir := range []string{filepath.Join(t.mount, t.base), t.slicePath()} {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if err != nil {
			continue
		}
		for _, c := range strings.Fields(string(b)) {
			_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0)
		}
	}
	return nil
}

// ownCgroup returns our cgroup2 path from /proc/self/cgroup ("0::/x").
func ownCgroup() string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	return ""
}

// cgroup2Mount returns the first cgroup2 mount point in our mount table.
func cgroup2Mount() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		i := strings.Index(l, " - ")
		if i < 0 {
			continue
		}
		pre, post := strings.Fields(l[:i]), strings.Fields(l[i+3:])
		if len(pre) >= 5 && len(post) >= 1 && post[0] == "cgroup2" {
			return unescapeMount(pre[4])
		}
	}
	return ""
}

// setupCgroup creates us's cgroup; its processes are forked into it
// (CLONE_INTO_CGROUP). m.mu held.
func (m *Manager) setupCgroup(us *unitState) error {
	us.svc.ex.cgroup = ""
	if m.cg == nil {
		return nil
	}
	p := m.cg.unitPath(us.u.Name)
	err := os.Mkdir(p, 0o755)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("cgroup: %w", err)
	}
	us.svc.ex.cgroup, us.svc.ex.cgroupNew = p, err == nil
	return nil
}

// cgroupPIDs lists the processes in a cgroup and its children.
func cgroupPIDs(dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return nil
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil && n > 0 {
				pids = append(pids, n)
			}
		}
		return nil
	})
	return pids
}

// cgroupPopulated reports whether a process is left in the cgroup (or
// below), per cgroup.events; a cgroup that is gone is empty.
func cgroupPopulated(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "populated "); ok {
			return strings.TrimSpace(v) == "1"
		}
	}
	return false
}

// signalCgroup sends sig to every process in the cgroup: SIGKILL through
// cgroup.kill (atomic, also catches processes forking meanwhile) when the
// kernel has it, else pid by pid.
func signalCgroup(dir string, sig syscall.Signal) {
	if sig == unix.SIGKILL {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err == nil {
			return
		}
	}
	for _, pid := range cgroupPIDs(dir) {
		_ = unix.Kill(pid, sig)
		if sig != unix.SIGKILL {
			_ = unix.Kill(pid, unix.SIGCONT)
		}
	}
}

// removeCgroup removes an empty cgroup and its empty children.
func removeCgroup(dir string) {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = unix.Rmdir(dirs[i])
	}
}

// leftovers is where a service's remaining processes are: its cgroup, or
// without cgroups the main process's process group (which misses what
// changed its group or came from control processes).
type leftovers struct {
	dir  string
	pgid int
}

func (l leftovers) any() bool {
	if l.dir != "" {
		return cgroupPopulated(l.dir)
	}
	return l.pgid > 0 && unix.Kill(-l.pgid, 0) == nil
}

func (l leftovers) signal(sig syscall.Signal) {
	if l.dir != "" {
		signalCgroup(l.dir, sig)
		return
	}
	_ = unix.Kill(-l.pgid, sig)
	if sig != unix.SIGKILL {
		_ = unix.Kill(-l.pgid, unix.SIGCONT)
	}
}

// drainCgroup ends the processes left in us's cgroup (or process group)
// once its main and control processes are gone (KillMode=control-group or
// mixed): KillSignal= (SIGKILL for mixed) to each, SIGKILL after
// TimeoutStopSec=, then next(). Without leftovers next runs at once.
// m.mu held; next runs with m.mu held.
func (m *Manager) drainCgroup(us *unitState, next func()) {
	l := leftovers{dir: us.svc.ex.cgroup, pgid: us.svc.ex.pgid}
	km := us.u.Service.KillMode
	if us.svc.ex.draining {
		return // the running drain continues the same way
	}
	if (km != "control-group" && km != "mixed") || !l.any() {
		next()
		return
	}
	us.svc.ex.draining = true
	sig := unix.SIGKILL
	if km == "control-group" {
		if n, err := signalNumber(us.u.Service.KillSignal); err == nil {
			sig = n
		}
	}
	m.log.Info("killing leftover processes", "unit", us.u.Name, "signal", unix.SignalName(sig))
	l.signal(sig)
	m.setState(us, StateDeactivating, subStopSigterm)
	gen := us.svc.gen
	timeout := us.u.Service.TimeoutStop
	name := us.u.Name // daemon-reload replaces us.u: read it here, under m.mu
	go func() {
		deadline := time.Now().Add(timeout)
		killed := sig == unix.SIGKILL
		for l.any() {
			if !killed && timeout > 0 && time.Now().After(deadline) {
				m.log.Warn("leftover processes did not exit, killing", "unit", name)
				l.signal(unix.SIGKILL)
				killed = true
			}
			time.Sleep(20 * time.Millisecond)
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		us.svc.ex.draining = false
		if us.svc.gen == gen {
			next()
		}
	}()
}

// releaseCgroup kills what is left (as SIGKILL, KillMode= permitting) and
// removes us's cgroup when it is empty. m.mu held.
func (m *Manager) releaseCgroup(us *unitState) {
	dir := us.svc.ex.cgroup
	if dir == "" {
		return
	}
	if km := us.u.Service.KillMode; (km == "control-group" || km == "mixed") && cgroupPopulated(dir) {
		signalCgroup(dir, unix.SIGKILL)
	}
	if !cgroupPopulated(dir) {
		removeCgroup(dir)
	}
}

// ControlGroup returns the cgroup of a unit as /proc/PID/cgroup names it,
// "" when it has none (no cgroups, or not a service).
func (m *Manager) controlGroup(us *unitState) string {
	if m.cg == nil || us.svc.ex.cgroup == "" {
		return ""
	}
	return m.cg.relPath(us.u.Name)
}
