package gpt

import (
	"runtime"
	"strings"
)

// genericTypes are the architecture-independent partition type names of the Discoverable
// Partitions Specification, as systemd-repart and sysupdate spell them.
var genericTypes = map[string]string{
	"esp":           "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
	"xbootldr":      "bc13c2ff-59e6-4262-a352-b275fd6f7172",
	"swap":          "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f",
	"home":          "933ac7e1-2eb4-4f13-b844-0e14e2aef915",
	"srv":           "3b8f8425-20e0-4f3b-907f-1a25a76f98e8",
	"var":           "4d21b016-b534-45c2-a9fb-5c16e091fd2d",
	"tmp":           "7ec6f557-3bc5-4aca-b293-16ef5df639d1",
	"user-home":     "773f91ef-66d4-49b5-bd83-d683bf40ad16",
	"linux-generic": "0fc63daf-8483-4772-8e79-3d69d8477de4",
}

// nativeArch maps GOARCH to upstream's architecture name for the build's own root/usr types,
// and to its secondary architecture (the 32-bit one a 64-bit kernel also runs), if any.
var nativeArch = map[string][2]string{
	"amd64":    {"x86-64", "x86"},
	"386":      {"x86", ""},
	"arm64":    {"arm64", "arm"},
	"arm":      {"arm", ""},
	"riscv64":  {"riscv64", ""},
	"loong64":  {"loongarch64", ""},
	"ppc64le":  {"ppc64-le", ""},
	"ppc64":    {"ppc64", ""},
	"s390x":    {"s390x", ""},
	"mips":     {"mips", ""},
	"mipsle":   {"mips-le", ""},
	"mips64":   {"mips64", ""},
	"mips64le": {"mips64-le", ""},
}

// TypeByName resolves a partition type as systemd-repart's Type= and sysupdate's
// MatchPartitionType= accept it: a name such as "esp", "linux-generic", "root-arm64-verity"
// or "usr-x86-64-verity-sig", the architecture-less "root", "usr", "root-verity", … (the
// build's native architecture, as upstream resolves them at compile time), the
// "root-secondary…" forms where the native architecture has a secondary one, or a literal
// GUID. Names are matched exactly, as upstream does.
func TypeByName(name string) (GUID, bool) {
	if s, ok := genericTypes[name]; ok {
		return mustGUID(s), true
	}
	if s, ok := archTypes[name]; ok {
		return mustGUID(s), true
	}
	for _, prefix := range []string{"root", "usr"} {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		arch := nativeArch[runtime.GOARCH]
		if r, ok := strings.CutPrefix(rest, "-secondary"); ok {
			rest, arch[0] = r, arch[1]
		}
		if arch[0] == "" || (rest != "" && rest != "-verity" && rest != "-verity-sig") {
			break
		}
		if s, ok := archTypes[prefix+"-"+arch[0]+rest]; ok {
			return mustGUID(s), true
		}
	}
	if g, err := ParseGUID(name); err == nil {
		return g, true
	}
	return GUID{}, false
}

// canonicalArches are upstream's own architecture names; the other names in archTypes
// (aarch64, amd64, x86_64, i686, …) are aliases it also accepts.
var canonicalArches = []string{"alpha", "arc", "arm", "arm64", "ia64", "loongarch64", "mips",
	"mips-le", "mips64", "mips64-le", "parisc", "ppc", "ppc64", "ppc64-le", "riscv32", "riscv64",
	"s390", "s390x", "tilegx", "x86", "x86-64"}

// TypeName is the inverse of TypeByName for display: the name of a known type (for root and
// usr types the architecture-specific form with upstream's canonical architecture name), or
// "" for a type GUID it does not know.
func TypeName(g GUID) string {
	s := g.String()
	for name, v := range genericTypes {
		if v == s {
			return name
		}
	}
	for _, arch := range canonicalArches {
		for _, prefix := range []string{"root-", "usr-"} {
			for _, suffix := range []string{"", "-verity", "-verity-sig"} {
				if name := prefix + arch + suffix; archTypes[name] == s {
					return name
				}
			}
		}
	}
	return ""
}
