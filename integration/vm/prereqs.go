package vm

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

// DefaultCacheDir is where prereqs.sh extracts the kernel unless STEAD_VM_CACHE says otherwise.
const DefaultCacheDir = "/var/cache/stead/kernel"

// Kernel is a Debian cloud kernel extracted by prereqs.sh.
type Kernel struct {
	Version string // e.g. 6.1.0-56-cloud-amd64
	Vmlinuz string // path of the bzImage
	Modules string // its /lib/modules/VERSION directory
}

// CacheDir returns the kernel cache directory: $STEAD_VM_CACHE or DefaultCacheDir.
func CacheDir() string {
	if d := os.Getenv("STEAD_VM_CACHE"); d != "" {
		return d
	}
	return DefaultCacheDir
}

// Tools the harness runs on the host. BusyboxPath must be a static busybox: it is copied
// into the guest.
var (
	QEMU        = "qemu-system-x86_64"
	BusyboxPath = "/bin/busybox"
)

// PrereqsScriptPath overrides where prereqs.sh is, for programs built with -trimpath
// (whose source paths are not file names).
var PrereqsScriptPath string

// PrereqsScript is the path of prereqs.sh in this checkout.
func PrereqsScript() string {
	if PrereqsScriptPath != "" {
		return PrereqsScriptPath
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "prereqs.sh")
}

// FindKernel returns the kernel cached in CacheDir, without installing anything.
func FindKernel() (Kernel, error) {
	dir := CacheDir()
	b, err := os.ReadFile(filepath.Join(dir, "version"))
	if err != nil {
		return Kernel{}, fmt.Errorf("no kernel cached in %s (run %s): %w", dir, PrereqsScript(), err)
	}
	v := strings.TrimSpace(string(b))
	k := Kernel{
		Version: v,
		Vmlinuz: filepath.Join(dir, "root/boot/vmlinuz-"+v),
		Modules: filepath.Join(dir, "root/lib/modules", v),
	}
	for _, p := range []string{k.Vmlinuz, filepath.Join(k.Modules, "modules.order")} {
		if _, err := os.Stat(p); err != nil {
			return Kernel{}, fmt.Errorf("kernel cache %s is incomplete: %w", dir, err)
		}
	}
	return k, nil
}

// Debian packages of what missingTools and FindKernel look for (prereqs.sh installs them).
var prereqPackages = map[string]string{
	"qemu-system-x86_64": "qemu-system-x86",
	"socat":              "socat",
	"swtpm":              "swtpm",
	"swtpm_setup":        "swtpm-tools",
	"busybox":            "busybox-static",
	"kernel":             "linux-image-cloud-amd64",
}

// missingPackages names the Debian packages of what is missing now.
func missingPackages() []string {
	var pkgs []string
	for _, bin := range []string{QEMU, "socat", "swtpm", "swtpm_setup"} {
		if _, err := exec.LookPath(bin); err != nil {
			pkgs = append(pkgs, prereqPackages[filepath.Base(bin)])
		}
	}
	if checkStatic(BusyboxPath) != nil {
		pkgs = append(pkgs, prereqPackages["busybox"])
	}
	if _, err := FindKernel(); err != nil {
		pkgs = append(pkgs, prereqPackages["kernel"])
	}
	return pkgs
}

// missingTools lists what prereqs.sh would install.
func missingTools() []string {
	var miss []string
	for _, bin := range []string{QEMU, "socat", "swtpm", "swtpm_setup"} {
		if _, err := exec.LookPath(bin); err != nil {
			miss = append(miss, bin)
		}
	}
	if err := checkStatic(BusyboxPath); err != nil {
		miss = append(miss, "static busybox ("+err.Error()+")")
	}
	return miss
}

// checkStatic reports whether path is a statically linked ELF executable.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", path)
		}
	}
	return nil
}

// EnsurePrereqs checks for qemu, a static busybox, socat, swtpm and the cached kernel, and
// runs prereqs.sh (apt-get; needs root and Debian's archive) when anything is missing.
func EnsurePrereqs() (Kernel, error) {
	k, kerr := FindKernel()
	miss := missingTools()
	if kerr == nil && len(miss) == 0 {
		return k, nil
	}
	if kerr != nil {
		miss = append(miss, "kernel")
	}
	var out bytes.Buffer
	cmd := exec.Command("bash", PrereqsScript())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return Kernel{}, fmt.Errorf("missing %s, and %s failed: %v\n%s", strings.Join(miss, ", "), PrereqsScript(), err, tail(out.String(), 40))
	}
	if miss := missingTools(); len(miss) > 0 {
		return Kernel{}, fmt.Errorf("still missing after %s: %s", PrereqsScript(), strings.Join(miss, ", "))
	}
	return FindKernel()
}

var (
	prereqOnce   sync.Once
	prereqKernel Kernel
	prereqErr    error
)

// Prereqs is EnsurePrereqs for tests, done once per process: when the prerequisites are
// missing and cannot be installed it stops the test with the reason and the Debian packages
// (harness.Require: a failure under CI, else a skip).
func Prereqs(t testing.TB) Kernel {
	t.Helper()
	prereqOnce.Do(func() { prereqKernel, prereqErr = EnsurePrereqs() })
	if prereqErr != nil {
		harness.Require(t, fmt.Sprintf("VM harness prerequisites unavailable: %v", prereqErr), missingPackages()...)
	}
	return prereqKernel
}

func tail(s string, lines int) string {
	s = strings.TrimRight(s, "\n")
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = append([]string{fmt.Sprintf("[… %d lines before]", len(l)-lines)}, l[len(l)-lines:]...)
	}
	return strings.Join(l, "\n")
}
