package sysupdate

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Specifiers expands the %-specifiers sysupdate.d(5) lists, from the OS under the root.
type Specifiers struct {
	OSRelease map[string]string // os-release fields (/etc/os-release, else /usr/lib/os-release)
	MachineID string
	BootID    string
	Hostname  string
	Kernel    string
}

// NewSpecifiers reads what the specifiers expand to for the OS at root.
func NewSpecifiers(root string) *Specifiers {
	s := &Specifiers{OSRelease: map[string]string{}}
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if m, err := readEnvFile(filepath.Join(root, p)); err == nil {
			s.OSRelease = m
			break
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "/etc/machine-id")); err == nil {
		s.MachineID = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		s.BootID = strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	}
	s.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		s.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	return s
}

// readEnvFile reads KEY=VALUE lines with optional quotes (os-release(5)).
func readEnvFile(p string) (map[string]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.HasPrefix(l, "#") {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		m[k] = v
	}
	return m, sc.Err()
}

// architecture is systemd's name for the architecture we run on.
func architecture() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86-64"
	case "386":
		return "x86"
	case "arm64":
		return "arm64"
	case "arm":
		return "arm"
	case "riscv64":
		return "riscv64"
	case "ppc64le":
		return "ppc64-le"
	case "s390x":
		return "s390x"
	case "loong64":
		return "loongarch64"
	}
	return runtime.GOARCH
}

func tmpDir(def string) string {
	for _, k := range []string{"TMPDIR", "TEMP", "TMP"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return def
}

// Expand replaces the specifiers of s; an unknown one is an error.
func (s *Specifiers) Expand(v string) (string, error) {
	if s == nil || !strings.Contains(v, "%") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		if i+1 >= len(v) {
			return "", fmt.Errorf("trailing %% in %q", v)
		}
		i++
		var r string
		switch v[i] {
		case '%':
			r = "%"
		case 'a':
			r = architecture()
		case 'A':
			r = s.OSRelease["IMAGE_VERSION"]
		case 'b':
			r = s.BootID
		case 'B':
			r = s.OSRelease["BUILD_ID"]
		case 'H':
			r = s.Hostname
		case 'l':
			r, _, _ = strings.Cut(s.Hostname, ".")
		case 'm':
			r = s.MachineID
		case 'M':
			r = s.OSRelease["IMAGE_ID"]
		case 'o':
			r = s.OSRelease["ID"]
		case 'v':
			r = s.Kernel
		case 'w':
			r = s.OSRelease["VERSION_ID"]
		case 'W':
			r = s.OSRelease["VARIANT_ID"]
		case 'T':
			r = tmpDir("/tmp")
		case 'V':
			r = tmpDir("/var/tmp")
		default:
			return "", fmt.Errorf("unknown specifier %%%c in %q", v[i], v)
		}
		b.WriteString(r)
	}
	return b.String(), nil
}
