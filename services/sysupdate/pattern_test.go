package sysupdate

import (
	"testing"
)

func TestParsePattern(t *testing.T) {
	for _, bad := range []string{"foo", "@v@u", "@v_@v", "foo@", "@x_@v", "a*@v", "**/@v", "@v/", "a//@v"} {
		if _, err := ParsePattern(bad, false); err == nil {
			t.Errorf("ParsePattern(%q) accepted", bad)
		}
	}
	for _, good := range []string{"@v", "foo_@v.raw", "foo_@v_@u.root.xz", "a@@b_@v", "dir_@v/bar.efi", "x_@v+@l-@d.efi"} {
		if _, err := ParsePattern(good, false); err != nil {
			t.Errorf("ParsePattern(%q): %v", good, err)
		}
	}
	if _, err := ParsePattern("**/foo_@v.efi", true); err != nil {
		t.Errorf("source **/ prefix refused: %v", err)
	}
	if _, err := ParsePattern("**/foo_@v.efi", false); err == nil {
		t.Errorf("target **/ prefix accepted")
	}
}

func TestPatternMatch(t *testing.T) {
	type want struct {
		ok      bool
		version string
	}
	cases := []struct {
		pattern, name string
		want          want
	}{
		{"app_@v.img", "app_1.img", want{true, "1"}},
		{"app_@v.img", "app_1.2.img", want{true, "1.2"}},
		{"app_@v.img", "app_1.img.part", want{false, ""}},
		{"app_@v.img", "app_1.imgfoo", want{false, ""}},
		{"app_@v.img", "app_.img", want{false, ""}},
		{"app_@v.img", "app_6x.img", want{true, "6x"}},
		{"app_@v.img", "app_1~rc.img", want{false, ""}},
		{"a@@b_@v", "a@b_3", want{true, "3"}},
		{"foo_@v/bar.efi", "foo_7/bar.efi", want{true, "7"}},
		{"**/foo_@v.efi", "x/y/foo_9.efi", want{true, "9"}},
		{"k_@v+@l-@d.efi", "k_5+3-0.efi", want{true, "5"}},
		{"k_@v+@l-@d.efi", "k_5+x-0.efi", want{false, ""}},
	}
	for _, c := range cases {
		p, err := ParsePattern(c.pattern, true)
		if err != nil {
			t.Fatal(err)
		}
		m, ok := p.Match(c.name)
		if ok != c.want.ok || m.Version != c.want.version {
			t.Errorf("%q on %q: %v %q, want %v %q", c.pattern, c.name, ok, m.Version, c.want.ok, c.want.version)
		}
	}
}

func TestPatternEveryWildcard(t *testing.T) {
	p, err := ParsePattern("x_@v_@u_@f_@a_@g_@r_@t_@m_@s_@d_@l_@h", false)
	if err != nil {
		t.Fatal(err)
	}
	name := "x_1.5_4f68bce3e8cd4db196e7fbcaf984b709_8000000000000000_1_0_1_1700000000000000_644_4096_2_3_" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	m, ok := p.Match(name)
	if !ok {
		t.Fatalf("no match")
	}
	if m.Version != "1.5" || *m.PartitionUUID != "4f68bce3-e8cd-4db1-96e7-fbcaf984b709" || *m.Flags != 1<<63 ||
		!*m.NoAuto || *m.GrowFS || !*m.ReadOnly || *m.Mtime != 1700000000000000 || *m.Mode != 0o644 ||
		*m.Size != 4096 || *m.TriesDone != 2 || *m.TriesLeft != 3 || m.SHA256[0] != 0xe3 {
		t.Errorf("fields: %+v", m)
	}
	back, err := p.Format(m)
	if err != nil || back != name {
		t.Errorf("Format = %q, %v; want %q", back, err, name)
	}
	// Upstream refuses world-writable or set-uid modes from names.
	if _, ok := p.Match(stringsReplace(name, "_644_", "_4755_")); ok {
		t.Errorf("mode 4755 accepted")
	}
}

func stringsReplace(s, a, b string) string {
	for i := 0; i+len(a) <= len(s); i++ {
		if s[i:i+len(a)] == a {
			return s[:i] + b + s[i+len(a):]
		}
	}
	return s
}

func FuzzPattern(f *testing.F) {
	f.Add("app_@v.img", "app_1.img")
	f.Add("x_@v_@u_@f", "x_1_00000000000000000000000000000000_ff")
	f.Add("**/k_@v+@l-@d.efi", "a/k_1+2-3.efi")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		p, err := ParsePattern(pattern, true)
		if err != nil {
			return
		}
		m, ok := p.Match(name)
		if !ok {
			return
		}
		if !ValidVersion(m.Version) {
			t.Fatalf("matched invalid version %q", m.Version)
		}
		// Formatting what a match yields works (every wildcard has a value) and, where the
		// values print as they were written, gives the name back.
		s, err := p.Format(m)
		if err != nil {
			t.Fatalf("%q: Format of a match: %v", pattern, err)
		}
		if !p.AnyDir && !p.Has('u') && !p.Has('f') && !p.Has('a') && !p.Has('r') && !p.Has('g') &&
			!p.Has('t') && !p.Has('m') && !p.Has('s') && !p.Has('d') && !p.Has('l') && !p.Has('h') && s != name {
			t.Fatalf("%q: %q formatted back as %q", pattern, name, s)
		}
	})
}
