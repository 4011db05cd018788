package unit

import (
	"os"
	"path/filepath"
	"testing"
)

func installTree(t *testing.T) *Installer {
	t.Helper()
	root := t.TempDir()
	for p, c := range map[string]string{
		"usr/lib/systemd/system/a.service":   "[Install]\nWantedBy=multi-user.target\nAlias=b.service\nAlso=c.socket\n",
		"usr/lib/systemd/system/c.socket":    "[Install]\nWantedBy=sockets.target\n",
		"usr/lib/systemd/system/t@.service":  "[Install]\nWantedBy=x.target\nDefaultInstance=one\n",
		"usr/lib/systemd/system/s.service":   "[Service]\n",
		"etc/systemd/system-preset/1.preset": "enable t@.service two three\ndisable a.service\n",
	} {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &Installer{Root: root}
}

func count(cs Changes, typ ChangeType) int {
	n := 0
	for _, c := range cs {
		if c.Type == typ {
			n++
		}
	}
	return n
}

func link(t *testing.T, in *Installer, p string) string {
	t.Helper()
	s, err := os.Readlink(in.host(p))
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return s
}

func TestEnableDisableState(t *testing.T) {
	in := installTree(t)
	if s, _ := in.State("a.service"); s != StateDisabled {
		t.Errorf("state %q", s)
	}
	cs, carries, err := in.Enable([]string{"a.service"})
	if err != nil || !carries || count(cs, ChangeSymlink) != 3 || count(cs, ChangeDestinationNotPresent) != 2 {
		t.Fatalf("enable: %+v %v %v", cs, carries, err)
	}
	if got := link(t, in, "/etc/systemd/system/multi-user.target.wants/a.service"); got != "/usr/lib/systemd/system/a.service" {
		t.Errorf("wants link → %q", got)
	}
	link(t, in, "/etc/systemd/system/b.service")
	link(t, in, "/etc/systemd/system/sockets.target.wants/c.socket")
	for name, want := range map[string]string{"a.service": StateEnabled, "b.service": StateAlias, "c.socket": StateEnabled,
		"s.service": StateStatic, "t@.service": StateDisabled} {
		if s, err := in.State(name); s != want {
			t.Errorf("%s: %q %v, want %q", name, s, err, want)
		}
	}
	if _, err := in.State("none.service"); err != ErrNoUnitFile {
		t.Errorf("missing unit: %v", err)
	}
	if _, carries, _ := in.Enable([]string{"s.service"}); carries {
		t.Error("s.service has no [Install] rules")
	}
	cs, _, err = in.Disable([]string{"a.service"})
	if err != nil || count(cs, ChangeUnlink) != 3 {
		t.Fatalf("disable: %+v %v", cs, err)
	}
	if _, err := os.Stat(in.host("/etc/systemd/system/multi-user.target.wants")); !os.IsNotExist(err) {
		t.Error("empty .wants directory left behind")
	}
}

func TestPresetInstances(t *testing.T) {
	in := installTree(t)
	in.Enable([]string{"a.service"})
	if _, err := in.Preset([]string{"t@.service", "a.service"}, PresetFull); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"x.target.wants/t@two.service", "x.target.wants/t@three.service"} {
		link(t, in, "/etc/systemd/system/"+p)
	}
	if _, err := os.Lstat(in.host("/etc/systemd/system/b.service")); !os.IsNotExist(err) {
		t.Error("preset disable left the alias")
	}
	if s, _ := in.State("t@one.service"); s != StateDisabled {
		t.Errorf("t@one: %q", s)
	}
}

func TestMaskUnmask(t *testing.T) {
	in := installTree(t)
	if _, err := in.Mask([]string{"s.service"}); err != nil {
		t.Fatal(err)
	}
	if s, _ := in.State("s.service"); s != StateMasked {
		t.Errorf("masked: %q", s)
	}
	if _, _, err := in.Enable([]string{"s.service"}); err == nil {
		t.Error("enabled a masked unit")
	}
	if _, err := in.Unmask([]string{"s.service"}); err != nil {
		t.Fatal(err)
	}
	if s, _ := in.State("s.service"); s != StateStatic {
		t.Errorf("unmasked: %q", s)
	}
}

func FuzzReadPresets(f *testing.F) {
	f.Add("enable a@.service x y\ndisable *\nignore b.service\nbogus\n")
	f.Fuzz(func(t *testing.T, content string) {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "etc/systemd/system-preset"), 0o755)
		os.WriteFile(filepath.Join(root, "etc/systemd/system-preset/x.preset"), []byte(content), 0o644)
		in := &Installer{Root: root}
		ps, err := in.ReadPresets()
		if err != nil {
			t.Fatal(err)
		}
		ps.Query("a@b.service")
		ps.Query("a@.service")
	})
}

func FuzzInstallSection(f *testing.F) {
	f.Add("[Install]\nWantedBy=a.target %n\nAlias=%p-x.service\nAlso=\"q.service\"\nDefaultInstance=%i\n")
	f.Fuzz(func(t *testing.T, content string) {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "usr/lib/systemd/system"), 0o755)
		os.WriteFile(filepath.Join(root, "usr/lib/systemd/system/f@.service"), []byte(content), 0o644)
		in := &Installer{Root: root}
		in.Enable([]string{"f@i.service"})
		in.State("f@i.service")
		in.Disable([]string{"f@.service"})
	})
}
