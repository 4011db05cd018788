package conf

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestDirCacheSameAnswers checks that lookups through a DirCache find what lookups without
// one find: main files, masks, symlinked directories, drop-ins, absent names and
// directories.
func TestDirCacheSameAnswers(t *testing.T) {
	root := t.TempDir()
	write := func(p, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(root+p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root+p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("/etc/x/a.service", "[Unit]\n")
	write("/usr/lib/x/a.service", "[Unit]\n")
	write("/usr/lib/x/b.service", "[Unit]\n")
	write("/usr/lib/x/b.service.d/10-a.conf", "[Unit]\n")
	write("/etc/x/b.service.d/20-b.conf", "[Unit]\n")
	write("/usr/lib/x/service.d/05-all.conf", "[Unit]\n")
	if err := os.Symlink("/dev/null", root+"/etc/x/c.service"); err != nil {
		t.Fatal(err)
	}
	write("/usr/lib/x/c.service", "[Unit]\n")
	if err := os.MkdirAll(root+"/srv/units", 0o755); err != nil {
		t.Fatal(err)
	}
	write("/srv/units/d.service", "[Unit]\n")
	if err := os.MkdirAll(root+"/run", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/srv/units", root+"/run/x"); err != nil { // an absolute link, in-root
		t.Fatal(err)
	}
	dirs := []string{"/etc/x", "/run/x", "/usr/lib/x", "/nonexistent/x"}
	c := NewDirCache()
	for _, name := range []string{"a.service", "b.service", "c.service", "d.service", "e.service"} {
		p1, m1, err1 := FindMain(root, dirs, name)
		p2, m2, err2 := c.FindMain(root, dirs, name)
		if p1 != p2 || m1 != m2 || (err1 == nil) != (err2 == nil) {
			t.Errorf("FindMain %s: %q %v %v without the cache, %q %v %v with it", name, p1, m1, err1, p2, m2, err2)
		}
		var dd []string
		for _, d := range dirs {
			dd = append(dd, d+"/"+name+".d", d+"/service.d")
		}
		d1, err1 := FindDropins(root, dd)
		d2, err2 := c.FindDropins(root, dd)
		if !reflect.DeepEqual(d1, d2) || (err1 == nil) != (err2 == nil) {
			t.Errorf("FindDropins %s: %q %v without the cache, %q %v with it", name, d1, err1, d2, err2)
		}
	}
	if !c.Absent(root, "/etc/x/e.service") || c.Absent(root, "/etc/x/a.service") || !c.Absent(root, "/nonexistent/x/a.service") {
		t.Error("Absent answers wrongly")
	}
	if c.Absent("/", "/etc/x/e.service") { // another root: no answer
		t.Error("Absent answered for another root")
	}
	var nilCache *DirCache
	if nilCache.Absent(root, "/etc/x/e.service") {
		t.Error("the nil cache answered")
	}
}
