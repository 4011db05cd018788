package condition

// Virtualization and confidential-computing detection, from files under
// the root: ConditionVirtualization=, ConditionSecurity=cvm, and the
// manager's Virtualization property.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/dmi"
)

// Virtualization is what DetectVirtualization found: an upstream
// identifier ("kvm", "docker", …) and whether it is a container; ID ""
// is bare metal.
type Virtualization struct {
	ID        string
	Container bool
}

// Name is the identifier upstream reports: "none" on bare metal.
func (v Virtualization) Name() string {
	if v.ID == "" {
		return "none"
	}
	return v.ID
}

// dmiVendors maps DMI vendor/product prefixes to upstream's VM identifiers.
var dmiVendors = []struct{ prefix, id string }{
	{"KVM", "kvm"}, {"OpenStack", "kvm"}, {"KubeVirt", "kvm"}, {"Amazon EC2", "amazon"},
	{"QEMU", "qemu"}, {"VMware", "vmware"}, {"VMW", "vmware"}, {"innotek GmbH", "oracle"},
	{"VirtualBox", "oracle"}, {"Oracle Corporation", "oracle"}, {"Xen", "xen"}, {"Bochs", "bochs"},
	{"Parallels", "parallels"}, {"BHYVE", "bhyve"}, {"Hyper-V", "microsoft"},
	{"Apple Virtualization", "apple"}, {"Google Compute Engine", "google"},
}

// DetectVirtualization looks for a container first (the manager's or
// PID 1's $container, /run/systemd/container, /run/.containerenv,
// /.dockerenv, OpenVZ, WSL), then a VM (DMI strings, /sys/hypervisor/type,
// the "hypervisor" CPU flag → "vm-other"). As PID 1 (pid1) the manager's
// own environment is PID 1's.
func DetectVirtualization(root string, pid1 bool) Virtualization {
	rp := func(p string) string { return filepath.Join(root, p) }
	exists := func(p string) bool { _, err := os.Stat(rp(p)); return err == nil }
	if exists("/proc/vz") && !exists("/proc/bc") {
		return Virtualization{"openvz", true}
	}
	if b, err := os.ReadFile(rp("/proc/sys/kernel/osrelease")); err == nil &&
		(bytes.Contains(b, []byte("Microsoft")) || bytes.Contains(b, []byte("WSL"))) {
		return Virtualization{"wsl", true}
	}
	if pid1 {
		if v := os.Getenv("container"); v != "" {
			return Virtualization{containerID(v), true}
		}
	} else if b, err := os.ReadFile(rp("/proc/1/environ")); err == nil {
		for _, kv := range bytes.Split(b, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("container=")); ok && len(v) > 0 {
				return Virtualization{containerID(string(v)), true}
			}
		}
	}
	if b, err := os.ReadFile(rp("/run/systemd/container")); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			return Virtualization{containerID(v), true}
		}
	}
	if exists("/run/.containerenv") {
		return Virtualization{"podman", true}
	}
	if exists("/.dockerenv") {
		return Virtualization{"docker", true}
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
						return Virtualization{} // EC2 bare-metal instances
					}
					return Virtualization{ID: dv.id}
				}
			}
		}
	}
	if b, err := os.ReadFile(rp("/sys/hypervisor/type")); err == nil && strings.TrimSpace(string(b)) == "xen" {
		return Virtualization{ID: "xen"}
	}
	if CPUFlags(root)["hypervisor"] {
		return Virtualization{ID: "vm-other"}
	}
	return Virtualization{}
}

// ConfidentialVirtualization names the confidential-computing technology
// the CPU flags show — "tdx", "sev-snp", "sev-es", "sev" — or "none", as
// upstream's ConfidentialVirtualization does (which probes CPUID instead).
func ConfidentialVirtualization(root string) string {
	f := CPUFlags(root)
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
	if v == "oci" {
		return "container-other"
	}
	return v
}

// VirtualizationMatches checks ConditionVirtualization=: a boolean (any
// virtualization), "vm", "container", or an identifier.
func VirtualizationMatches(v Virtualization, want string) bool {
	switch want {
	case "vm":
		return v.ID != "" && !v.Container
	case "container":
		return v.Container
	case "private-users":
		return privateUsers()
	}
	if b, err := conf.ParseBool(want); err == nil {
		return b == (v.ID != "")
	}
	return v.ID == want
}

// privateUsers reports a user namespace: a uid map other than the
// initial namespace's identity map.
func privateUsers() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

// CPUFlags returns the flags of the first CPU in /proc/cpuinfo.
func CPUFlags(root string) map[string]bool {
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
