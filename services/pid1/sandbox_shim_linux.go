package pid1

// The child's half of the sandbox: `init --exec-shim --sandbox-fd=N PATH
// ARGV0 …` reads the sandboxSpec from fd N and applies it on its main
// thread, which then executes the service. Credentials, capabilities,
// no_new_privs and seccomp filters are attributes of a thread: they are
// set on this (locked) thread only, with raw system calls, and execve(2)
// carries them over to the service, whose process is this thread alone.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/seccomp"
	"github.com/stead-os/stead/lib/unit"
)

// Upstream's exit statuses for a setting that could not be applied.
const (
	exitExec         = 203
	exitNice         = 201
	exitLimits       = 205
	exitOOMAdjust    = 206
	exitIOPrio       = 211
	exitSecureBits   = 213
	exitSetScheduler = 214
	exitGroup        = 216
	exitUser         = 217
	exitCapabilities = 218
	exitNetwork      = 225
	exitNamespace    = 226
	exitNoNewPrivs   = 227
	exitSeccomp      = 228
)

// ShimError is a failure of the exec shim with the exit status that
// names its kind, as upstream's executor exits.
type ShimError struct {
	Status int
	Err    error
}

func (e *ShimError) Error() string { return e.Err.Error() }
func (e *ShimError) Unwrap() error { return e.Err }

// ShimExitStatus is the exit status for a failure of ExecShim.
func ShimExitStatus(err error) int {
	var se *ShimError
	if errors.As(err, &se) {
		return se.Status
	}
	return exitExec
}

func shimErr(status int, format string, args ...any) error {
	return &ShimError{Status: status, Err: fmt.Errorf(format, args...)}
}

// applySandbox reads the spec from fd and applies all of it but the
// seccomp filters, which the returned function loads right before the
// exec (so that nothing of the shim itself runs under them).
func applySandbox(fdArg string) (func() error, error) {
	fd, err := strconv.Atoi(fdArg)
	if err != nil || fd < 3 {
		return nil, shimErr(exitExec, "bad --sandbox-fd %q", fdArg)
	}
	f := os.NewFile(uintptr(fd), "sandbox")
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<24))
	f.Close()
	if err != nil {
		return nil, shimErr(exitExec, "reading the sandbox settings: %w", err)
	}
	var sp sandboxSpec
	if err := json.Unmarshal(data, &sp); err != nil {
		return nil, shimErr(exitExec, "sandbox settings: %w", err)
	}
	if err := applyProcessAttrs(&sp); err != nil {
		return nil, err
	}
	if len(sp.Mounts) > 0 {
		if err := applyMounts(sp.Mounts); err != nil {
			return nil, &ShimError{Status: exitNamespace, Err: err}
		}
	}
	if sp.Loopback {
		if err := loopbackUp(); err != nil {
			return nil, shimErr(exitNetwork, "PrivateNetwork=: bringing up lo: %w", err)
		}
	}
	if err := applyIdentity(&sp); err != nil {
		return nil, err
	}
	return func() error {
		for i := range sp.Filters {
			if err := seccomp.Load(&sp.Filters[i]); err != nil {
				return shimErr(exitSeccomp, "SystemCallFilter= and related settings: %w", err)
			}
		}
		return nil
	}, nil
}

// applyProcessAttrs sets the resource limits, umask, nice level, OOM
// score adjustment and scheduling.
func applyProcessAttrs(sp *sandboxSpec) error {
	for _, l := range sp.Limits {
		// syscall.Setrlimit, not x/sys: for RLIMIT_NOFILE it also stops Go
		// from restoring its start-up soft limit at exec.
		if err := syscall.Setrlimit(l.Resource, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return shimErr(exitLimits, "Limit%s=: %w", l.Name, err)
		}
	}
	unix.Umask(int(sp.UMask))
	if sp.Nice != nil {
		if err := unix.Setpriority(unix.PRIO_PROCESS, 0, *sp.Nice); err != nil {
			return shimErr(exitNice, "Nice=: %w", err)
		}
	}
	if sp.OOMScoreAdjust != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*sp.OOMScoreAdjust)), 0); err != nil {
			return shimErr(exitOOMAdjust, "OOMScoreAdjust=: %w", err)
		}
	}
	if sp.IOClass != 0 || sp.IOPriority != nil {
		class, prio := sp.IOClass, 4
		if class == 0 {
			class = 2 // best-effort, as upstream when only a priority is set
		}
		if sp.IOPriority != nil {
			prio = *sp.IOPriority
		}
		const ioprioWhoProcess, ioprioClassShift = 1, 13
		if _, _, e := unix.RawSyscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(class<<ioprioClassShift|prio)); e != 0 {
			return shimErr(exitIOPrio, "IOSchedulingClass=/IOSchedulingPriority=: %w", e)
		}
	}
	if sp.CPUPolicy != nil || sp.CPUResetOnFork || sp.CPUPriority != nil {
		policy := unix.SCHED_NORMAL
		if sp.CPUPolicy != nil {
			policy = *sp.CPUPolicy
		} else if cur, _, e := unix.RawSyscall(unix.SYS_SCHED_GETSCHEDULER, 0, 0, 0); e == 0 {
			policy = int(cur)
		}
		prio := 0
		if sp.CPUPriority != nil && (policy == unix.SCHED_FIFO || policy == unix.SCHED_RR) {
			prio = *sp.CPUPriority
		}
		if sp.CPUResetOnFork {
			policy |= unix.SCHED_RESET_ON_FORK
		}
		param := struct{ prio int32 }{int32(prio)}
		if _, _, e := unix.RawSyscall(unix.SYS_SCHED_SETSCHEDULER, 0, uintptr(policy), uintptr(unsafe.Pointer(&param))); e != 0 {
			return shimErr(exitSetScheduler, "CPUSchedulingPolicy=: %w", e)
		}
	}
	return nil
}

// loopbackUp brings up lo in a fresh network namespace.
func loopbackUp() error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr)
}

// applyIdentity switches this thread to the service's user and
// privileges: groups, gid, uid (keeping the permitted capabilities across
// the switch), then the bounding set, ambient set, secure bits and
// no_new_privs. The capabilities left in the effective set let the
// seccomp filters load without no_new_privs; execve(2) then reduces them
// to what the service gets (the ambient set for a user other than root).
func applyIdentity(sp *sandboxSpec) error {
	if c := sp.Cred; c != nil {
		if err := prctl(unix.PR_SET_KEEPCAPS, 1); err != nil {
			return shimErr(exitUser, "keeping capabilities: %w", err)
		}
		groups := make([]uint32, len(c.Groups))
		copy(groups, c.Groups)
		var gp uintptr
		if len(groups) > 0 {
			gp = uintptr(unsafe.Pointer(&groups[0]))
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), gp, 0); e != 0 && !c.NoSetGroups {
			return shimErr(exitGroup, "setgroups: %w", e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(c.Gid), uintptr(c.Gid), uintptr(c.Gid)); e != 0 {
			return shimErr(exitGroup, "setresgid(%d): %w", c.Gid, e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(c.Uid), uintptr(c.Uid), uintptr(c.Uid)); e != 0 {
			return shimErr(exitUser, "setresuid(%d): %w", c.Uid, e)
		}
		if err := prctl(unix.PR_SET_KEEPCAPS, 0); err != nil {
			return shimErr(exitUser, "keeping capabilities: %w", err)
		}
	}
	// Effective = permitted (lost with the uid switch); inheritable =
	// the ambient set, which the kernel requires before raising it.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return shimErr(exitCapabilities, "capget: %w", err)
	}
	for i := range data {
		data[i].Effective = data[i].Permitted
		data[i].Inheritable = uint32(uint64(sp.Ambient) >> (32 * uint(i)))
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return shimErr(exitCapabilities, "capset: %w", err)
	}
	if sp.Bounding != unit.AllCaps {
		last, err := lastCap()
		if err != nil {
			return shimErr(exitCapabilities, "CapabilityBoundingSet=: %w", err)
		}
		for n := 0; n <= last; n++ {
			if sp.Bounding.Has(n) {
				continue
			}
			if in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0); err == nil && in == 0 {
				continue
			}
			if err := prctl(unix.PR_CAPBSET_DROP, uintptr(n)); err != nil {
				return shimErr(exitCapabilities, "CapabilityBoundingSet=: dropping %s: %w", unit.CapabilityName(n), err)
			}
		}
	}
	for _, n := range sp.Ambient.Numbers() {
		if err := prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(n)); err != nil {
			return shimErr(exitCapabilities, "AmbientCapabilities=: raising %s: %w", unit.CapabilityName(n), err)
		}
	}
	if sp.SecureBits != nil {
		if err := prctl(unix.PR_SET_SECUREBITS, uintptr(*sp.SecureBits)); err != nil {
			return shimErr(exitSecureBits, "SecureBits=: %w", err)
		}
	}
	if sp.NoNewPrivs {
		if err := prctl(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
			return shimErr(exitNoNewPrivs, "NoNewPrivileges=: %w", err)
		}
	}
	return nil
}

// prctl is prctl(2) on the calling thread.
func prctl(option int, args ...uintptr) error {
	var a [4]uintptr
	copy(a[:], args)
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, uintptr(option), a[0], a[1], a[2], a[3], 0); e != 0 {
		return e
	}
	return nil
}
