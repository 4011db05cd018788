package seccomp

import (
	"fmt"
	"unsafe"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// Action is what a filter does with a system call.
type Action struct {
	Kind  string `json:"kind"`            // "allow", "kill" (the whole process, SIGSYS), "errno", "log", "trap"
	Errno int    `json:"errno,omitempty"` // for "errno"
}

// The actions filters use.
var (
	Allow = Action{Kind: "allow"}
	Kill  = Action{Kind: "kill"}
	Log   = Action{Kind: "log"}
)

// Errno is the action that fails a call with errno e.
func Errno(e unix.Errno) Action { return Action{Kind: "errno", Errno: int(e)} }

// ret is the filter's return value for a.
func (a Action) ret() (uint32, error) {
	switch a.Kind {
	case "allow":
		return unix.SECCOMP_RET_ALLOW, nil
	case "kill":
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case "errno":
		if a.Errno < 0 || a.Errno > 4095 {
			return 0, fmt.Errorf("errno %d out of range", a.Errno)
		}
		return unix.SECCOMP_RET_ERRNO | uint32(a.Errno), nil
	case "log":
		return unix.SECCOMP_RET_LOG, nil
	case "trap":
		return unix.SECCOMP_RET_TRAP, nil
	}
	return 0, fmt.Errorf("unknown action %q", a.Kind)
}

// Cond tests the low 32 bits of argument Arg: (arg & Mask) == Value, or
// != with Not. Only the low half is tested: the arguments filtered here
// are ints or flag words the kernel truncates to 32 bits.
type Cond struct {
	Arg   int    `json:"arg"`
	Mask  uint32 `json:"mask"`
	Value uint32 `json:"value"`
	Not   bool   `json:"not,omitempty"`
}

// Rule applies Action to a system call when all its conditions hold.
type Rule struct {
	Syscall string `json:"syscall"`
	Conds   []Cond `json:"conds,omitempty"`
	Action  Action `json:"action"`
}

// Filter is one seccomp filter: the first matching rule decides, else
// Default; a call of an architecture outside Arches gets BadArch.
type Filter struct {
	Arches  []string `json:"arches"`
	BadArch Action   `json:"badArch"`
	Default Action   `json:"default"`
	Rules   []Rule   `json:"rules"`
}

// BPF instruction codes (linux/bpf_common.h).
const (
	ldAbsW = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	jeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	ja     = unix.BPF_JMP | unix.BPF_JA
	retK   = unix.BPF_RET | unix.BPF_K
	andK   = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
)

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16 // 8 bytes each; the low half first on little-endian machines
)

// x32Bit marks an x32 system call number.
const x32Bit = 0x40000000

// program is a BPF program under construction whose unconditional jumps
// name a label, resolved by assemble.
type program struct {
	ins    []unix.SockFilter
	labels map[int]int // label → instruction index
	jumps  map[int]int // instruction index → label
}

func (p *program) emit(code uint16, jt, jf uint8, k uint32) {
	p.ins = append(p.ins, unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k})
}

func (p *program) jump(label int) {
	p.jumps[len(p.ins)] = label
	p.emit(ja, 0, 0, 0)
}

func (p *program) label(label int) { p.labels[label] = len(p.ins) }

func (p *program) assemble() ([]unix.SockFilter, error) {
	for at, l := range p.jumps {
		to, ok := p.labels[l]
		if !ok || to <= at {
			return nil, fmt.Errorf("internal error: bad jump to label %d", l)
		}
		p.ins[at].K = uint32(to - at - 1)
	}
	if len(p.ins) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("filter has %d instructions, more than the kernel's %d", len(p.ins), unix.BPF_MAXINSNS)
	}
	return p.ins, nil
}

// archSpec is one architecture the filter covers.
type archSpec struct {
	name  string
	info  *arch.Info
	audit uint32
}

// Program compiles f into BPF.
func (f *Filter) Program() ([]unix.SockFilter, error) {
	badArch, err := f.BadArch.ret()
	if err != nil {
		return nil, err
	}
	def, err := f.Default.ret()
	if err != nil {
		return nil, err
	}
	var specs []archSpec
	has := map[string]bool{}
	for _, a := range f.Arches {
		if a == "native" {
			a = Native()
		}
		info, ok := archByName[a]
		if !ok {
			return nil, fmt.Errorf("unknown architecture %q", a)
		}
		if has[a] {
			continue
		}
		has[a] = true
		specs = append(specs, archSpec{name: a, info: info, audit: uint32(info.ID)})
	}
	p := &program{labels: map[int]int{}, jumps: map[int]int{}}
	// Labels: 0..len(specs)-1 start each architecture's rules; the
	// dispatcher of audit architecture k is len(specs)+k.
	// Dispatch on the architecture. x86-64 and x32 share an audit
	// architecture and differ by the x32 bit of the call number.
	p.emit(ldAbsW, 0, 0, offArch)
	audits := map[uint32][]int{} // audit arch → spec indexes
	var order []uint32
	for i, s := range specs {
		if _, ok := audits[s.audit]; !ok {
			order = append(order, s.audit)
		}
		audits[s.audit] = append(audits[s.audit], i)
	}
	for k, au := range order {
		p.emit(jeqK, 0, 1, au)
		p.jump(len(specs) + k)
	}
	p.emit(retK, 0, 0, badArch)
	for k, au := range order {
		p.label(len(specs) + k)
		if au != uint32(arch.X86_64.ID) {
			p.jump(audits[au][0])
			continue
		}
		x32, x64 := -1, -1
		for _, i := range audits[au] {
			if specs[i].name == "x32" {
				x32 = i
			} else {
				x64 = i
			}
		}
		// nr >= x32Bit: an x32 call.
		p.emit(ldAbsW, 0, 0, offNr)
		p.emit(jgeK, 0, 1, x32Bit)
		if x32 >= 0 {
			p.jump(x32)
		} else {
			p.emit(retK, 0, 0, badArch)
		}
		if x64 >= 0 {
			p.jump(x64)
		} else {
			p.emit(retK, 0, 0, badArch)
		}
	}
	for i, s := range specs {
		p.label(i)
		for _, r := range f.Rules {
			nr, ok := s.info.SyscallNames[r.Syscall]
			if !ok {
				continue // not a call of this architecture
			}
			if s.name == "x32" {
				nr |= x32Bit
			}
			action, err := r.Action.ret()
			if err != nil {
				return nil, err
			}
			// ld nr; jeq nr; [ld arg; and mask; jeq value]...; ret action
			n := 1 + 3*len(r.Conds) // instructions after the jeq up to and including the ret
			p.emit(ldAbsW, 0, 0, offNr)
			p.emit(jeqK, 0, uint8(n), uint32(nr))
			for j, c := range r.Conds {
				if c.Arg < 0 || c.Arg > 5 {
					return nil, fmt.Errorf("%s: argument %d out of range", r.Syscall, c.Arg)
				}
				rest := uint8(n - 3*j - 3) // from after this jeq to after the ret
				p.emit(ldAbsW, 0, 0, uint32(offArgs+8*c.Arg))
				p.emit(andK, 0, 0, c.Mask)
				if c.Not {
					p.emit(jeqK, rest, 0, c.Value)
				} else {
					p.emit(jeqK, 0, rest, c.Value)
				}
			}
			p.emit(retK, 0, 0, action)
		}
		p.emit(retK, 0, 0, def)
	}
	return p.assemble()
}

// Load installs f on the calling thread (and, through execve, on what
// it runs). The thread needs no_new_privs or CAP_SYS_ADMIN.
func Load(f *Filter) error {
	ins, err := f.Program()
	if err != nil {
		return err
	}
	prog := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog))); e != 0 {
		return fmt.Errorf("loading seccomp filter: %w", e)
	}
	return nil
}
