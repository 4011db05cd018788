package suite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFiles builds the image's file list from a fake checkout: units/ and hwdb/ go where a
// distribution installs them, sysusers lines become accounts, binaries land at the paths
// the units name, and a missing optional package is left out while a missing required
// binary is an error.
func TestFiles(t *testing.T) {
	repo := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("units/foo.socket", "[Socket]\nListenStream=/run/foo\n")
	write("units/foo.sysusers", "# comment\nu foo - \"Foo daemon\"\ng ignored -\nu bar -\n")
	write("hwdb/40-x.hwdb", "dmi:*\n IMDS_VENDOR=x\n")
	for _, b := range Binaries {
		if !b.Optional {
			write(b.Pkg+"/main.go", "package main\n")
		}
	}
	var asked []string
	files, err := Files(repo, func(pkg string) (string, error) {
		asked = append(asked, pkg)
		return "/built/" + filepath.Base(pkg), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, src := range map[string]string{
		UnitDir + "/foo.socket":          filepath.Join(repo, "units/foo.socket"),
		"/usr/lib/sysusers.d/foo.conf":   filepath.Join(repo, "units/foo.sysusers"),
		"/usr/lib/udev/hwdb.d/40-x.hwdb": filepath.Join(repo, "hwdb/40-x.hwdb"),
		"/usr/lib/stead/imdsd":           "/built/imdsd",
		"/usr/bin/imds":                  "/built/imds",
	} {
		if files[p].Source != src {
			t.Errorf("%s: %+v, want from %s", p, files[p], src)
		}
	}
	if _, ok := files[UnitDir+"/foo.sysusers"]; ok {
		t.Error("a sysusers file installed as a unit")
	}
	if _, ok := files["/usr/bin/steadctl"]; ok || strings.Contains(strings.Join(asked, " "), "steadctl") {
		t.Errorf("optional steadctl not in the checkout, yet asked for (%v)", asked)
	}
	passwd := string(files["/etc/passwd"].Data)
	for _, want := range []string{"root:x:0:0:", "foo:x:990:990:", "bar:x:989:989:"} {
		if !strings.Contains(passwd, want) {
			t.Errorf("/etc/passwd lacks %q:\n%s", want, passwd)
		}
	}
	if strings.Contains(passwd, "ignored") || !strings.Contains(string(files["/etc/group"].Data), "foo:x:990:") {
		t.Errorf("accounts: passwd %q group %q", passwd, files["/etc/group"].Data)
	}
	if dt := string(files["/etc/systemd/system/default.target"].Data); !strings.Contains(dt, "Wants=stead-vm-agent.service systemd-imdsd.socket") {
		t.Errorf("default.target: %s", dt)
	}

	// A required binary that is not built is an error.
	if _, err := Files(repo, func(pkg string) (string, error) { return "", os.ErrNotExist }); err == nil {
		t.Error("no error for missing binaries")
	}
}
