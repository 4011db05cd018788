// Package seccomp builds and loads the seccomp BPF filters behind the
// systemd.exec(5) settings SystemCallFilter=, SystemCallArchitectures=,
// SystemCallLog=, RestrictAddressFamilies=, MemoryDenyWriteExecute= and
// friends.
//
// The @groups are upstream's (groups_table.go, generated from systemd 262's
// `systemd-analyze syscall-filter` by gen_groups.go). System call numbers
// come from go-seccomp-bpf's per-architecture tables; the filter program is
// built here because a filter must cover several architectures at once
// (x86-64, x86 and x32 on an x86-64 machine), with an action of its own for
// a foreign architecture, and test system call arguments — which that
// library's single-architecture assembler does not do.
package seccomp

//go:generate go run gen_groups.go /var/cache/stead/upstream-root

import (
	"fmt"
	"runtime"
	"sort"
	"strings"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// GroupNames lists the upstream @groups, sorted.
func GroupNames() []string {
	out := make([]string, 0, len(groups))
	for g := range groups {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// IsGroup reports whether name is a known @group.
func IsGroup(name string) bool {
	_, ok := groups[name]
	return ok
}

// Expand resolves a system call name or an @group (nested groups
// included) into system call names. A name that is neither a group member
// anywhere nor known to an architecture table is an error.
func Expand(name string) ([]string, error) {
	if strings.HasPrefix(name, "@") {
		if _, ok := groups[name]; !ok {
			return nil, fmt.Errorf("unknown system call group %q", name)
		}
		seen := map[string]bool{}
		var out []string
		var walk func(g string)
		walk = func(g string) {
			if seen[g] {
				return
			}
			seen[g] = true
			for _, m := range groups[g] {
				if strings.HasPrefix(m, "@") {
					walk(m)
				} else if !seen[m] {
					seen[m] = true
					out = append(out, m)
				}
			}
		}
		walk(name)
		sort.Strings(out)
		return out, nil
	}
	if !Known(name) {
		return nil, fmt.Errorf("unknown system call %q", name)
	}
	return []string{name}, nil
}

// Known reports whether name is a system call some architecture or group
// knows.
func Known(name string) bool {
	if knownNames == nil {
		knownNames = map[string]bool{}
		for _, g := range groups {
			for _, m := range g {
				knownNames[m] = true
			}
		}
		for _, a := range archByName {
			for n := range a.SyscallNames {
				knownNames[n] = true
			}
		}
	}
	return knownNames[name]
}

var knownNames map[string]bool

// archByName maps upstream's architecture names (SystemCallArchitectures=)
// to the tables.
var archByName = map[string]*arch.Info{
	"x86-64": arch.X86_64, "x86": arch.I386, "x32": arch.X32,
	"arm64": arch.AARCH64, "arm": arch.ARM,
}

// Native is upstream's name of the architecture this program runs on.
func Native() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86-64"
	case "386":
		return "x86"
	case "arm64":
		return "arm64"
	case "arm":
		return "arm"
	}
	return runtime.GOARCH
}

// LocalArches are the architectures whose system calls a process of ours
// can make: on x86-64 also x86 (int 0x80) and x32.
func LocalArches() []string {
	switch Native() {
	case "x86-64":
		return []string{"x86-64", "x86", "x32"}
	case "arm64":
		return []string{"arm64", "arm"}
	}
	return []string{Native()}
}

// ValidArch reports whether name is an architecture name
// SystemCallArchitectures= accepts ("native" included).
func ValidArch(name string) bool {
	_, ok := archByName[name]
	return ok || name == "native"
}

// Members lists a group's direct members (system calls and nested
// @groups) as upstream lists them, nil for an unknown group.
func Members(group string) []string {
	return append([]string(nil), groups[group]...)
}
