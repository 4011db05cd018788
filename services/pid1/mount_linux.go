package pid1

// Mount units: mount(8) and umount(8) run as the unit's control process,
// as upstream runs them (systemd.mount(5)); the mount is up when mount(8)
// succeeds. A mount point that is already mounted when its unit starts is
// taken as it is. Upstream also follows /proc/self/mountinfo and shows every
// mount as a unit; we do not (docs/systemd.unit.md).

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/unit"
)

const (
	subMounting   subState = "mounting"
	subMounted    subState = "mounted"
	subUnmounting subState = "unmounting"
)

// mountOutputMax bounds what is kept of mount(8)'s messages for the log.
const mountOutputMax = 4 << 10

// mountRuntime is the state of a mount unit: its control process.
type mountRuntime struct {
	ctrlPID int
	gen     int         // operation generation, to ignore stale timers
	timer   *time.Timer // TimeoutSec=
	output  func() string
}

// mountTool finds mount(8) or umount(8) where util-linux installs them.
func mountTool(name string) string {
	for _, p := range []string{"/usr/bin/" + name, "/bin/" + name, "/usr/sbin/" + name, "/sbin/" + name} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return "/usr/bin/" + name
}

// mountArgv is the mount(8) command line upstream uses: source and target
// first, then the type and options.
func mountArgv(mt *unit.Mount) []string {
	argv := []string{"mount", mt.What, mt.Where}
	if mt.SloppyOptions {
		argv = append(argv, "-s")
	}
	if mt.ReadWriteOnly {
		argv = append(argv, "-w")
	}
	if mt.Type != "" {
		argv = append(argv, "-t", mt.Type)
	}
	if mt.Options != "" {
		argv = append(argv, "-o", mt.Options)
	}
	return argv
}

// umountArgv is the umount(8) command line: -c, as the path is canonical.
func umountArgv(mt *unit.Mount) []string {
	argv := []string{"umount", mt.Where, "-c"}
	if mt.LazyUnmount {
		argv = append(argv, "-l")
	}
	if mt.ForceUnmount {
		argv = append(argv, "-f")
	}
	return argv
}

// requireParentMounts makes a mount unit require, and order after, the
// loaded mount units of the directories above it (upstream requires them;
// the loader loads them as implicit dependencies, which alone the job engine
// does not start). m.mu held.
func (m *Manager) requireParentMounts(us *unitState) {
	if us.u.Mount == nil {
		return
	}
	for _, n := range us.u.Mount.ParentMounts() {
		if p, ok := m.units[n]; ok && p.u.LoadState == unit.Loaded {
			us.u.Unit.Requires = appendNew(us.u.Unit.Requires, n)
			us.u.Unit.After = appendNew(us.u.Unit.After, n)
		}
	}
}

// appendNew appends s to l unless it is there.
func appendNew(l []string, s string) []string {
	if contains(l, s) {
		return l
	}
	return append(l, s)
}

// isMounted reports whether where is a mount point now.
func isMounted(where string) bool { return mountPoints()[where] }

// startMount mounts us. m.mu held.
func (m *Manager) startMount(us *unitState) {
	mt := us.u.Mount
	us.result = resultSuccess
	if isMounted(mt.Where) {
		m.setState(us, StateActive, subMounted)
		return
	}
	if err := os.MkdirAll(mt.Where, os.FileMode(mt.DirectoryMode)); err != nil && !isFileBind(mt) {
		m.log.Error("cannot create mount point", "unit", us.u.Name, "where", mt.Where, "error", err)
		us.result = resultResources
		m.setState(us, StateFailed, subFailed)
		return
	}
	if err := m.runMountTool(us, mountTool("mount"), mountArgv(mt)); err != nil {
		m.log.Error("cannot run mount", "unit", us.u.Name, "error", err)
		us.result = resultResources
		m.setState(us, StateFailed, subFailed)
		return
	}
	m.setState(us, StateActivating, subMounting)
}

// isFileBind reports a bind mount of a file, whose mount point is a file
// created by whoever set it up, not a directory.
func isFileBind(mt *unit.Mount) bool {
	fi, err := os.Stat(mt.What)
	return err == nil && !fi.IsDir() && unit.HasMountOption(mt.Options, "bind")
}

// stopMount unmounts us. The root file system is never unmounted: its
// unit stays up, as upstream's perpetual -.mount does. m.mu held.
func (m *Manager) stopMount(us *unitState) {
	mt := us.u.Mount
	if mt.Where == "/" {
		if us.job != nil {
			m.finishJob(us.job, ResultDone)
		}
		return
	}
	m.killMountControl(us)
	if !isMounted(mt.Where) {
		m.setState(us, StateInactive, subDead)
		return
	}
	if err := m.runMountTool(us, mountTool("umount"), umountArgv(mt)); err != nil {
		m.log.Error("cannot run umount", "unit", us.u.Name, "error", err)
		m.setState(us, StateActive, subMounted)
		if us.job != nil {
			m.finishJob(us.job, ResultFailed)
		}
		return
	}
	m.setState(us, StateDeactivating, subUnmounting)
}

// killMountControl ends a mount(8) or umount(8) still running for us.
func (m *Manager) killMountControl(us *unitState) {
	if pid := us.mnt.ctrlPID; pid != 0 {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

// runMountTool starts path with argv as us's control process, its output
// collected for the log, under the unit's TimeoutSec=. m.mu held.
func (m *Manager) runMountTool(us *unitState, path string, argv []string) error {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	attr := &syscall.ProcAttr{Dir: "/", Env: env, Files: []uintptr{devnull.Fd(), w.Fd(), w.Fd()},
		Sys: &syscall.SysProcAttr{Setpgid: true}}
	pid, err := syscall.ForkExec(path, argv, attr) // m.mu held: the reaper waits until pid is registered
	w.Close()
	if err != nil {
		r.Close()
		return err
	}
	m.pids[pid] = &proc{pid: pid, us: us}
	us.mnt.ctrlPID = pid
	us.mnt.gen++
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&limitedWriter{&buf, mountOutputMax}, r)
	}()
	us.mnt.output = func() string {
		select { // a helper mount(8) started may keep the pipe: do not wait long
		case <-done:
		case <-time.After(time.Second):
		}
		r.Close()
		<-done
		return strings.TrimSpace(buf.String())
	}
	if d := us.u.Mount.Timeout; d > 0 && d < time.Duration(1<<62) {
		gen := us.mnt.gen
		us.mnt.timer = time.AfterFunc(d, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if us.mnt.gen != gen || us.mnt.ctrlPID == 0 {
				return
			}
			m.log.Warn("mount operation timed out, killing", "unit", us.u.Name, "pid", us.mnt.ctrlPID)
			us.result = resultTimeout
			_ = unix.Kill(-us.mnt.ctrlPID, unix.SIGKILL)
			_ = unix.Kill(us.mnt.ctrlPID, unix.SIGKILL)
		})
	}
	return nil
}

// mountExited handles the end of a mount unit's control process. m.mu held.
func (m *Manager) mountExited(p *proc, ws unix.WaitStatus) {
	us := p.us
	if us.mnt.ctrlPID != p.pid {
		return
	}
	us.mnt.ctrlPID = 0
	if us.mnt.timer != nil {
		us.mnt.timer.Stop()
		us.mnt.timer = nil
	}
	out := ""
	if us.mnt.output != nil {
		out = us.mnt.output()
		us.mnt.output = nil
	}
	ok := ws.Exited() && ws.ExitStatus() == 0
	if !ok && us.result == resultSuccess {
		us.result = resultExitCode
		if ws.Signaled() {
			us.result = resultSignal
		}
	}
	level := m.log.Info
	if !ok {
		level = m.log.Error
	}
	switch us.sub {
	case subMounting:
		level("mount finished", "unit", us.u.Name, "status", describeStatus(ws), "output", out)
		if ok {
			m.setState(us, StateActive, subMounted)
		} else {
			m.setState(us, StateFailed, subFailed)
		}
	case subUnmounting:
		level("unmount finished", "unit", us.u.Name, "status", describeStatus(ws), "output", out)
		if ok || !isMounted(us.u.Mount.Where) {
			us.result = resultSuccess
			m.setState(us, StateInactive, subDead)
			return
		}
		// Still mounted: the unit stays up and the stop job fails.
		m.setState(us, StateActive, subMounted)
		if us.job != nil {
			m.finishJob(us.job, ResultFailed)
		}
	}
}
