package pid1

// Condition*= checks. Every path is read under the root, so a fake tree
// (DMI strings, /proc/1/environ, efivars, …) decides them in host mode.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/dmi"
	"github.com/stead-os/stead/lib/kcmdline"
	"github.com/stead-os/stead/lib/tpm"
	"github.com/stead-os/stead/lib/unit"
)

// conditionMet evaluates one condition, without its "!" negation. Kinds we
// do not know count as met.
func (m *Manager) conditionMet(c unit.Condition) bool {
	switch c.Kind {
	case "PathExists":
		_, err := os.Stat(m.hostPath(c.Value))
		return err == nil
	case "PathExistsGlob":
		ms, _ := filepath.Glob(m.hostPath(c.Value))
		return len(ms) > 0
	case "PathIsDirectory":
		st, err := os.Stat(m.hostPath(c.Value))
		return err == nil && st.IsDir()
	case "PathIsSymbolicLink":
		st, err := os.Lstat(m.hostPath(c.Value))
		return err == nil && st.Mode()&os.ModeSymlink != 0
	case "FileNotEmpty":
		st, err := os.Stat(m.hostPath(c.Value))
		return err == nil && st.Mode().IsRegular() && st.Size() > 0
	case "DirectoryNotEmpty":
		ents, err := os.ReadDir(m.hostPath(c.Value))
		return err == nil && len(ents) > 0
	case "FileIsExecutable":
		st, err := os.Stat(m.hostPath(c.Value))
		return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
	case "KernelCommandLine":
		return m.kernelCommandLineHas(c.Value)
	case "Virtualization":
		return virtualizationMatches(detectVirtualization(m.cfg.Root, m.cfg.PID1), c.Value)
	case "Security":
		return m.securityEnabled(c.Value)
	case "Credential":
		if !unitCredentialName(c.Value) {
			return false
		}
		_, err := os.Stat(filepath.Join(m.systemCredentialsDir(), c.Value)) // the manager's own credentials
		return err == nil
	}
	return true
}

func unitCredentialName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00") && len(s) <= 255
}

// kernelCommandLineHas checks ConditionKernelCommandLine=: "KEY" matches a
// word KEY or KEY=anything, "KEY=VALUE" only that exact assignment.
func (m *Manager) kernelCommandLineHas(v string) bool {
	params, err := kcmdline.Load(m.cfg.Root)
	if err != nil {
		return false
	}
	k, val, hasVal := strings.Cut(v, "=")
	for _, p := range params {
		if !kcmdline.KeyEqual(p.Key, k) {
			continue
		}
		if !hasVal || (p.HasValue && p.Value == val) {
			return true
		}
	}
	return false
}

// virtualization is what detectVirtualization found: an upstream
// identifier ("kvm", "docker", …) and whether it is a VM or a container;
// id "" is bare metal.
type virtualization struct {
	id        string
	container bool
}

// dmiVendors maps DMI vendor/product prefixes to upstream's VM identifiers.
var dmiVendors = []struct{ prefix, id string }{
	{"KVM", "kvm"}, {"OpenStack", "kvm"}, {"KubeVirt", "kvm"}, {"Amazon EC2", "amazon"},
	{"QEMU", "qemu"}, {"VMware", "vmware"}, {"VMW", "vmware"}, {"innotek GmbH", "oracle"},
	{"VirtualBox", "oracle"}, {"Oracle Corporation", "oracle"}, {"Xen", "xen"}, {"Bochs", "bochs"},
	{"Parallels", "parallels"}, {"BHYVE", "bhyve"}, {"Hyper-V", "microsoft"},
	{"Apple Virtualization", "apple"}, {"Google Compute Engine", "google"},
}

// detectVirtualization looks for a container first (the manager's or
// PID 1's $container, /run/systemd/container, /run/.containerenv,
// /.dockerenv, OpenVZ, WSL), then a VM (DMI strings, /sys/hypervisor/type,
// the "hypervisor" CPU flag → "vm-other"). As PID 1 our own environment
// is PID 1's.
func detectVirtualization(root string, pid1 bool) virtualization {
	rp := func(p string) string { return filepath.Join(root, p) }
	exists := func(p string) bool { _, err := os.Stat(rp(p)); return err == nil }
	if exists("/proc/vz") && !exists("/proc/bc") {
		return virtualization{"openvz", true}
	}
	if b, err := os.ReadFile(rp("/proc/sys/kernel/osrelease")); err == nil &&
		(bytes.Contains(b, []byte("Microsoft")) || bytes.Contains(b, []byte("WSL"))) {
		return virtualization{"wsl", true}
	}
	if pid1 {
		if v := os.Getenv("container"); v != "" {
			return virtualization{containerID(v), true}
		}
	} else if b, err := os.ReadFile(rp("/proc/1/environ")); err == nil {
		for _, kv := range bytes.Split(b, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("container=")); ok && len(v) > 0 {
				return virtualization{containerID(string(v)), true}
			}
		}
	}
	if b, err := os.ReadFile(rp("/run/systemd/container")); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			return virtualization{containerID(v), true}
		}
	}
	if exists("/run/.containerenv") {
		return virtualization{"podman", true}
	}
	if exists("/.dockerenv") {
		return virtualization{"docker", true}
	}
	if info, err := dmi.Read(root); err == nil {
		product, _ := info.Get(dmi.ProductName)
		for _, attr := range []string{dmi.ProductName, dmi.SysVendor, dmi.BoardVendor, dmi.BIOSVendor, dmi.ProductVersion} {
			v, ok := info.Get(attr)
			if !ok {
				continue
			}
			for _, dv := range dmiVendors {
				if strings.HasPrefix(v, dv.prefix) {
					if dv.id == "amazon" && strings.HasSuffix(product, ".metal") {
						return virtualization{} // EC2 bare-metal instances
					}
					return virtualization{id: dv.id}
				}
			}
		}
	}
	if b, err := os.ReadFile(rp("/sys/hypervisor/type")); err == nil && strings.TrimSpace(string(b)) == "xen" {
		return virtualization{id: "xen"}
	}
	if cpuFlags(root)["hypervisor"] {
		return virtualization{id: "vm-other"}
	}
	return virtualization{}
}

// name is the identifier upstream reports (io.systemd.Manager's
// Virtualization): "none" on bare metal.
func (v virtualization) name() string {
	if v.id == "" {
		return "none"
	}
	return v.id
}

// confidentialVirtualization names the confidential-computing technology
// the CPU flags show — "tdx", "sev-snp", "sev-es", "sev" — or "none", as
// upstream's ConfidentialVirtualization does (which probes CPUID instead).
func confidentialVirtualization(root string) string {
	f := cpuFlags(root)
	if !f["hypervisor"] {
		return "none"
	}
	for _, t := range []struct{ flag, name string }{
		{"tdx_guest", "tdx"}, {"sev_snp", "sev-snp"}, {"sev_es", "sev-es"}, {"sev", "sev"},
	} {
		if f[t.flag] {
			return t.name
		}
	}
	return "none"
}

// containerID maps $container values to upstream's identifiers.
func containerID(v string) string {
	switch v {
	case "oci":
		return "container-other"
	case "":
		return ""
	}
	return v
}

// virtualizationMatches checks ConditionVirtualization=: a boolean (any
// virtualization), "vm", "container", or an identifier.
func virtualizationMatches(v virtualization, want string) bool {
	switch want {
	case "vm":
		return v.id != "" && !v.container
	case "container":
		return v.container
	case "private-users":
		return false // user namespaces are not detected
	}
	if b, err := conf.ParseBool(want); err == nil {
		return b == (v.id != "")
	}
	return v.id == want
}

// cpuFlags returns the flags of the first CPU in /proc/cpuinfo.
func cpuFlags(root string) map[string]bool {
	out := map[string]bool{}
	b, err := os.ReadFile(filepath.Join(root, "/proc/cpuinfo"))
	if err != nil {
		return out
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == "flags" {
			for _, f := range strings.Fields(v) {
				out[f] = true
			}
			break
		}
	}
	return out
}

// EFI variables ConditionSecurity= looks at.
const (
	efiSecureBoot       = "SecureBoot-8be4df61-93ca-11d2-aa0d-e98c0333b5f1"
	efiStubPcrKernImage = "StubPcrKernelImage-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
)

// securityEnabled checks ConditionSecurity=. See docs/init.md for what each
// technology is taken to mean here.
func (m *Manager) securityEnabled(tech string) bool {
	rp := m.hostPath
	exists := func(p string) bool { _, err := os.Stat(rp(p)); return err == nil }
	switch tech {
	case "selinux":
		return exists("/sys/fs/selinux/enforce")
	case "apparmor":
		b, err := os.ReadFile(rp("/sys/module/apparmor/parameters/enabled"))
		return err == nil && strings.HasPrefix(string(b), "Y")
	case "tomoyo":
		return exists("/sys/kernel/security/tomoyo/version")
	case "smack":
		return exists("/sys/fs/smackfs")
	case "ima":
		return exists("/sys/kernel/security/ima")
	case "audit":
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
		if err != nil {
			return false
		}
		unix.Close(fd)
		return true
	case "uefi-secureboot":
		b, err := os.ReadFile(rp("/sys/firmware/efi/efivars/" + efiSecureBoot))
		return err == nil && len(b) == 5 && b[4] == 1 // 4 bytes of attributes, then the value
	case "tpm2":
		return m.hasTPM2()
	case "cvm":
		return confidentialVirtualization(m.cfg.Root) != "none"
	case "measured-uki":
		return m.measuredUKI()
	case "measured-os":
		ok, _ := tpm.MeasuredOS(m.cfg.Root)
		return ok
	}
	return false
}

// hasTPM2 reports a TPM 2.0 the kernel drives (a resource-manager device).
func (m *Manager) hasTPM2() bool { return tpm.KernelHasTPM(m.cfg.Root) }

// measuredUKI is upstream's "measured-uki": $SYSTEMD_FORCE_MEASURE if set,
// else a TPM 2.0 and systemd-stub's StubPcrKernelImage EFI variable (the
// stub measured the UKI into PCR 11).
func (m *Manager) measuredUKI() bool {
	if v, ok := os.LookupEnv("SYSTEMD_FORCE_MEASURE"); ok {
		b, err := conf.ParseBool(v)
		return err == nil && b
	}
	_, err := os.Stat(m.hostPath("/sys/firmware/efi/efivars/" + efiStubPcrKernImage))
	return err == nil && m.hasTPM2()
}
