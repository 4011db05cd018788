package pid1

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stead-os/stead/lib/kcmdline"
	"github.com/stead-os/stead/lib/unit"
)

func TestDetectVirtualization(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  virtualization
	}{
		{"bare metal", map[string]string{"sys/class/dmi/id/sys_vendor": "Dell Inc.\n"}, virtualization{}},
		{"qemu", map[string]string{"sys/class/dmi/id/sys_vendor": "QEMU\n"}, virtualization{id: "qemu"}},
		{"kvm", map[string]string{"sys/class/dmi/id/product_name": "KVM\n"}, virtualization{id: "kvm"}},
		{"ec2", map[string]string{"sys/class/dmi/id/sys_vendor": "Amazon EC2\n", "sys/class/dmi/id/product_name": "m5.large\n"}, virtualization{id: "amazon"}},
		{"ec2 metal", map[string]string{"sys/class/dmi/id/sys_vendor": "Amazon EC2\n", "sys/class/dmi/id/product_name": "m5.metal\n"}, virtualization{}},
		{"gce", map[string]string{"sys/class/dmi/id/bios_vendor": "Google\n", "sys/class/dmi/id/product_name": "Google Compute Engine\n"}, virtualization{id: "google"}},
		{"cpu flag", map[string]string{"proc/cpuinfo": "processor\t: 0\nflags\t\t: fpu vme hypervisor\n"}, virtualization{id: "vm-other"}},
		{"docker env", map[string]string{"proc/1/environ": "PATH=/bin\x00container=docker\x00", "sys/class/dmi/id/sys_vendor": "QEMU\n"}, virtualization{"docker", true}},
		{"nspawn file", map[string]string{"run/systemd/container": "systemd-nspawn\n"}, virtualization{"systemd-nspawn", true}},
		{"podman", map[string]string{"run/.containerenv": ""}, virtualization{"podman", true}},
		{"wsl", map[string]string{"proc/sys/kernel/osrelease": "5.15.90.1-microsoft-standard-WSL2\n"}, virtualization{"wsl", true}},
	} {
		root := t.TempDir()
		writeTree(t, root, c.files)
		if got := detectVirtualization(root, false); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		v    virtualization
		want string
		ok   bool
	}{
		{virtualization{id: "kvm"}, "vm", true},
		{virtualization{id: "kvm"}, "yes", true},
		{virtualization{id: "kvm"}, "kvm", true},
		{virtualization{id: "kvm"}, "qemu", false},
		{virtualization{id: "kvm"}, "container", false},
		{virtualization{"lxc", true}, "container", true},
		{virtualization{"lxc", true}, "vm", false},
		{virtualization{}, "no", true},
		{virtualization{}, "vm", false},
	} {
		if got := virtualizationMatches(c.v, c.want); got != c.ok {
			t.Errorf("%+v matching %q: %v", c.v, c.want, got)
		}
	}
}

func TestSecurityConditions(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"sys/firmware/efi/efivars/" + efiSecureBoot:       "\x06\x00\x00\x00\x01",
		"sys/module/apparmor/parameters/enabled":          "Y\n",
		"sys/firmware/efi/efivars/" + efiStubPcrKernImage: "\x06\x00\x00\x00\x0b\x00\x00\x00",
		"sys/class/tpmrm/tpmrm0/dev":                      "253:65536\n",
	})
	// lib/kcmdline reads $SYSTEMD_PROC_CMDLINE before ROOT/proc/cmdline.
	t.Setenv("SYSTEMD_PROC_CMDLINE", "quiet systemd.tpm2_measured_os=0")
	m := newExecTestManager(t, root)
	for tech, want := range map[string]bool{
		"uefi-secureboot": true, "apparmor": true, "selinux": false, "smack": false, "tpm2": true,
		"measured-uki": true, "measured-os": false, "cvm": false, "nonsense": false,
	} {
		if got := m.securityEnabled(tech); got != want {
			t.Errorf("ConditionSecurity=%s: %v, want %v", tech, got, want)
		}
	}
	t.Setenv("SYSTEMD_PROC_CMDLINE", "quiet")
	if !m.securityEnabled("measured-os") {
		t.Error("measured-os without the command line switch does not follow measured-uki")
	}
	t.Setenv("SYSTEMD_FORCE_MEASURE", "0")
	if m.securityEnabled("measured-uki") || m.securityEnabled("measured-os") {
		t.Error("SYSTEMD_FORCE_MEASURE=0 ignored")
	}
	if !m.conditionMet(unit.Condition{Kind: "KernelCommandLine", Value: "quiet"}) ||
		m.conditionMet(unit.Condition{Kind: "KernelCommandLine", Value: "quiet=1"}) {
		t.Error("ConditionKernelCommandLine=")
	}
}

func TestConfidentialVirtualization(t *testing.T) {
	for flags, want := range map[string]string{
		"fpu vme":                           "none",
		"fpu hypervisor":                    "none",
		"fpu sev sev_es hypervisor":         "sev-es",
		"fpu sev sev_es sev_snp hypervisor": "sev-snp",
		"tdx_guest hypervisor":              "tdx",
		"tdx_guest":                         "none", // not a guest
	} {
		root := t.TempDir()
		writeTree(t, root, map[string]string{"proc/cpuinfo": "processor\t: 0\nflags\t\t: " + flags + "\n"})
		if got := confidentialVirtualization(root); got != want {
			t.Errorf("flags %q: %q, want %q", flags, got, want)
		}
	}
	if got := (virtualization{}).name(); got != "none" {
		t.Errorf("bare metal is %q", got)
	}
}

func TestKernelCredentials(t *testing.T) {
	params := kcmdline.Parse(`quiet systemd.set_credential=a:hello:world systemd.set-credential=bad ` +
		`systemd.set_credential_binary=b:aGk= systemd.set_credential_binary=c:!! ` +
		`systemd.set_credential=../x:y systemd.set_credential="q:two words" systemd.set_credential=a:second`)
	var warnings int
	got := kernelCredentials(params, func(string, ...any) { warnings++ })
	k := "kernel command line"
	want := []systemCredential{{"a", []byte("hello:world"), k}, {"b", []byte("hi"), k}, {"q", []byte("two words"), k}, {"a", []byte("second"), k}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("credentials %q, want %q", got, want)
	}
	if warnings != 3 {
		t.Errorf("%d warnings, want 3 (no colon, bad base64, bad name)", warnings)
	}
}

func TestSMBIOSCredentials(t *testing.T) {
	root := t.TempDir()
	put := func(p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Two type 11 structures as qemu writes them: header, then NUL-terminated strings.
	put("/sys/firmware/dmi/entries/11-0/raw", "\x0b\x05\x00\x0b\x03"+
		"io.systemd.credential:greeting=hello\x00vendor data\x00io.systemd.credential:bad/name=x\x00\x00")
	put("/sys/firmware/dmi/entries/11-1/raw", "\x0b\x05\x01\x0b\x02"+
		"io.systemd.credential.binary:bin=AAE=\x00io.systemd.credential:greeting=again\x00\x00")
	var warnings int
	warn := func(string, ...any) { warnings++ }
	got := smbiosCredentials(root, false, warn)
	want := []systemCredential{{"greeting", []byte("hello"), "smbios"}, {"bin", []byte{0, 1}, "smbios"},
		{"greeting", []byte("again"), "smbios"}}
	if !reflect.DeepEqual(got, want) || warnings != 1 {
		t.Errorf("credentials %q (%d warnings), want %q and 1 warning", got, warnings, want)
	}
	// Not in a confidential VM, not in a container.
	put("/proc/cpuinfo", "flags\t\t: fpu hypervisor sev sev_es\n")
	if got := smbiosCredentials(root, false, warn); got != nil {
		t.Errorf("confidential VM: %q", got)
	}
	put("/proc/cpuinfo", "flags\t\t: fpu hypervisor\n")
	if got := smbiosCredentials(root, false, warn); len(got) != 3 {
		t.Errorf("plain VM: %q", got)
	}
	put("/run/systemd/container", "podman\n")
	if got := smbiosCredentials(root, false, warn); got != nil {
		t.Errorf("container: %q", got)
	}
}

// Importing system credentials must not leave /run/credentials closed to
// other users: the User= services' credential directories go below it.
func TestImportSystemCredentialsKeepsParentTraversable(t *testing.T) {
	root := t.TempDir()
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	t.Setenv("SYSTEMD_PROC_CMDLINE", "systemd.set_credential=a:b")
	m := newExecTestManager(t, root)
	m.importSystemCredentials()
	if b, err := os.ReadFile(filepath.Join(root, "run/credentials/@system/a")); err != nil || string(b) != "b" {
		t.Fatalf("system credential a: %q %v", b, err)
	}
	st, err := os.Stat(filepath.Join(root, "run/credentials"))
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("run/credentials: %v %v, want mode 0755", st, err)
	}
	if st, err := os.Stat(filepath.Join(root, "run/credentials/@system")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("run/credentials/@system: %v %v, want mode 0700", st, err)
	}
}
