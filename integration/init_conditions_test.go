//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/unit/condition"
)

// hostConditions read the kernel's view (/proc, /sys, uname, this
// process): ours evaluates them against the real root, upstream's
// systemd-analyze in its root with /proc and /sys of the host mounted.
var hostConditions = []string{
	"ConditionArchitecture=x86-64", "ConditionArchitecture=arm64", "ConditionArchitecture=native",
	"ConditionFirmware=uefi", "ConditionFirmware=device-tree", "ConditionFirmware=device-tree-compatible(foo)",
	"ConditionFirmware=smbios-field(sys_vendor = QEMU)", "ConditionFirmware=smbios-field(sys_vendor $= *)",
	"ConditionVirtualization=yes", "ConditionVirtualization=no", "ConditionVirtualization=vm",
	"ConditionVirtualization=container", "ConditionVirtualization=kvm", "ConditionVirtualization=qemu",
	"ConditionKernelCommandLine=quiet", "ConditionKernelCommandLine=root", "ConditionKernelCommandLine=nonexistent_xyz",
	"ConditionKernelVersion=>=4.0", "ConditionKernelVersion=<3.0", "ConditionKernelVersion=>=5 <100",
	"ConditionKernelVersion=*", "ConditionKernelVersion=!=0", "ConditionKernelVersion=$=6.*",
	"ConditionVersion=kernel >= 4.0", "ConditionVersion=systemd >= 262", "ConditionVersion=systemd < 250",
	"ConditionVersion=>= 5", "ConditionVersion=glibc >= 2.30", "ConditionVersion=glibc < 2.0",
	"ConditionSecurity=selinux", "ConditionSecurity=apparmor", "ConditionSecurity=audit", "ConditionSecurity=ima",
	"ConditionSecurity=uefi-secureboot", "ConditionSecurity=tpm2", "ConditionSecurity=cvm", "ConditionSecurity=smack",
	"ConditionSecurity=tomoyo",
	"ConditionCapability=CAP_SYS_ADMIN", "ConditionCapability=CAP_MKNOD", "ConditionCapability=CAP_BPF",
	"ConditionACPower=true", "ConditionACPower=false",
	"ConditionPathIsMountPoint=/proc", "ConditionPathIsMountPoint=/sys", "ConditionPathIsReadWrite=/proc/sys",
	"ConditionPathIsReadWrite=/sys", "ConditionPathIsEncrypted=/proc", "ConditionPathIsEncrypted=/sys",
	"ConditionUser=0", "ConditionUser=root", "ConditionUser=@system", "ConditionUser=1000", "ConditionUser=nobody",
	"ConditionGroup=0", "ConditionGroup=root", "ConditionGroup=1000", "ConditionGroup=nogroup",
	"ConditionControlGroupController=v2", "ConditionControlGroupController=v1",
	"ConditionControlGroupController=memory", "ConditionControlGroupController=cpu io",
	"ConditionControlGroupController=pids", "ConditionControlGroupController=cpuset",
	"ConditionControlGroupController=bogus",
	"ConditionMemory=>=64M", "ConditionMemory=<1K", "ConditionMemory=>1T", "ConditionMemory=!=5",
	"ConditionCPUs=>=1", "ConditionCPUs=>1000", "ConditionCPUs=<=1", "ConditionCPUs=2",
	"ConditionCPUFeature=fpu", "ConditionCPUFeature=sse2", "ConditionCPUFeature=avx2", "ConditionCPUFeature=aes",
	"ConditionCPUFeature=pclmul", "ConditionCPUFeature=fma3", "ConditionCPUFeature=rdrand",
	"ConditionCPUFeature=constant_tsc", "ConditionCPUFeature=lm", "ConditionCPUFeature=sha_ni",
	"ConditionCPUFeature=x86-64.sse", "ConditionCPUFeature=arm64.bti",
	"ConditionMemoryPressure=100%", "ConditionCPUPressure=100%/10sec", "ConditionIOPressure=100%/1min",
	"ConditionMemoryPressure=0%/5min",
	"ConditionKernelModuleLoaded=loop", "ConditionKernelModuleLoaded=nonexistent_mod", "ConditionKernelModuleLoaded=ext4",
	"ConditionEnvironment=PATH", "ConditionEnvironment=NOPE_NOT_SET", "ConditionEnvironment=LANG=C.UTF-8",
	"ConditionCredential=nothere",
	"AssertPathExists=/proc/self", "AssertCPUs=>=1",
}

// knownConditionDiffs are differences docs/init.md lists, with why.
var knownConditionDiffs = map[string]string{
	"ConditionVirtualization=kvm": "upstream names the hypervisor from CPUID leaf 0x40000000; stead reads " +
		"DMI and /proc/cpuinfo, which only say \"a hypervisor\" (vm-other) where DMI is absent",
}

// rootConditions read files of the tree: ours evaluates them with the
// upstream root as its root, upstream's in the same root.
var rootConditions = []string{
	"ConditionPathExists=/etc", "ConditionPathExists=/nonexistent", "ConditionPathExists=/etc/os-release",
	"ConditionPathExistsGlob=/etc/*.conf", "ConditionPathExistsGlob=/nope*",
	"ConditionPathIsDirectory=/etc", "ConditionPathIsDirectory=/etc/os-release",
	"ConditionPathIsSymbolicLink=/bin", "ConditionPathIsSymbolicLink=/etc/os-release", "ConditionPathIsSymbolicLink=/etc",
	"ConditionPathIsSocket=/etc", "ConditionPathIsSocket=/nonexistent",
	"ConditionPathIsReadWrite=/nonexistent", "ConditionPathIsMountPoint=/nonexistent",
	"ConditionDirectoryNotEmpty=/etc", "ConditionDirectoryNotEmpty=/mnt", "ConditionDirectoryNotEmpty=/nonexistent",
	"ConditionDirectoryNotEmpty=/tmp/stead-cond-hidden",
	"ConditionFileNotEmpty=/etc/os-release", "ConditionFileNotEmpty=/etc", "ConditionFileNotEmpty=/tmp/stead-cond-empty",
	"ConditionFileIsExecutable=/usr/bin/systemctl", "ConditionFileIsExecutable=/etc/os-release",
	"ConditionFileIsExecutable=/usr/bin",
	"ConditionOSRelease=ID=debian", "ConditionOSRelease=ID=fedora", "ConditionOSRelease=ID!=fedora",
	"ConditionOSRelease=ID$=deb*", "ConditionOSRelease=ID!$=deb*", "ConditionOSRelease=VERSION_ID>=1",
	"ConditionOSRelease=NOPE=", "ConditionOSRelease=ID=debian ID_LIKE=", "ConditionOSRelease=\"ID=debian\"",
	"ConditionHost=nonexistent-host", "ConditionHost=00000000000000000000000000000001",
	"ConditionNeedsUpdate=/etc", "ConditionNeedsUpdate=/var",
	"ConditionFirstBoot=yes", "ConditionFirstBoot=no",
	"ConditionMachineTag=role=*", "ConditionMachineTag=nope",
	"ConditionFraction=0%", "ConditionFraction=100%", "ConditionFraction=tag 100%",
	"AssertPathExists=/etc", "AssertPathIsDirectory=/nonexistent",
}

// analyze runs upstream's systemd-analyze condition for each expression
// (inside a mount namespace with the host's /proc and /sys in its root)
// and returns the results by expression: a line "… succeeded." passes,
// anything else ("failed", "Couldn't determine result") fails.
func analyze(t *testing.T, up *harness.Upstream, exprs []string) map[string]bool {
	t.Helper()
	script := `set -e; mount --rbind /proc "$1/proc"; mount --rbind /sys "$1/sys"; root="$1"; shift; ` +
		`for c in "$@"; do echo "@@ $c"; chroot "$root" env -i PATH=/usr/bin:/bin LANG=C.UTF-8 SYSTEMD_LOG_LEVEL=info systemd-analyze condition "$c" 2>&1 || true; done`
	cmd := exec.Command("unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", up.Dir}, exprs...)...)
	out, _, code := harness.Run(t, cmd)
	if code != 0 {
		t.Fatalf("systemd-analyze: exit %d\n%s", code, out)
	}
	res := map[string]bool{}
	cur := ""
	for _, l := range strings.Split(out, "\n") {
		if x, ok := strings.CutPrefix(l, "@@ "); ok {
			cur = x
			res[cur] = false
			continue
		}
		if cur != "" && strings.HasPrefix(l, "test.service: ") && strings.HasSuffix(l, " succeeded.") {
			res[cur] = true
		}
	}
	return res
}

// viewOf builds the tree upstream's chroot sees: the upstream root's
// directories with the host's /proc and /sys, for ours to read.
func viewOf(t *testing.T, upDir string) string {
	t.Helper()
	v := t.TempDir()
	ents, err := os.ReadDir(upDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		target := filepath.Join(upDir, e.Name())
		if e.Name() == "proc" || e.Name() == "sys" {
			target = "/" + e.Name()
		}
		if err := os.Symlink(target, filepath.Join(v, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// ours evaluates an expression with lib/unit/condition, the code init runs.
func ours(t *testing.T, env *condition.Env, expr string) bool {
	t.Helper()
	key, value, _ := strings.Cut(expr, "=")
	kind := strings.TrimPrefix(strings.TrimPrefix(key, "Condition"), "Assert")
	neg := strings.HasPrefix(value, "!") && kind != "ControlGroupController"
	if neg {
		value = value[1:]
	}
	ok, err := env.Evaluate(kind, strings.Trim(value, `"`))
	if err != nil {
		return false
	}
	return ok != neg
}

// TestInitUnitsConditions compares every condition kind, on this machine,
// with upstream's systemd-analyze condition. systemd-analyze has no
// --root for conditions, so the file-reading ones run with the upstream
// root as ours and in a chroot there for upstream.
func TestInitUnitsConditions(t *testing.T) {
	up := harness.NeedUpstream(t)
	// Fixtures inside the upstream root for the directory and file checks.
	hidden := filepath.Join(up.Dir, "tmp/stead-cond-hidden")
	os.MkdirAll(hidden, 0o755)
	harness.WriteFile(t, filepath.Join(hidden, ".hidden"), "x", 0o644)
	harness.WriteFile(t, filepath.Join(hidden, "backup~"), "x", 0o644)
	harness.WriteFile(t, filepath.Join(up.Dir, "tmp/stead-cond-empty"), "", 0o644)
	t.Cleanup(func() { os.RemoveAll(hidden); os.Remove(filepath.Join(up.Dir, "tmp/stead-cond-empty")) })

	env := []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "SYSTEMD_LOG_LEVEL=info"}
	for _, set := range []struct {
		root  string
		exprs []string
	}{{viewOf(t, up.Dir), hostConditions}, {up.Dir, rootConditions}} {
		theirs := analyze(t, up, set.exprs)
		e := &condition.Env{Root: set.root, Environ: env}
		agree := 0
		for _, x := range set.exprs {
			u, ok := theirs[x]
			if !ok {
				t.Errorf("%s: no result from systemd-analyze", x)
				continue
			}
			if o := ours(t, e, x); o != u {
				if why, known := knownConditionDiffs[x]; known {
					t.Logf("%s: ours %v, upstream %v — known difference: %s", x, o, u, why)
					continue
				}
				t.Errorf("%s: ours %v, upstream %v", x, o, u)
				continue
			}
			agree++
		}
		t.Logf("root %s: %d of %d conditions agree with upstream", set.root, agree, len(set.exprs))
	}
}
