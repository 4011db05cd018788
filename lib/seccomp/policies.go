package seccomp

// The argument filters behind the Restrict*= and friends settings, after
// upstream's choices of system calls, arguments and errors
// (systemd.exec(5)).

import "golang.org/x/sys/unix"

// AddressFamilies restricts socket(2)'s domain: with allow, only the
// families listed pass; otherwise those listed fail. Refused calls fail
// with EAFNOSUPPORT, as upstream.
func AddressFamilies(allow bool, families []int) []Rule {
	deny := Errno(unix.EAFNOSUPPORT)
	if allow {
		// One rule: socket() whose domain is none of the listed ones.
		var conds []Cond
		for _, f := range families {
			conds = append(conds, Cond{Arg: 0, Mask: ^uint32(0), Value: uint32(f), Not: true})
		}
		return []Rule{{Syscall: "socket", Conds: conds, Action: deny}}
	}
	var out []Rule
	for _, f := range families {
		out = append(out, Rule{Syscall: "socket", Conds: []Cond{{Arg: 0, Mask: ^uint32(0), Value: uint32(f)}}, Action: deny})
	}
	return out
}

// MemoryDenyWriteExecute refuses mappings both writable and executable
// and making memory executable afterwards (EPERM).
func MemoryDenyWriteExecute() []Rule {
	eperm := Errno(unix.EPERM)
	wx := uint32(unix.PROT_WRITE | unix.PROT_EXEC)
	x := uint32(unix.PROT_EXEC)
	return []Rule{
		{Syscall: "mmap", Conds: []Cond{{Arg: 2, Mask: wx, Value: wx}}, Action: eperm},
		{Syscall: "mmap2", Conds: []Cond{{Arg: 2, Mask: wx, Value: wx}}, Action: eperm},
		{Syscall: "mprotect", Conds: []Cond{{Arg: 2, Mask: x, Value: x}}, Action: eperm},
		{Syscall: "pkey_mprotect", Conds: []Cond{{Arg: 2, Mask: x, Value: x}}, Action: eperm},
		{Syscall: "shmat", Conds: []Cond{{Arg: 2, Mask: shmExec, Value: shmExec}}, Action: eperm},
	}
}

// LockPersonality allows personality(2) only to query, or to set the
// default Linux personality (EPERM otherwise).
func LockPersonality() []Rule {
	return []Rule{{Syscall: "personality", Conds: []Cond{
		{Arg: 0, Mask: ^uint32(0), Value: 0, Not: true},          // PER_LINUX
		{Arg: 0, Mask: ^uint32(0), Value: 0xffffffff, Not: true}, // query
	}, Action: Errno(unix.EPERM)}}
}

// RestrictRealtime refuses the real-time scheduling policies (FIFO, RR,
// DEADLINE) through sched_setscheduler(2) (EPERM); sched_setattr(2),
// whose policy sits in memory a filter cannot read, is refused whole.
func RestrictRealtime() []Rule {
	eperm := Errno(unix.EPERM)
	var out []Rule
	for _, pol := range []uint32{unix.SCHED_FIFO, unix.SCHED_RR, unix.SCHED_DEADLINE} {
		out = append(out, Rule{Syscall: "sched_setscheduler",
			Conds: []Cond{{Arg: 1, Mask: ^uint32(unix.SCHED_RESET_ON_FORK), Value: pol}}, Action: eperm})
	}
	return append(out, Rule{Syscall: "sched_setattr", Action: eperm})
}

// RestrictSUIDSGID refuses to create or chmod files set-user-ID, or
// set-group-ID with group execute (EPERM).
func RestrictSUIDSGID() []Rule {
	eperm := Errno(unix.EPERM)
	sgid := uint32(unix.S_ISGID | unix.S_IXGRP)
	var out []Rule
	add := func(call string, modeArg int, pre ...Cond) {
		out = append(out,
			Rule{Syscall: call, Conds: append(append([]Cond{}, pre...), Cond{Arg: modeArg, Mask: unix.S_ISUID, Value: unix.S_ISUID}), Action: eperm},
			Rule{Syscall: call, Conds: append(append([]Cond{}, pre...), Cond{Arg: modeArg, Mask: sgid, Value: sgid}), Action: eperm})
	}
	add("chmod", 1)
	add("fchmod", 1)
	add("fchmodat", 2)
	add("fchmodat2", 2)
	add("mkdir", 1)
	add("mkdirat", 2)
	add("mknod", 1)
	add("mknodat", 2)
	add("creat", 1)
	add("open", 2, Cond{Arg: 1, Mask: unix.O_CREAT, Value: unix.O_CREAT})
	add("openat", 3, Cond{Arg: 2, Mask: unix.O_CREAT, Value: unix.O_CREAT})
	return out
}

// NamespaceFlags are the CLONE_NEW* flags RestrictNamespaces= knows, by
// upstream's names.
var NamespaceFlags = map[string]uint32{
	"cgroup": unix.CLONE_NEWCGROUP, "ipc": unix.CLONE_NEWIPC, "net": unix.CLONE_NEWNET,
	"mnt": unix.CLONE_NEWNS, "pid": unix.CLONE_NEWPID, "user": unix.CLONE_NEWUSER,
	"uts": unix.CLONE_NEWUTS, "time": unix.CLONE_NEWTIME,
}

// RestrictNamespaces refuses to create or join namespaces of the kinds not
// in allowed (a set of CLONE_NEW* flags): unshare(2), clone(2) and
// setns(2) with such a flag fail with EPERM; clone3(2), whose flags a
// filter cannot read, fails with ENOSYS so callers fall back to clone(2).
func RestrictNamespaces(allowed uint32) []Rule {
	eperm := Errno(unix.EPERM)
	var out []Rule
	all := uint32(0)
	for _, f := range NamespaceFlags {
		all |= f
	}
	for _, f := range NamespaceFlags {
		if allowed&f != 0 {
			continue
		}
		for _, call := range []string{"unshare", "clone"} {
			out = append(out, Rule{Syscall: call, Conds: []Cond{{Arg: 0, Mask: f, Value: f}}, Action: eperm})
		}
		out = append(out, Rule{Syscall: "setns", Conds: []Cond{{Arg: 1, Mask: f, Value: f}}, Action: eperm})
	}
	if allowed&all != all {
		// setns(fd, 0) joins whatever fd is: allowed only when every kind is.
		out = append(out, Rule{Syscall: "setns", Conds: []Cond{{Arg: 1, Mask: ^uint32(0), Value: 0}}, Action: eperm},
			Rule{Syscall: "clone3", Action: Errno(unix.ENOSYS)})
	}
	return out
}

// shmExec is SHM_EXEC (linux/shm.h), which x/sys does not define.
const shmExec = 0o100000
