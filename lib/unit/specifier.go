package unit

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Specifiers holds what the %-specifiers of a unit file expand to
// (systemd.unit(5), "Specifiers"). The unit-name ones keep the escaped form of
// the name (%n %N %p %i %j); the upper-case ones unescape it (%P %I %J, and %f
// as a path). Host values come from Host, read once per root.
type Specifiers struct {
	Name     string // %n: full unit name, "foo@bar.service"
	Prefix   string // %p: the part before "@" (or before the suffix)
	Instance string // %i: the part after "@", escaped
	Fragment string // %y: the in-root path of the unit's fragment ("" if none)
	Host     *Host  // nil: the host specifiers are unknown and fail
}

// Host is the machine a system manager runs on, as the host-dependent
// specifiers see it.
type Host struct {
	Arch          string // %a: upstream's architecture name ("x86-64")
	KernelRelease string // %v
	Hostname      string // %H
	PrettyName    string // %q: PRETTY_HOSTNAME of /etc/machine-info, else the hostname
	MachineID     string // %m ("" when the root has none: %m fails)
	BootID        string // %b ("" when unknown: %b fails)
	OSRelease     map[string]string
}

// hostCache keeps one Host per root: loading a few hundred units must not read
// /etc/os-release a few hundred times. A daemon-reload reads them again
// through ForgetHost.
var hostCache sync.Map // root → *Host

// HostFor returns the host values for units under root.
func HostFor(root string) *Host {
	if h, ok := hostCache.Load(root); ok {
		return h.(*Host)
	}
	h := readHost(root)
	hostCache.Store(root, h)
	return h
}

// ForgetHost drops the cached host values of root (at daemon-reload).
func ForgetHost(root string) { hostCache.Delete(root) }

func readHost(root string) *Host {
	r := rootJoin(root)
	h := &Host{Arch: archName(runtime.GOARCH), OSRelease: map[string]string{}}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		h.KernelRelease = unix.ByteSliceToString(uts.Release[:])
		h.Hostname = unix.ByteSliceToString(uts.Nodename[:])
	}
	if b, err := os.ReadFile(path.Join(r, "etc/hostname")); err == nil {
		if n := strings.TrimSpace(string(b)); n != "" && root != "" && root != "/" {
			h.Hostname = n // a root of its own: its configured name
		}
	}
	h.PrettyName = h.Hostname
	if kv := readEnvLike(path.Join(r, "etc/machine-info")); kv["PRETTY_HOSTNAME"] != "" {
		h.PrettyName = kv["PRETTY_HOSTNAME"]
	}
	if b, err := os.ReadFile(path.Join(r, "etc/machine-id")); err == nil {
		if id := strings.TrimSpace(string(b)); len(id) == 32 {
			h.MachineID = id
		}
	}
	if b, err := os.ReadFile(path.Join(r, "proc/sys/kernel/random/boot_id")); err == nil {
		h.BootID = strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	}
	h.OSRelease = readEnvLike(path.Join(r, "etc/os-release"))
	if len(h.OSRelease) == 0 {
		h.OSRelease = readEnvLike(path.Join(r, "usr/lib/os-release"))
	}
	return h
}

// readEnvLike reads KEY=VALUE lines (os-release(5) syntax, quotes removed).
func readEnvLike(p string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(p)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[strings.TrimSpace(k)] = v
	}
	return out
}

// archName maps Go's architecture names to systemd's (ConditionArchitecture=, %a).
func archName(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86-64"
	case "386":
		return "x86"
	case "arm64":
		return "arm64"
	case "arm":
		return "arm"
	case "ppc64le":
		return "ppc64-le"
	case "ppc64":
		return "ppc64"
	case "riscv64":
		return "riscv64"
	case "s390x":
		return "s390x"
	case "loong64":
		return "loongarch64"
	case "mips64le":
		return "mips64-le"
	}
	return goarch
}

// Expand replaces the specifiers in s. Unknown specifiers, a trailing lone
// "%" and host values the machine does not have are errors, as in systemd:
// the caller drops the assignment.
func (sp Specifiers) Expand(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("unterminated specifier in %q", s)
		}
		i++
		v, err := sp.value(s[i])
		if err != nil {
			return "", fmt.Errorf("failed to resolve specifier %%%c in %q: %w", s[i], s, err)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// errUnknownSpecifier is what an undocumented %-letter gives.
var errUnknownSpecifier = fmt.Errorf("unknown specifier")

func (sp Specifiers) value(c byte) (string, error) {
	name := sp.Name
	h := sp.Host
	need := func(v, what string) (string, error) {
		if v == "" {
			return "", fmt.Errorf("%s is not known", what)
		}
		return v, nil
	}
	osr := func(k string) (string, error) {
		if h == nil {
			return "", nil
		}
		return h.OSRelease[k], nil
	}
	switch c {
	case '%':
		return "%", nil
	case 'n':
		return name, nil
	case 'N':
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			return name[:i], nil
		}
		return name, nil
	case 'p':
		return sp.Prefix, nil
	case 'P':
		return UnescapeString(sp.Prefix), nil
	case 'i':
		return sp.Instance, nil
	case 'I':
		return UnescapeString(sp.Instance), nil
	case 'j':
		return lastComponent(sp.Prefix), nil
	case 'J':
		return UnescapeString(lastComponent(sp.Prefix)), nil
	case 'f':
		if sp.Instance != "" {
			return UnescapePath(sp.Instance), nil
		}
		return UnescapePath(sp.Prefix), nil
	case 'y':
		return need(sp.Fragment, "the fragment path")
	case 'Y':
		if sp.Fragment == "" {
			return need("", "the fragment path")
		}
		return path.Dir(sp.Fragment), nil
	case 'd':
		return "/run/credentials/" + name, nil
	case 't':
		return "/run", nil
	case 'S':
		return "/var/lib", nil
	case 'C':
		return "/var/cache", nil
	case 'L':
		return "/var/log", nil
	case 'E':
		return "/etc", nil
	case 'T':
		return "/tmp", nil
	case 'V':
		return "/var/tmp", nil
	case 'h':
		return "/root", nil
	case 's':
		return "/bin/sh", nil
	case 'u', 'g':
		return "root", nil
	case 'U', 'G':
		return "0", nil
	case 'a':
		if h == nil {
			return archName(runtime.GOARCH), nil
		}
		return h.Arch, nil
	case 'A':
		return osr("IMAGE_VERSION")
	case 'B':
		return osr("BUILD_ID")
	case 'M':
		return osr("IMAGE_ID")
	case 'o':
		return osr("ID")
	case 'w':
		return osr("VERSION_ID")
	case 'W':
		return osr("VARIANT_ID")
	}
	if h == nil {
		switch c {
		case 'b', 'H', 'l', 'm', 'q', 'v':
			return "", fmt.Errorf("host values are not known here")
		}
		return "", errUnknownSpecifier
	}
	switch c {
	case 'b':
		return need(h.BootID, "the boot ID")
	case 'H':
		return need(h.Hostname, "the host name")
	case 'l':
		n, _, _ := strings.Cut(h.Hostname, ".")
		return need(n, "the host name")
	case 'q':
		return need(h.PrettyName, "the host name")
	case 'm':
		return need(h.MachineID, "the machine ID")
	case 'v':
		return need(h.KernelRelease, "the kernel release")
	}
	return "", errUnknownSpecifier
}

// lastComponent is %j: what follows the last "-" of the prefix, or all of it.
func lastComponent(prefix string) string {
	if i := strings.LastIndexByte(prefix, '-'); i >= 0 {
		return prefix[i+1:]
	}
	return prefix
}
