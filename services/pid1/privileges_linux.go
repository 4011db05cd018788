package pid1

// Privilege settings of a service's processes: AmbientCapabilities=,
// CapabilityBoundingSet= and NoNewPrivileges=.
//
// The bounding set and no_new_privs are attributes of a thread that a
// fork inherits, and dropping from the bounding set needs CAP_SETPCAP,
// which the child no longer has once it runs as User=. So the manager sets
// both on a thread of its own, locked to a goroutine that forks the child
// from it and then exits without unlocking, so the thread ends with it.
// Ambient capabilities are raised in the child after the switch to User=
// by Go's fork code (SysProcAttr.AmbientCaps, which keeps the permitted
// set across setuid and adds the capabilities to the inheritable set).

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/unit"
)

// privileges is what a command runs with: the bounding set (AllCaps:
// unchanged), the ambient set and no_new_privs.
type privileges struct {
	bounding   unit.CapSet
	ambient    unit.CapSet
	noNewPrivs bool
}

// commandPrivileges returns the privilege settings for command c of s: a
// "+" command runs with full privileges, as upstream does.
func commandPrivileges(s *unit.Service, c unit.ExecCommand) privileges {
	if c.Privileged {
		return privileges{bounding: unit.AllCaps}
	}
	return privileges{bounding: s.CapabilityBoundingSet, ambient: s.AmbientCapabilities, noNewPrivs: s.NoNewPrivileges}
}

// lastCap is the highest capability number the kernel knows.
func lastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// checkAmbient refuses ambient capabilities the child could not raise:
// unknown to the kernel, or missing from the manager's permitted or
// bounding set (a manager not running as root, or itself restricted).
func checkAmbient(set unit.CapSet) error {
	if set == 0 {
		return nil
	}
	last, err := lastCap()
	if err != nil {
		return fmt.Errorf("AmbientCapabilities=: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("AmbientCapabilities=: capget: %w", err)
	}
	for _, n := range set.Numbers() {
		name := unit.CapabilityName(n)
		if n > last {
			return fmt.Errorf("AmbientCapabilities=: %s is not supported by the kernel", name)
		}
		if data[n/32].Permitted&(1<<uint(n%32)) == 0 {
			return fmt.Errorf("AmbientCapabilities=: the manager does not hold %s", name)
		}
		if in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0); err != nil || in != 1 {
			return fmt.Errorf("AmbientCapabilities=: %s is not in the manager's bounding set", name)
		}
	}
	return nil
}

// restrictThread applies the bounding set and no_new_privs to the calling
// thread, which must be locked and never be used for anything else.
func restrictThread(p privileges) error {
	if p.bounding != unit.AllCaps {
		last, err := lastCap()
		if err != nil {
			return fmt.Errorf("CapabilityBoundingSet=: %w", err)
		}
		for n := 0; n <= last; n++ {
			if p.bounding.Has(n) {
				continue
			}
			in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0)
			if err != nil {
				return fmt.Errorf("CapabilityBoundingSet=: reading %s: %w", unit.CapabilityName(n), err)
			}
			if in == 0 {
				continue // not ours to begin with
			}
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0); err != nil {
				return fmt.Errorf("CapabilityBoundingSet=: dropping %s: %w", unit.CapabilityName(n), err)
			}
		}
	}
	if p.noNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("NoNewPrivileges=: %w", err)
		}
	}
	return nil
}

// forkExec starts path like syscall.ForkExec with the privilege settings
// p applied to the child; a setting that cannot be applied fails the start.
func forkExec(path string, argv []string, attr *syscall.ProcAttr, p privileges) (int, error) {
	if extra := p.ambient &^ p.bounding; extra != 0 {
		return 0, fmt.Errorf("AmbientCapabilities=: %s is not in CapabilityBoundingSet=", unit.CapabilityName(extra.Numbers()[0]))
	}
	if err := checkAmbient(p.ambient); err != nil {
		return 0, err
	}
	if p.ambient != 0 {
		for _, n := range p.ambient.Numbers() {
			attr.Sys.AmbientCaps = append(attr.Sys.AmbientCaps, uintptr(n))
		}
	}
	if p.bounding == unit.AllCaps && !p.noNewPrivs {
		return syscall.ForkExec(path, argv, attr)
	}
	type result struct {
		pid int
		err error
	}
	var r result
	onDisposableThread(func() {
		if err := restrictThread(p); err != nil {
			r.err = err
			return
		}
		r.pid, r.err = syscall.ForkExec(path, argv, attr)
	})
	return r.pid, r.err
}

// onDisposableThread runs f on a thread of its own that ends afterwards,
// so whatever f changes about its thread is never seen by other
// goroutines. The main thread is never used: Go cannot end it (it would
// only park it), and it is what /proc/PID/status shows of the process.
func onDisposableThread(f func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// While we hold the main thread, the next goroutine gets another.
			onDisposableThread(f)
			runtime.UnlockOSThread()
			close(done)
			return
		}
		f()
		close(done) // still locked: the thread ends with this goroutine
	}()
	<-done
}
