package pid1

// The execution environment of a service's processes: identity (User=,
// Group=), directories, environment variables and the fork itself.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/unit"
)

// defaultPath is the $PATH services get when the manager has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// execState is what one activation of a service sets up around its
// processes and tears down when it ends.
type execState struct {
	id        identity
	credsDir  string // host path of the credentials directory, "" if none
	cgroup    string // host path of the unit's cgroup, "" without cgroups
	cgroupNew bool   // the cgroup was just created: it has no oomd xattrs to remove yet
	wdTimer   *time.Timer
	wdTimeout time.Duration // current watchdog timeout (WatchdogSec= or WATCHDOG_USEC=)
	draining  bool          // drainCgroup is waiting for the cgroup to empty
	pgid      int           // the main process's process group (leftovers without cgroups)

	// Accept=yes: an instance service owns its connection (the socket
	// counts its instances in its socketRuntime).
	connFD     int
	acceptedBy *unitState
}

// prepareExec resolves the service's identity and creates its runtime
// and state directories; finishExec then writes its credentials, collected
// in between without m.mu, and creates its cgroup. Each runs once per
// start. m.mu held.
func (m *Manager) prepareExec(us *unitState) error {
	// Nothing of the last activation may be signalled or reused meanwhile.
	us.svc.ex.pgid, us.svc.ex.cgroup, us.svc.ex.credsDir = 0, "", ""
	id, err := m.serviceIdentity(us) // User=/Group=, or DynamicUser= (dynamicuser_linux.go)
	if err != nil {
		return err
	}
	us.svc.ex.id = id
	return m.makeDirs(us)
}

// finishExec completes prepareExec with the credentials collected for this
// start. m.mu held.
func (m *Manager) finishExec(us *unitState, cc collectedCredentials) error {
	if err := m.setupCredentials(us, cc); err != nil {
		return err
	}
	return m.setupCgroup(us)
}

// makeDirs creates RuntimeDirectory= under /run, StateDirectory= under
// /var/lib, CacheDirectory= under /var/cache, LogsDirectory= under /var/log
// and ConfigurationDirectory= under /etc (in the root; with DynamicUser=
// the first three in a private/ subdirectory and a symlink to it):
// parents owned by root with mode 0755, each directory itself with its
// *DirectoryMode= and owned by the user and group the service runs as.
func (m *Manager) makeDirs(us *unitState) error {
	uid, gid := us.svc.ex.id.owner()
	for _, d := range serviceDirs(us.u.Service) { // sandbox_linux.go
		if err := mkdirBelow(m.hostPath(d.base), d.rel, d.mode, uid, gid); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(d.base, d.rel), err)
		}
		if err := m.linkPrivateDir(d); err != nil {
			return err
		}
	}
	return nil
}

// owner is who owns the directories of a service running as id: User=/
// Group=, else the manager's own user and group (root as PID 1), which the
// service then runs as.
func (id identity) owner() (uid, gid int) {
	if id.set {
		return int(id.uid), int(id.gid)
	}
	return os.Geteuid(), os.Getegid()
}

// mkdirBelow creates the relative path rel below base one component at a
// time, never following a symlink below base (a directory the service
// owns, e.g. StateDirectory=a next to a/b, could otherwise point a later
// chmod/chown at any file): parents it creates are root's with mode 0755,
// the last component gets mode and the owner uid:gid. When that owner
// changes (the directory was another service's, or User= changed), what is
// inside changes owner too, as upstream does (chownTree).
func mkdirBelow(base, rel string, mode uint32, uid, gid int) error {
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	fd, err := unix.Open(base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	comps := strings.Split(rel, "/")
	for i, c := range comps {
		last := i == len(comps)-1
		perm := uint32(0o755)
		if last {
			perm = mode
		}
		if err := unix.Mkdirat(fd, c, perm); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(fd)
			return err
		}
		nfd, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			if errors.Is(err, unix.ELOOP) {
				err = fmt.Errorf("%s is a symlink", c)
			}
			return err
		}
		fd = nfd
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if int(st.Uid) != uid || int(st.Gid) != gid {
		if err := chownTree(fd, uid, gid, 0); err != nil {
			return err
		}
	}
	return unix.Fchmod(fd, mode) // after the chown, which may clear the set-group-ID bit
}

// maxChownDepth bounds how deep chownTree descends (it holds two fds per
// level).
const maxChownDepth = 256

// chownTree gives everything below the open directory dirfd, then the
// directory itself (last, so that an interrupted walk is redone at the
// next start), to uid:gid. No symlink is followed: each entry is opened
// with O_PATH|O_NOFOLLOW relative to its directory and changed through
// that fd, so a link changes owner, not its target. A non-directory with
// more than one link is left alone: it may be a hard link the service made
// to a file elsewhere (upstream chowns it too).
func chownTree(dirfd, uid, gid, depth int) error {
	if depth > maxChownDepth {
		return fmt.Errorf("directory tree deeper than %d levels", maxChownDepth)
	}
	names, err := readDirNames(dirfd)
	if err != nil {
		return err
	}
	for _, n := range names {
		fd, err := unix.Openat(dirfd, n, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			continue // removed meanwhile
		}
		if err != nil {
			return err
		}
		err = chownEntry(fd, uid, gid, depth)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return unix.Fchownat(dirfd, "", uid, gid, unix.AT_EMPTY_PATH)
}

// chownEntry changes the owner of the entry open (O_PATH) as fd, a
// directory with everything in it.
func chownEntry(fd, uid, gid, depth int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(dfd)
		return chownTree(dfd, uid, gid, depth+1)
	case st.Nlink > 1, int(st.Uid) == uid && int(st.Gid) == gid:
		return nil
	}
	return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
}

// readDirNames lists the open directory dirfd (through an fd of its own,
// so dirfd's offset stays as it was).
func readDirNames(dirfd int) ([]string, error) {
	fd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	d := os.NewFile(uintptr(fd), ".")
	defer d.Close()
	return d.Readdirnames(-1)
}

// removeRuntimeDirs removes RuntimeDirectory= unless preserved: with
// RuntimeDirectoryPreserve=restart they survive automatic restarts only.
func (m *Manager) removeRuntimeDirs(us *unitState, restarting bool) {
	s := us.u.Service
	if !restarting {
		m.releaseSandbox(us) // PrivateTmp= directories, the DynamicUser= uid
	}
	if s.RuntimeDirectoryPreserve == "yes" || (s.RuntimeDirectoryPreserve == "restart" && restarting) {
		return
	}
	for _, d := range s.RuntimeDirectory {
		_ = os.RemoveAll(m.hostPath(filepath.Join("/run", d)))
	}
}

// environment builds the environment of one process of us, in systemd's
// order of precedence (later wins): the manager's PATH, what the manager
// sets (extra, then the variables below), Environment=, EnvironmentFile=.
// A missing EnvironmentFile= without the "-" prefix is an error.
func (m *Manager) environment(us *unitState, main bool, extra []string) ([]string, map[string]string, error) {
	s := us.u.Service
	id := us.svc.ex.id
	env := []string{"PATH=" + envOr("PATH", defaultPath)}
	if s.Type == "notify" || s.Type == "notify-reload" {
		env = append(env, "NOTIFY_SOCKET="+m.notifyPath)
	}
	env = append(env, extra...)
	if us.rt.invocationID != "" {
		env = append(env, "INVOCATION_ID="+us.rt.invocationID)
	}
	env = append(env, "USER="+id.user)
	if id.set {
		env = append(env, "LOGNAME="+id.user, "HOME="+id.home, "SHELL="+id.shell)
	}
	if main && us.svc.ex.wdTimeout > 0 {
		env = append(env, "WATCHDOG_USEC="+strconv.FormatInt(us.svc.ex.wdTimeout.Microseconds(), 10))
	}
	if !main && us.svc.mainPID > 0 {
		env = append(env, "MAINPID="+strconv.Itoa(us.svc.mainPID))
	}
	if !main && (us.svc.phase == phaseStop || us.svc.phase == phaseStopPost) {
		env = append(env, "SERVICE_RESULT="+string(us.result))
		if em := us.svc.execMain; em.pid != 0 && em.code != "" {
			st := strconv.Itoa(em.status)
			if em.code != cldExited {
				st = strings.TrimPrefix(unix.SignalName(syscall.Signal(em.status)), "SIG")
			}
			env = append(env, "EXIT_CODE="+string(em.code), "EXIT_STATUS="+st)
		}
	}
	for _, d := range []struct {
		name, base string
		dirs       []string
	}{{"RUNTIME_DIRECTORY", "/run", s.RuntimeDirectory}, {"STATE_DIRECTORY", "/var/lib", s.StateDirectory},
		{"CACHE_DIRECTORY", "/var/cache", s.Sandbox.CacheDirectory}, {"LOGS_DIRECTORY", "/var/log", s.Sandbox.LogsDirectory},
		{"CONFIGURATION_DIRECTORY", "/etc", s.Sandbox.ConfigurationDirectory}} {
		var ps []string
		for _, x := range d.dirs {
			ps = append(ps, m.hostPath(filepath.Join(d.base, x)))
		}
		if len(ps) > 0 {
			env = append(env, d.name+"="+strings.Join(ps, ":"))
		}
	}
	if us.svc.ex.credsDir != "" {
		env = append(env, "CREDENTIALS_DIRECTORY="+us.svc.ex.credsDir)
	}
	env = append(env, s.Environment...)
	for _, f := range s.EnvironmentFiles {
		vars, err := m.readEnvironmentFile(f)
		if err != nil {
			return nil, nil, err
		}
		env = append(env, vars...)
	}
	// Last assignment wins, first position kept.
	mp := map[string]string{}
	var order []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := mp[k]; !ok {
			order = append(order, k)
		}
		mp[k] = v
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+mp[k])
	}
	return out, mp, nil
}

// readEnvironmentFile reads one EnvironmentFile= (a path or glob under the
// root; "-" makes a missing file fine). Matches are read in sorted order.
func (m *Manager) readEnvironmentFile(spec string) ([]string, error) {
	optional := strings.HasPrefix(spec, "-")
	p := m.hostPath(strings.TrimPrefix(spec, "-"))
	files := []string{p}
	if strings.ContainsAny(p, "*?[") {
		var err error
		if files, err = filepath.Glob(p); err != nil {
			return nil, fmt.Errorf("EnvironmentFile=%s: %w", spec, err)
		}
		sort.Strings(files)
		if len(files) == 0 && !optional {
			return nil, fmt.Errorf("EnvironmentFile=%s: no file matches", spec)
		}
	}
	var out []string
	for _, f := range files {
		data, err := readRegularFile(f)
		if err != nil {
			if optional {
				continue
			}
			return nil, fmt.Errorf("EnvironmentFile=%s: %w", spec, err)
		}
		out = append(out, unit.LoadEnvironmentFile(string(data))...)
	}
	return out, nil
}

// readRegularFile reads p, which must be a regular file: the manager reads
// it holding m.mu (upstream reads EnvironmentFile= in the forked child), so
// a FIFO or a device someone put there must not block or flood it.
func readRegularFile(p string) ([]byte, error) {
	f, err := openRegular(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// openRegular opens p for reading if it is a regular file, checked on the open file: opened
// non-blocking, a FIFO or device (perhaps swapped in after a stat) cannot block the manager.
func openRegular(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	return f, nil
}

// workingDir resolves WorkingDirectory= under the root: "~" is the user's
// home, "-" makes a missing directory fall back to the root directory.
func (m *Manager) workingDir(us *unitState) (string, error) {
	wd := us.u.Service.WorkingDirectory
	optional := strings.HasPrefix(wd, "-")
	wd = strings.TrimPrefix(wd, "-")
	switch wd {
	case "":
		return m.hostPath("/"), nil
	case "~":
		wd = us.svc.ex.id.home
	}
	p := m.hostPath(wd)
	if st, err := os.Stat(p); err != nil || !st.IsDir() {
		if optional {
			return m.hostPath("/"), nil
		}
		if err == nil {
			err = unix.ENOTDIR
		}
		return "", fmt.Errorf("WorkingDirectory=%s: %w", wd, err)
	}
	return p, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// credential returns the credentials the child switches to, nil to keep
// ours: none without User=/Group=/SupplementaryGroups=, for "+"/"!"
// commands, or when they are already ours. "!!" changes nothing: it only
// matters without ambient capabilities, which init supports.
func credential(id identity, c unit.ExecCommand) *syscall.Credential {
	if !id.change || c.Privileged || c.NoSetuid {
		return nil
	}
	if os.Geteuid() != 0 && uint32(os.Geteuid()) == id.uid && uint32(os.Getegid()) == id.gid && len(id.groups) == 0 {
		return nil
	}
	return &syscall.Credential{Uid: id.uid, Gid: id.gid, Groups: append([]uint32{}, id.groups...)}
}

// spawn starts one command of us. The child is reaped only by the reaper.
// m.mu held, so the reaper cannot look the pid up before it is registered.
func (m *Manager) spawn(us *unitState, c unit.ExecCommand, main bool) (int, error) {
	var extra []string
	var fds []int
	nSock := 0
	if main {
		fds, extra, nSock = m.listenFDs(us)
	}
	env, envMap, err := m.environment(us, main, extra)
	if err != nil {
		return 0, err
	}
	argv := c.Argv
	if !c.NoEnvExpand {
		argv = unit.ExpandArgv(argv, envMap)
	}
	path := c.Path
	if !strings.HasPrefix(path, "/") {
		p, err := exec.LookPath(path) // a PATH search only; nothing is run
		if err != nil {
			return 0, err
		}
		path = p
	}
	sandboxed := sandboxNeeded(us.u.Service) // the sandbox shim sets LISTEN_PID and WATCHDOG_PID too
	if !sandboxed && (len(fds) > 0 || envMap["WATCHDOG_USEC"] != "") {
		// LISTEN_PID and WATCHDOG_PID must be the service's own pid, which
		// only the child knows: exec through the shim, which sets them and
		// execs path (the pid stays the same).
		argv = append(append(append([]string{}, m.cfg.ShimArgv...), path), argv...)
		path = m.cfg.ShimArgv[0]
	}
	dir, err := m.workingDir(us)
	if err != nil {
		return 0, err
	}
	if m.devnull == nil { // opened once, shared by every spawn
		if m.devnull, err = os.Open(os.DevNull); err != nil {
			m.devnull = nil
			return 0, err
		}
	}
	// The log pipe: only our end goes through the runtime's poller; the
	// child's end stays a plain (blocking) fd, closed once it is forked.
	var pp [2]int
	if err := unix.Pipe2(pp[:], unix.O_CLOEXEC); err != nil {
		return 0, err
	}
	defer unix.Close(pp[1])
	if err := unix.SetNonblock(pp[0], true); err != nil {
		unix.Close(pp[0])
		return 0, err
	}
	r := os.NewFile(uintptr(pp[0]), "|"+us.u.Name)
	std, err := stdio(us.u.Service, main, fds[:nSock], m.devnull.Fd(), uintptr(pp[1]))
	if err != nil {
		r.Close()
		return 0, err
	}
	files := std[:]
	for _, fd := range fds {
		files = append(files, uintptr(fd))
	}
	sys := &syscall.SysProcAttr{Setpgid: true, Credential: credential(us.svc.ex.id, c)}
	if us.svc.ex.cgroup != "" {
		cfd, err := unix.Open(us.svc.ex.cgroup, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			r.Close()
			return 0, fmt.Errorf("cgroup %s: %w", us.svc.ex.cgroup, err)
		}
		defer unix.Close(cfd)
		sys.UseCgroupFD, sys.CgroupFD = true, cfd
	}
	attr, prv := &syscall.ProcAttr{Dir: dir, Env: env, Files: files, Sys: sys}, commandPrivileges(us.u.Service, c)
	done := func(err error) error { return err }
	if sandboxed {
		if path, argv, prv, done, err = m.sandboxLaunch(us, c, path, argv, attr, prv); err != nil {
			r.Close()
			return 0, err
		}
	}
	pid, err := forkExec(path, argv, attr, prv)
	err = done(err)
	if err != nil {
		r.Close()
		return 0, err
	}
	m.pids[pid] = &proc{pid: pid, us: us, main: main, cmd: c, log: r}
	if main {
		us.svc.ex.pgid = pid // Setpgid: the child leads a group of its own
	}
	go m.copyOutput(us.u.Name, r)
	return pid, nil
}

// stdio picks fds 0–2 of a process: /dev/null, the log pipe, or the
// socket (the accepted connection, or the one socket passed) for the main
// process of a socket-activated service; other processes get /dev/null
// where the main one gets the socket.
func stdio(s *unit.Service, main bool, fds []int, devnull, logPipe uintptr) ([3]uintptr, error) {
	sock := devnull
	if s.StandardInput == "socket" || s.StandardOutput == "socket" || s.StandardError == "socket" {
		if main {
			if len(fds) != 1 {
				return [3]uintptr{}, fmt.Errorf("standard stream socket needs exactly one socket, got %d", len(fds))
			}
			sock = uintptr(fds[0])
		}
	}
	var out [3]uintptr
	out[0] = devnull
	if s.StandardInput == "socket" {
		out[0] = sock
	}
	pick := func(mode string, inherit uintptr) uintptr {
		switch mode {
		case "null":
			return devnull
		case "socket":
			return sock
		case "inherit":
			return inherit
		}
		return logPipe
	}
	out[1] = pick(s.StandardOutput, out[0])
	out[2] = pick(s.StandardError, out[1])
	return out, nil
}

// copyOutput prefixes each line a child writes with its unit's name.
func (m *Manager) copyOutput(name string, r *os.File) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4<<10), 1<<20) // grows with longer lines; most children write little
	for sc.Scan() {
		m.outMu.Lock()
		fmt.Fprintf(m.cfg.Output, "%s: %s\n", name, sc.Text())
		m.outMu.Unlock()
	}
}
