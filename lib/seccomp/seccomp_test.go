package seccomp

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

func TestExpandNestedGroups(t *testing.T) {
	priv, err := Expand("@privileged")
	if err != nil {
		t.Fatal(err)
	}
	// @privileged nests @chown, @clock, @module, @raw-io, @reboot, @swap.
	for _, want := range []string{"chown", "settimeofday", "init_module", "iopl", "reboot", "swapon", "setuid"} {
		if !slices.Contains(priv, want) {
			t.Errorf("@privileged lacks %s", want)
		}
	}
	def, _ := Expand("@default")
	// @default nests @sandbox (seccomp, landlock_*).
	for _, want := range []string{"execve", "exit_group", "futex", "seccomp"} {
		if !slices.Contains(def, want) {
			t.Errorf("@default lacks %s", want)
		}
	}
	if _, err := Expand("@nope"); err == nil {
		t.Error("unknown group accepted")
	}
	if _, err := Expand("not_a_syscall"); err == nil {
		t.Error("unknown system call accepted")
	}
	if got, err := Expand("uname"); err != nil || !slices.Equal(got, []string{"uname"}) {
		t.Errorf("Expand(uname) = %v, %v", got, err)
	}
	for _, g := range GroupNames() {
		if ms, err := Expand(g); err != nil || len(ms) == 0 {
			t.Errorf("%s: %v members, %v", g, len(ms), err)
		}
	}
}

// run evaluates the filter for one call as the kernel would.
func run(t *testing.T, f *Filter, audit arch.AuditArch, nr int, args ...uint64) uint32 {
	t.Helper()
	ins, err := f.Program()
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]bpf.RawInstruction, len(ins))
	for i, in := range ins {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	prog, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("program does not disassemble")
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 64)
	// The VM loads big-endian words: store them so that it reads the
	// numbers the kernel would.
	binary.BigEndian.PutUint32(data[0:], uint32(nr))
	binary.BigEndian.PutUint32(data[4:], uint32(audit))
	for i, a := range args {
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))
	}
	r, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(r)
}

func TestFilterProgram(t *testing.T) {
	nr := func(a *arch.Info, name string) int { return a.SyscallNames[name] }
	f := &Filter{Arches: []string{"x86-64", "x86"}, BadArch: Kill, Default: Allow}
	f.Rules = append(f.Rules, Rule{Syscall: "uname", Action: Kill}, Rule{Syscall: "chown", Action: Errno(unix.EACCES)})
	f.Rules = append(f.Rules, AddressFamilies(true, []int{unix.AF_UNIX})...)
	f.Rules = append(f.Rules, MemoryDenyWriteExecute()...)
	const (
		allow = unix.SECCOMP_RET_ALLOW
		kill  = unix.SECCOMP_RET_KILL_PROCESS
	)
	x64, x86 := arch.X86_64, arch.I386
	cases := []struct {
		name  string
		audit arch.AuditArch
		nr    int
		args  []uint64
		want  uint32
	}{
		{"uname killed", x64.ID, nr(x64, "uname"), nil, kill},
		{"uname killed on x86 too", x86.ID, nr(x86, "uname"), nil, kill},
		{"getpid allowed", x64.ID, nr(x64, "getpid"), nil, allow},
		{"chown errno", x64.ID, nr(x64, "chown"), nil, unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES)},
		{"AF_UNIX allowed", x64.ID, nr(x64, "socket"), []uint64{unix.AF_UNIX}, allow},
		{"AF_INET refused", x64.ID, nr(x64, "socket"), []uint64{unix.AF_INET}, unix.SECCOMP_RET_ERRNO | uint32(unix.EAFNOSUPPORT)},
		{"mmap rw", x64.ID, nr(x64, "mmap"), []uint64{0, 4096, unix.PROT_READ | unix.PROT_WRITE}, allow},
		{"mmap wx", x64.ID, nr(x64, "mmap"), []uint64{0, 4096, unix.PROT_WRITE | unix.PROT_EXEC}, unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{"mprotect x", x64.ID, nr(x64, "mprotect"), []uint64{0, 4096, unix.PROT_EXEC}, unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{"x32 not listed", x64.ID, nr(x64, "getpid") | x32Bit, nil, kill},
		{"foreign architecture", arch.AARCH64.ID, 1, nil, kill},
	}
	for _, c := range cases {
		if got := run(t, f, c.audit, c.nr, c.args...); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
}

func TestFilterAllowList(t *testing.T) {
	names, _ := Expand("@default")
	f := &Filter{Arches: []string{"x86-64", "x32"}, BadArch: Kill, Default: Kill}
	for _, n := range names {
		f.Rules = append(f.Rules, Rule{Syscall: n, Action: Allow})
	}
	x64 := arch.X86_64
	if got := run(t, f, x64.ID, x64.SyscallNames["execve"]); got != unix.SECCOMP_RET_ALLOW {
		t.Errorf("execve: %#x", got)
	}
	if got := run(t, f, x64.ID, x64.SyscallNames["uname"]); got != unix.SECCOMP_RET_KILL_PROCESS {
		t.Errorf("uname: %#x", got)
	}
	if got := run(t, f, x64.ID, arch.X32.SyscallNames["getpid"]|x32Bit); got != unix.SECCOMP_RET_ALLOW {
		t.Errorf("x32 getpid: %#x", got)
	}
}

func TestRestrictNamespaces(t *testing.T) {
	f := &Filter{Arches: []string{"x86-64"}, BadArch: Kill, Default: Allow, Rules: RestrictNamespaces(unix.CLONE_NEWNS)}
	x64 := arch.X86_64
	if got := run(t, f, x64.ID, x64.SyscallNames["unshare"], unix.CLONE_NEWNS); got != unix.SECCOMP_RET_ALLOW {
		t.Errorf("unshare(mnt): %#x", got)
	}
	if got := run(t, f, x64.ID, x64.SyscallNames["unshare"], unix.CLONE_NEWNET); got != unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM) {
		t.Errorf("unshare(net): %#x", got)
	}
	if got := run(t, f, x64.ID, x64.SyscallNames["clone3"]); got != unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS) {
		t.Errorf("clone3: %#x", got)
	}
}
