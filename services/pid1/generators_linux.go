package pid1

// Generators (systemd.generator(7)): before the units are loaded at start-up
// and on every daemon-reload, the manager empties the three output
// directories and runs every generator in parallel; what they write is part
// of the unit search path (lib/unit.DefaultDirs). A failing or hanging
// generator is logged and the boot goes on.

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stead-os/stead/lib/unit"
	"golang.org/x/sys/unix"
)

// GeneratorDirs are the directories generators are found in, most important
// first: a name in an earlier directory hides the same name in later ones.
var GeneratorDirs = []string{
	"/run/systemd/system-generators",
	"/etc/systemd/system-generators",
	"/usr/local/lib/systemd/system-generators",
	"/usr/lib/systemd/system-generators",
}

// GeneratorTimeout bounds one run of all generators together (upstream uses
// its default job timeout, 90 s); generators still running then are killed.
var GeneratorTimeout = 90 * time.Second

// generatorOutputMax is how much of a generator's output is kept for the log.
const generatorOutputMax = 4 << 10

// genExit is what the reaper hands a waiting generator run.
type genExit struct {
	exited bool // set by the reaper, under m.mu
	ch     chan unix.WaitStatus
}

// findGenerators returns the in-root paths of the generators to run, sorted
// by name. A symlink to /dev/null or an empty file masks the name; what is
// not an executable regular file is skipped.
func findGenerators(root string, dirs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		ents, err := os.ReadDir(filepath.Join(root, d))
		if err != nil {
			continue
		}
		for _, e := range ents {
			name := e.Name()
			if seen[name] || strings.HasPrefix(name, ".") {
				continue
			}
			seen[name] = true
			p := filepath.Join(root, d, name)
			if t, err := os.Readlink(p); err == nil && t == os.DevNull {
				continue
			}
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 || fi.Mode().Perm()&0o111 == 0 {
				continue
			}
			out = append(out, filepath.Join(d, name))
		}
	}
	sort.Slice(out, func(i, j int) bool { return filepath.Base(out[i]) < filepath.Base(out[j]) })
	return out
}

// generatorEnv is the environment generators run with: the manager's own
// (without what belongs to a service manager above it) and upstream's
// SYSTEMD_* variables.
func (m *Manager) generatorEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "NOTIFY_SOCKET", strings.HasPrefix(k, "LISTEN_"), strings.HasPrefix(k, "WATCHDOG_"),
			strings.HasPrefix(k, "SYSTEMD_") && k != "SYSTEMD_LOG_LEVEL":
			continue
		}
		env = append(env, kv)
	}
	initrd := "0"
	if _, err := os.Stat(m.hostPath("/etc/initrd-release")); err == nil {
		initrd = "1"
	}
	env = append(env, "SYSTEMD_SCOPE=system", "SYSTEMD_IN_INITRD="+initrd)
	if v := detectVirtualization(m.cfg.Root, m.cfg.PID1); v.id != "" {
		kind := "vm"
		if v.container {
			kind = "container"
		}
		env = append(env, "SYSTEMD_VIRTUALIZATION="+kind+":"+v.id)
	}
	if a := systemdArchitecture(runtime.GOARCH); a != "" {
		env = append(env, "SYSTEMD_ARCHITECTURE="+a)
	}
	return env
}

// systemdArchitecture maps GOARCH to upstream's architecture names
// (ConditionArchitecture=), "" when unknown.
func systemdArchitecture(goarch string) string {
	return map[string]string{
		"amd64": "x86-64", "386": "x86", "arm64": "arm64", "arm": "arm", "riscv64": "riscv64",
		"ppc64le": "ppc64-le", "ppc64": "ppc64", "s390x": "s390x", "loong64": "loongarch64",
		"mips64le": "mips64-le", "mipsle": "mips-le",
	}[goarch]
}

// runGenerators empties the generator output directories and runs every
// generator, in parallel, with their host paths as arguments, waiting up to
// GeneratorTimeout. Failures are logged, never returned: the boot goes on.
// It must be called without m.mu held.
func (m *Manager) runGenerators() {
	start := time.Now()
	out := []string{unit.GeneratorNormalDir, unit.GeneratorEarlyDir, unit.GeneratorLateDir}
	args := make([]string, len(out))
	for i, d := range out {
		args[i] = m.hostPath(d)
		if err := os.RemoveAll(args[i]); err != nil {
			m.log.Warn("cannot empty generator directory", "dir", args[i], "err", err)
		}
		if err := os.MkdirAll(args[i], 0o755); err != nil {
			m.log.Warn("cannot create generator directory", "dir", args[i], "err", err)
		}
	}
	gens := findGenerators(m.cfg.Root, GeneratorDirs)
	if len(gens) == 0 {
		return
	}
	env := m.generatorEnv()
	deadline := time.NewTimer(GeneratorTimeout)
	defer deadline.Stop()
	var wg sync.WaitGroup
	for _, g := range gens {
		pid, ex, output, err := m.startGenerator(m.hostPath(g), args, env)
		if err != nil {
			m.log.Warn("cannot run generator", "generator", g, "err", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.waitGenerator(g, pid, ex, output, deadline.C)
		}()
	}
	wg.Wait()
	m.log.Debug("generators finished", "count", len(gens), "took", time.Since(start).Round(time.Millisecond).String())
}

// startGenerator starts one generator in a process group of its own, with
// its stdout and stderr collected (up to generatorOutputMax bytes), and
// registers it with the reaper. The returned function gives the output once
// the generator has exited.
func (m *Manager) startGenerator(path string, args, env []string) (int, *genExit, func() string, error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, nil, nil, err
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return 0, nil, nil, err
	}
	argv := append([]string{path}, args...)
	attr := &syscall.ProcAttr{Dir: "/", Env: env, Files: []uintptr{devnull.Fd(), w.Fd(), w.Fd()},
		Sys: &syscall.SysProcAttr{Setpgid: true}}
	ex := &genExit{ch: make(chan unix.WaitStatus, 1)}
	m.mu.Lock() // the reaper cannot collect the child before it is registered
	pid, err := syscall.ForkExec(path, argv, attr)
	if err == nil {
		m.pids[pid] = &proc{pid: pid, gen: ex}
	}
	m.mu.Unlock()
	w.Close()
	if err != nil {
		r.Close()
		return 0, nil, nil, err
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&limitedWriter{&buf, generatorOutputMax}, r)
	}()
	output := func() string {
		select { // a background child may keep the pipe open: do not wait for it long
		case <-done:
		case <-time.After(time.Second):
		}
		r.Close()
		<-done
		return strings.TrimSpace(buf.String())
	}
	return pid, ex, output, nil
}

// waitGenerator waits for one generator, killing its process group at the
// deadline, and logs how it ended. It reaps itself when no reaper runs.
func (m *Manager) waitGenerator(g string, pid int, ex *genExit, output func() string, deadline <-chan time.Time) {
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	killed := false
	var ws unix.WaitStatus
wait:
	for {
		select {
		case ws = <-ex.ch:
			break wait
		case <-poll.C:
			m.reap() // harmless next to Run's reaper; needed without it (tests, ReloadUnits alone)
		case <-deadline:
			deadline = nil
			killed = true
			m.mu.Lock()
			if !ex.exited {
				_ = unix.Kill(-pid, unix.SIGKILL)
			}
			m.mu.Unlock()
		}
	}
	out := output()
	switch {
	case killed && ws.Signaled():
		m.log.Error("generator timed out and was killed", "generator", g, "timeout", GeneratorTimeout.String(), "output", out)
	case ws.Signaled():
		m.log.Error("generator killed by signal", "generator", g, "signal", ws.Signal().String(), "output", out)
	case ws.ExitStatus() != 0:
		m.log.Error("generator failed", "generator", g, "status", ws.ExitStatus(), "output", out)
	default:
		if out != "" {
			m.log.Debug("generator finished", "generator", g, "output", out)
		}
	}
}

// limitedWriter keeps the first n bytes and drops the rest (still reading,
// so the writer never blocks).
type limitedWriter struct {
	b *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// forgetIdleUnits drops the loaded units that have not done anything yet, so
// that they are read again, now with what the generators wrote: a unit
// loaded before the boot's generators ran (an early Varlink query loads it
// and, transitively, everything it names) would otherwise keep dependency
// lists without the generators' .wants/ links. m.mu not held.
func (m *Manager) forgetIdleUnits() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, us := range m.units {
		if us.job == nil && us.active == StateInactive && us.rt.inactiveExit.real == 0 {
			delete(m.units, name)
		}
	}
	m.loader.reset()
	m.unitsChanged()
}
