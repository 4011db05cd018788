package vm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

func TestImage(t *testing.T) {
	k, err := FindKernel()
	if err != nil {
		harness.Require(t, err.Error(), prereqPackages["kernel"])
	}
	if err := checkStatic(BusyboxPath); err != nil {
		harness.Require(t, "a static busybox: "+err.Error(), prereqPackages["busybox"])
	}
	harness.NeedRoot(t, "extracting device nodes")
	dir := t.TempDir()
	host := filepath.Join(dir, "hostfile")
	os.WriteFile(host, []byte("from the host"), 0o640)
	o := &Options{
		Init:    BusyboxPath,
		Dirs:    []string{"/var/lib/x"},
		Modules: []string{"virtio_blk"},
		Files: map[string]File{
			"/etc/a/b/c": {Data: []byte("data")},
			"opt/host":   {Source: host},
		},
	}
	im, err := buildImage(k, BusyboxPath /* stands in for the agent */, o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := im.write(&buf); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	os.Mkdir(root, 0o755)
	cmd := exec.Command(BusyboxPath, "cpio", "-i", "-d")
	cmd.Dir, cmd.Stdin = root, &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v\n%s", err, out)
	}
	check := func(p string, want string, perm os.FileMode) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Error(err)
			return
		}
		if want != "" && string(b) != want {
			t.Errorf("%s = %q, want %q", p, b, want)
		}
		if st, _ := os.Stat(filepath.Join(root, p)); perm != 0 && st.Mode().Perm() != perm {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), perm)
		}
	}
	check("etc/a/b/c", "data", 0o644)
	check("opt/host", "from the host", 0o640)
	check("init", "", 0o755)
	check(WrapperInit[1:], "", 0o755)
	if l, err := os.Readlink(filepath.Join(root, "bin/sh")); err != nil || l != "/bin/busybox" {
		t.Errorf("bin/sh → %q %v", l, err)
	}
	if st, err := os.Stat(filepath.Join(root, "dev/console")); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("dev/console: %v %v", st, err)
	}
	if st, err := os.Stat(filepath.Join(root, "tmp")); err != nil || st.Mode()&os.ModeSticky == 0 {
		t.Errorf("tmp: %v %v", st, err)
	}
	if st, err := os.Stat(filepath.Join(root, "var/lib/x")); err != nil || !st.IsDir() {
		t.Errorf("var/lib/x: %v", err)
	}
	list, err := os.ReadFile(filepath.Join(root, ModulesList))
	if err != nil {
		t.Fatal(err)
	}
	mods := strings.Fields(string(list))
	if len(mods) == 0 || !strings.HasSuffix(mods[len(mods)-1], "/virtio_blk.ko") {
		t.Errorf("module list: %q", mods)
	}
	for _, m := range mods {
		if _, err := os.Stat(filepath.Join(root, m)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "lib/modules", k.Version, "modules.dep")); err != nil {
		t.Error(err)
	}
}
