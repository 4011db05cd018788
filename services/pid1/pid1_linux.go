package pid1

// PID 1 mode: what init does when the kernel starts it as the system's first
// process — the API filesystems, the kernel command line, the shutdown
// signals, and the final kill/sync/unmount/reboot. The Manager itself is the
// same as in host mode; its reaper (wait4(-1)) already reaps every process,
// and as PID 1 that includes every orphan re-parented to us.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Shutdown actions, as systemd names its targets.
const (
	ActionPoweroff = "poweroff"
	ActionReboot   = "reboot"
	ActionHalt     = "halt"
	// Not shutdowns, but they end the manager the same way (reexec_linux.go, kexec_linux.go).
	ActionSoftReboot = "soft-reboot"
	ActionKexec      = "kexec"
)

// Real-time signals systemd (PID 1) understands; Linux's SIGRTMIN is 32, the
// C library's (and systemd's) SIGRTMIN is 34.
const sigRTMIN = 34

var (
	SigHalt     = syscall.Signal(sigRTMIN + 3)
	SigPoweroff = syscall.Signal(sigRTMIN + 4)
	SigReboot   = syscall.Signal(sigRTMIN + 5)
)

type apiMount struct {
	fstype, target, opts string
	flags                uintptr
	mode                 os.FileMode
}

var apiMounts = []apiMount{
	{"proc", "/proc", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, 0o555},
	{"sysfs", "/sys", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, 0o555},
	{"devtmpfs", "/dev", "mode=0755", unix.MS_NOSUID, 0o755},
	{"devpts", "/dev/pts", "gid=5,mode=620,ptmxmode=000", unix.MS_NOSUID | unix.MS_NOEXEC, 0o755},
	{"tmpfs", "/dev/shm", "mode=1777", unix.MS_NOSUID | unix.MS_NODEV, 0o1777},
	{"tmpfs", "/run", "mode=0755", unix.MS_NOSUID | unix.MS_NODEV, 0o755},
	{"cgroup2", "/sys/fs/cgroup", "nsdelegate", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, 0o555},
}

// mountPoints returns the mount points in /proc/self/mounts (empty before
// /proc is mounted).
func mountPoints() map[string]bool {
	mp := map[string]bool{}
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return mp
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) >= 2 {
			mp[unescapeMount(fs[1])] = true
		}
	}
	return mp
}

// unescapeMount undoes the octal escapes (\040 etc.) of /proc/self/mounts.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MountAPI mounts the API filesystems (/proc, /sys, /dev, /dev/pts, /dev/shm,
// /run, /sys/fs/cgroup), skipping those already mounted — an initramfs
// wrapper may have done it. Errors are collected; the caller logs them and
// carries on, as a half-mounted system is better than none.
func MountAPI() error {
	var errs []error
	for _, am := range apiMounts {
		mp := mountPoints()
		if mp[am.target] {
			continue
		}
		if am.target == "/proc" {
			if _, err := os.Stat("/proc/self/mounts"); err == nil {
				continue
			}
		}
		if err := os.MkdirAll(am.target, am.mode); err != nil {
			errs = append(errs, err)
			continue
		}
		err := unix.Mount(am.fstype, am.target, am.fstype, am.flags, am.opts)
		if err == unix.EBUSY {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("mount %s on %s: %w", am.fstype, am.target, err))
		}
	}
	return errors.Join(errs...)
}

// KernelCmdline reads /proc/cmdline into key → value (a bare word maps to "").
func KernelCmdline() map[string]string {
	b, _ := os.ReadFile("/proc/cmdline")
	kv := map[string]string{}
	for _, w := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(w, "=")
		kv[k] = v
	}
	return kv
}

// Uptime returns the kernel's uptime (CLOCK_BOOTTIME).
func Uptime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// ShutdownSignals returns a context ended by the first shutdown request, and
// a function reporting which action it asked for: SIGRTMIN+4 → poweroff
// (SIGTERM re-executes, as upstream's PID 1: ReexecOnSIGTERM), SIGRTMIN+5 or SIGINT (Ctrl-Alt-Del, once reboot(CAD_OFF) made the
// kernel send it) → reboot, SIGRTMIN+3 → halt. Request, if called, asks for
// an action from inside the process (e.g. from a Varlink method).
func ShutdownSignals(parent context.Context) (ctx context.Context, action func() string, request func(string)) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT, SigHalt, SigPoweroff, SigReboot)
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	got := make(chan string, 1)
	request = func(a string) {
		select {
		case got <- a:
			cancel()
		default:
		}
	}
	go func() {
		for s := range ch {
			switch s {
			case SigPoweroff:
				request(ActionPoweroff)
			case SigReboot, syscall.SIGINT:
				request(ActionReboot)
			case SigHalt:
				request(ActionHalt)
			}
		}
	}()
	action = func() string {
		select {
		case a := <-got:
			got <- a
			return a
		default:
			return ActionPoweroff
		}
	}
	return ctx, action, request
}

// Finish is PID 1's last step after every unit was stopped: SIGTERM to every
// remaining process, SIGKILL to the stragglers after grace, reap them, sync,
// unmount (deepest first; failures are only logged — what stays busy is
// remounted read-only), sync again, then reboot(2) with action. It returns
// only if reboot failed.
func Finish(log *slog.Logger, action string, grace time.Duration) error {
	KillRemaining(log, grace)
	unix.Sync()
	unmountAll(log)
	unix.Sync()
	cmd := map[string]int{ActionPoweroff: unix.LINUX_REBOOT_CMD_POWER_OFF, ActionReboot: unix.LINUX_REBOOT_CMD_RESTART,
		ActionHalt: unix.LINUX_REBOOT_CMD_HALT, ActionKexec: unix.LINUX_REBOOT_CMD_KEXEC}[action]
	if cmd == 0 {
		cmd = unix.LINUX_REBOOT_CMD_POWER_OFF
	}
	log.Info("system "+action, "uptime", Uptime().Round(time.Millisecond).String())
	return unix.Reboot(cmd)
}

// KillRemaining sends SIGTERM to every process but us (and kernel threads), SIGKILL to the
// stragglers after grace, and reaps them.
func KillRemaining(log *slog.Logger, grace time.Duration) {
	if remaining() > 0 {
		log.Info("sending SIGTERM to remaining processes", "n", remaining())
		_ = unix.Kill(-1, unix.SIGTERM)
		_ = unix.Kill(-1, unix.SIGCONT)
		waitGone(grace)
		if n := remaining(); n > 0 {
			log.Warn("sending SIGKILL to remaining processes", "n", n)
			_ = unix.Kill(-1, unix.SIGKILL)
			waitGone(2 * time.Second)
		}
	}
	reapAll()
}

// remaining counts the processes other than us and kernel threads (pid 2,
// kthreadd, and its children); zombies not yet reaped count too.
func remaining() int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || pid == 2 {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 2 && f[1] == "2" {
			continue
		}
		n++
	}
	return n
}

// waitGone reaps until no process remains or d passed.
func waitGone(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		reapAll()
		if remaining() == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}

// unmountAll unmounts everything but / and the API filesystems the kernel
// needs until the end, deepest first; what cannot be unmounted is remounted
// read-only.
func unmountAll(log *slog.Logger) {
	var mps []string
	for p := range mountPoints() {
		switch p {
		case "/", "/proc", "/sys", "/dev":
			continue
		}
		mps = append(mps, p)
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	for _, p := range mps {
		if err := unix.Unmount(p, 0); err != nil {
			if err2 := unix.Mount("", p, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err2 != nil {
				log.Debug("cannot unmount", "path", p, "err", err)
			}
		}
	}
}

// Emergency is the last resort of PID 1: it reports why, then replaces itself
// with /bin/sh on the console (PID 1 must never exit: the kernel would
// panic). If no shell can be executed it sleeps forever.
func Emergency(reason string) {
	fmt.Fprintf(os.Stderr, "init: emergency: %s\ninit: starting emergency shell /bin/sh\n", reason)
	signal.Reset()
	if fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0); err == nil {
		for i := 0; i < 3; i++ {
			_ = unix.Dup2(fd, i)
		}
		if fd > 2 {
			unix.Close(fd)
		}
	}
	for _, sh := range []string{"/bin/sh", "/usr/bin/sh", "/bin/busybox"} {
		argv := []string{"sh", "-i"}
		if strings.HasSuffix(sh, "busybox") {
			argv = []string{"busybox", "sh", "-i"}
		}
		_ = syscall.Exec(sh, argv, []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=linux", "HOME=/"})
	}
	fmt.Fprintln(os.Stderr, "init: no shell; halting here")
	for {
		time.Sleep(time.Hour)
	}
}

// WaitActive waits until unit name is active (true) or has failed or ctx
// ended (false).
func (m *Manager) WaitActive(ctx context.Context, name string) bool {
	for {
		ch := m.Changed()
		st, err := m.Status(name)
		if err != nil {
			return false
		}
		switch {
		case st.ActiveState == StateActive && st.Job == "":
			return true
		case st.ActiveState == StateFailed:
			return false
		}
		select {
		case <-ch:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return false
		}
	}
}
