package unit

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestEscapePath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/", "-"},
		{"/home/lennart", "home-lennart"},
		{"/mnt/a b", `mnt-a\x20b`},
		{"//srv//data/", "srv-data"},
		{"/.hidden/x", `\x2ehidden-x`},
		{"/dev/disk/by-label/home", `dev-disk-by\x2dlabel-home`},
		{"/a:b_c.d", "a:b_c.d"},
	} {
		got, err := EscapePath(c.in)
		if err != nil || got != c.want {
			t.Errorf("EscapePath(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if back := UnescapePath(got); back != filepath.Clean(c.in) {
			t.Errorf("UnescapePath(%q) = %q, want %q", got, back, filepath.Clean(c.in))
		}
	}
	for _, bad := range []string{"relative", "/a/../b", "/a/./b"} {
		if _, err := EscapePath(bad); err == nil {
			t.Errorf("EscapePath(%q): no error", bad)
		}
	}
}

// loadMount loads one unit file (a mount unit, or any other) through Load from a temporary
// root and returns it with its warnings.
func loadMount(t *testing.T, name, body string) (*Unit, []error) {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "etc/systemd/system")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var warns []error
	u, err := Load(root, name, &Options{Dirs: []string{"/etc/systemd/system"}, Warn: func(e error) { warns = append(warns, e) }})
	if err != nil {
		t.Fatal(err)
	}
	return u, warns
}

func TestMountDependencies(t *testing.T) {
	u, warns := loadMount(t, "srv-data.mount", "[Mount]\nWhat=/dev/vdb1\nWhere=/srv/data\nType=ext4\n")
	if u.LoadState != Loaded || len(warns) != 0 {
		t.Fatalf("load state %s, warnings %v", u.LoadState, warns)
	}
	if !reflect.DeepEqual(u.Unit.BindsTo, []string{"dev-vdb1.device"}) {
		t.Errorf("BindsTo = %v", u.Unit.BindsTo)
	}
	if !reflect.DeepEqual(u.Unit.After, []string{"dev-vdb1.device"}) {
		t.Errorf("After = %v", u.Unit.After)
	}
	im := u.Implicit
	if !containsName(im[DepRequires], "-.mount") || !containsName(im[DepRequires], "srv.mount") ||
		!containsName(im[DepAfter], "srv.mount") || !containsName(im[DepAfter], "local-fs-pre.target") {
		t.Errorf("implicit Requires=%v After=%v", im[DepRequires], im[DepAfter])
	}
	if !containsName(im[DepBefore], "umount.target") || !containsName(im[DepBefore], "local-fs.target") {
		t.Errorf("implicit Before = %v", im[DepBefore])
	}
	if got := u.Mount.ParentMounts(); !reflect.DeepEqual(got, []string{"-.mount", "srv.mount"}) {
		t.Errorf("ParentMounts = %v", got)
	}

	u, _ = loadMount(t, "mnt-nfs.mount", "[Mount]\nWhat=server:/export\nWhere=/mnt/nfs\nType=nfs\nOptions=nofail\n")
	if im := u.Implicit; !containsName(im[DepWants], "network-online.target") || containsName(im[DepBefore], "remote-fs.target") {
		t.Errorf("nfs nofail: implicit Wants=%v Before=%v", im[DepWants], im[DepBefore])
	}
	u, _ = loadMount(t, "tmp.mount", "[Unit]\nDefaultDependencies=no\n[Mount]\nWhat=tmpfs\nWhere=/tmp\nType=tmpfs\n")
	if im := u.Implicit; containsName(im[DepBefore], "umount.target") || containsName(im[DepAfter], "swap.target") {
		t.Errorf("DefaultDependencies=no: implicit %v", im)
	}
}

func TestMountRefusals(t *testing.T) {
	for name, body := range map[string]string{
		"srv-data.mount": "[Mount]\nWhat=/dev/vdb1\nWhere=/srv/other\n",
		"srv.mount":      "[Mount]\nWhere=/srv\n",
		// a relative Where= once made the implicit dependencies loop for ever
		"srv-rel.mount": "[Mount]\nWhat=/dev/vdb1\nWhere=yes\n",
	} {
		u, warns := loadMount(t, name, body)
		if u.LoadState != BadSetting || len(warns) == 0 {
			t.Errorf("%s: load state %s, warnings %v; want bad-setting with a warning", name, u.LoadState, warns)
		}
	}
}

func containsName(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
