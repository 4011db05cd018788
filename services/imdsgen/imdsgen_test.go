package imdsgen

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stead-os/stead/integration/fakecloud"
	"github.com/stead-os/stead/lib/dmi"
	"github.com/stead-os/stead/lib/kcmdline"
)

func noCmdlineEnv(t *testing.T) {
	t.Setenv(kcmdline.EnvOverride, "")
	os.Unsetenv(kcmdline.EnvOverride)
}

// fakeRoot builds a root with the repository's hwdb, the DMI identity d and cmdline.
func fakeRoot(t *testing.T, d fakecloud.DMI, cmdline string) string {
	t.Helper()
	root := t.TempDir()
	hw := filepath.Join(root, "usr/lib/udev/hwdb.d")
	must(t, os.MkdirAll(hw, 0o755))
	b, err := os.ReadFile("../../hwdb/40-imds.hwdb")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(hw, "40-imds.hwdb"), b, 0o644))
	if d.SysVendor != "" {
		dir := filepath.Join(root, dmi.AltDir)
		must(t, os.MkdirAll(dir, 0o755))
		for name, v := range map[string]string{dmi.ModaliasFile: d.Modalias(), dmi.SysVendor: d.SysVendor,
			dmi.ProductName: d.ProductName, dmi.BIOSVendor: d.BIOSVendor, dmi.ChassisAssetTag: d.ChassisAssetTag} {
			if v != "" {
				must(t, os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o444))
			}
		}
	}
	must(t, os.MkdirAll(filepath.Join(root, "proc"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "proc/cmdline"), []byte(cmdline+"\n"), 0o444))
	return root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// generated lists what Run wrote: "path" for files, "path -> target" for links.
func generated(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		must(t, err)
		rel, _ := filepath.Rel(dir, p)
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
		case e.Type().IsRegular():
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

func runGen(t *testing.T, root string) (Decision, []string) {
	t.Helper()
	dir := t.TempDir()
	d, err := Run(Options{Root: root, Dir: dir})
	must(t, err)
	return d, generated(t, dir)
}

var (
	early  = "sysinit.target.wants/systemd-imds-early-network.service -> /usr/lib/systemd/system/systemd-imds-early-network.service"
	sock   = "sockets.target.wants/systemd-imdsd.socket -> /usr/lib/systemd/system/systemd-imdsd.socket"
	msock  = "sockets.target.wants/systemd-imds-metrics.socket -> /usr/lib/systemd/system/systemd-imds-metrics.socket"
	imp    = "sysinit.target.wants/systemd-imds-import.service -> /usr/lib/systemd/system/systemd-imds-import.service"
	dropS  = "systemd-imdsd.service.d/50-dmi-id.conf"
	dropEN = "systemd-imds-early-network.service.d/50-dmi-id.conf"
)

func TestGeneratorClouds(t *testing.T) {
	noCmdlineEnv(t)
	for _, p := range fakecloud.Providers() {
		t.Run(p.Vendor, func(t *testing.T) {
			d, files := runGen(t, fakeRoot(t, p.DMI, "quiet"))
			if !p.Upstream && !d.Enabled {
				t.Skipf("%s not in our hwdb: %s", p.Vendor, d.Reason)
			}
			if !d.Enabled || d.Vendor != p.Vendor {
				t.Fatalf("decision %+v", d)
			}
			want := []string{sock, msock, early, dropEN, dropS}
			slices.Sort(want)
			if !slices.Equal(files, want) {
				t.Errorf("got %q", files)
			}
		})
	}
}

func TestGeneratorNotCloud(t *testing.T) {
	noCmdlineEnv(t)
	for _, d := range []fakecloud.DMI{
		{SysVendor: "QEMU", ProductName: "Standard PC (i440FX + PIIX, 1996)", BIOSVendor: "SeaBIOS"},
		{SysVendor: "Microsoft Corporation", ProductName: "Virtual Machine", BIOSVendor: "Microsoft Corporation",
			ChassisAssetTag: "6144-6561-0227-7426-0476-1817-42"},
		{}, // no DMI at all
	} {
		if dec, files := runGen(t, fakeRoot(t, d, "")); dec.Enabled || len(files) != 0 {
			t.Errorf("%+v: %+v %q", d, dec, files)
		}
	}
}

func TestGeneratorCmdline(t *testing.T) {
	noCmdlineEnv(t)
	ec2 := fakecloud.DMI{SysVendor: "Amazon EC2", ProductName: "m5.large", BIOSVendor: "Amazon EC2"}
	qemu := fakecloud.DMI{SysVendor: "QEMU", ProductName: "pc", BIOSVendor: "SeaBIOS"}
	for _, tc := range []struct {
		dmi     fakecloud.DMI
		cmdline string
		want    []string
	}{
		{ec2, "systemd.imds=0", nil},
		{ec2, "systemd.imds=no systemd.imds.import=1", nil},
		{ec2, "systemd.imds=auto systemd.imds.import", []string{early, sock, msock, dropS, dropEN}}, // a bare switch is ignored
		{ec2, "systemd.imds.import=1 systemd.imds.network=off", []string{sock, msock, imp, dropS}},
		{ec2, "systemd.imds.network=locked", []string{early, sock, msock, dropS, dropEN}},
		{ec2, "systemd.imds.network=bogus systemd.imds.import=bogus", []string{early, sock, msock, dropS, dropEN}},
		{qemu, "systemd.imds=1", []string{early, sock, msock, dropS, dropEN}},
		{qemu, "systemd.imds", nil},
		{qemu, "systemd.imds=yes systemd.imds.import=yes systemd.imds.network=unlocked", []string{early, sock, msock, imp, dropS, dropEN}},
		{qemu, "systemd.imds=auto", nil},
		{qemu, "systemd.imds=1 systemd.imds", []string{early, sock, msock, dropS, dropEN}},
		{qemu, "systemd.imds=1 systemd.imds=0", nil},
		{qemu, "systemd.imds=0 systemd.imds=1 systemd.imds.import=1 systemd.imds.import=bad", []string{early, sock, msock, imp, dropS, dropEN}},
	} {
		_, files := runGen(t, fakeRoot(t, tc.dmi, tc.cmdline))
		slices.Sort(tc.want)
		if !slices.Equal(files, tc.want) {
			t.Errorf("%s: got %q want %q", tc.cmdline, files, tc.want)
		}
	}
}

func TestGeneratorContainer(t *testing.T) {
	noCmdlineEnv(t)
	ec2 := fakecloud.DMI{SysVendor: "Amazon EC2", ProductName: "m5.large", BIOSVendor: "Amazon EC2"}
	root := fakeRoot(t, ec2, "")
	must(t, os.MkdirAll(filepath.Join(root, "run/systemd"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "run/systemd/container"), []byte("docker\n"), 0o644))
	if d, files := runGen(t, root); d.Enabled || len(files) != 0 || !strings.Contains(d.Reason, "docker") {
		t.Errorf("container: %+v %q", d, files)
	}
	root = fakeRoot(t, ec2, "")
	must(t, os.MkdirAll(filepath.Join(root, "proc/1"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "proc/1/environ"), []byte("HOME=/\x00container=podman\x00"), 0o644))
	if d, _ := runGen(t, root); d.Enabled {
		t.Errorf("podman: %+v", d)
	}
	// Explicitly enabled: containers do not matter.
	root = fakeRoot(t, ec2, "systemd.imds=1")
	must(t, os.MkdirAll(filepath.Join(root, "run/systemd"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "run/systemd/container"), []byte("docker\n"), 0o644))
	if d, _ := runGen(t, root); !d.Enabled {
		t.Errorf("explicit: %+v", d)
	}
}

func TestDropInContent(t *testing.T) {
	noCmdlineEnv(t)
	dir := t.TempDir()
	_, err := Run(Options{Root: fakeRoot(t, fakecloud.DMI{}, "systemd.imds=1"), Dir: dir})
	must(t, err)
	b, err := os.ReadFile(filepath.Join(dir, dropS))
	must(t, err)
	if !strings.Contains(string(b), "[Unit]\nWants=sys-devices-virtual-dmi-id.device\nAfter=sys-devices-virtual-dmi-id.device\n") {
		t.Errorf("drop-in:\n%s", b)
	}
}
