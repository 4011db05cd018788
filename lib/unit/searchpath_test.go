package unit

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSearchPathGeneratorDirs: the generator output directories rank as
// systemd.unit(5) puts them — early above /etc, normal between
// /run/systemd/system and /usr, late below /usr — for unit files, masks and
// drop-ins alike.
func TestSearchPathGeneratorDirs(t *testing.T) {
	root := t.TempDir()
	desc := func(d string) string { return "[Unit]\nDescription=" + d + "\n" }
	// a.target: in every directory; the early generator wins over /etc.
	// b.target: /etc over the normal generator. c.target: /run/systemd/system over the normal
	// generator. d.target: the normal generator over /usr. e.target: /usr over late.
	// f.target: only the late generator has it.
	for _, f := range []struct{ dir, name string }{
		{GeneratorEarlyDir, "a"}, {"/etc/systemd/system", "a"}, {GeneratorLateDir, "a"},
		{"/etc/systemd/system", "b"}, {GeneratorNormalDir, "b"},
		{"/run/systemd/system", "c"}, {GeneratorNormalDir, "c"},
		{GeneratorNormalDir, "d"}, {"/usr/lib/systemd/system", "d"},
		{"/usr/lib/systemd/system", "e"}, {GeneratorLateDir, "e"},
		{GeneratorLateDir, "f"},
	} {
		write(t, root, filepath.Join(f.dir, f.name+".target"), desc(f.dir))
	}
	want := map[string]string{
		"a": GeneratorEarlyDir, "b": "/etc/systemd/system", "c": "/run/systemd/system",
		"d": GeneratorNormalDir, "e": "/usr/lib/systemd/system", "f": GeneratorLateDir,
	}
	for name, dir := range want {
		u, err := Load(root, name+".target", nil)
		if err != nil {
			t.Fatal(err)
		}
		if u.LoadState != Loaded || u.Unit.Description != dir || u.Fragment != filepath.Join(dir, name+".target") {
			t.Errorf("%s.target: state %s, description %q, fragment %s; want it from %s", name, u.LoadState, u.Unit.Description, u.Fragment, dir)
		}
	}

	// A mask in the early generator directory hides /etc's file; one in the late directory
	// hides nothing.
	write(t, root, "/etc/systemd/system/m.target", desc("etc"))
	write(t, root, "/usr/lib/systemd/system/n.target", desc("usr"))
	for _, p := range []string{GeneratorEarlyDir + "/m.target", GeneratorLateDir + "/n.target"} {
		if err := os.Symlink("/dev/null", filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	if u, _ := Load(root, "m.target", nil); u.LoadState != Masked {
		t.Errorf("m.target: %s, want masked by the early generator directory", u.LoadState)
	}
	if u, _ := Load(root, "n.target", nil); u.LoadState != Loaded || u.Unit.Description != "usr" {
		t.Errorf("n.target: %s %q, want /usr's file", u.LoadState, u.Unit.Description)
	}

	// Drop-ins and .wants/ from generator directories apply; the same drop-in name in the
	// early directory hides /etc's.
	write(t, root, GeneratorNormalDir+"/e.target.d/x.conf", "[Unit]\nWants=w1.service\n")
	write(t, root, "/etc/systemd/system/e.target.d/y.conf", "[Unit]\nWants=etc.service\n")
	write(t, root, GeneratorEarlyDir+"/e.target.d/y.conf", "[Unit]\nWants=early.service\n")
	write(t, root, GeneratorLateDir+"/w2.service", "[Service]\nExecStart=/bin/true\n")
	if err := os.MkdirAll(filepath.Join(root, GeneratorLateDir, "e.target.wants"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../w2.service", filepath.Join(root, GeneratorLateDir, "e.target.wants", "w2.service")); err != nil {
		t.Fatal(err)
	}
	u, err := Load(root, "e.target", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, w := range u.Unit.Wants {
		got[w] = true
	}
	if !got["w1.service"] || !got["early.service"] || got["etc.service"] || !got["w2.service"] {
		t.Errorf("e.target wants %q (drop-ins %q), want w1, early and w2 but not etc", u.Unit.Wants, u.DropIns)
	}
}
