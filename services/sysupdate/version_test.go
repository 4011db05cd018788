package sysupdate

import "testing"

// versionCases are pairs and their order; integration's TestSysupdateCompareVersions checks
// the same table against upstream's `systemd-analyze compare-versions`.
var VersionCases = []struct {
	A, B string
	Want int
}{
	{"1", "2", -1},
	{"2", "1", 1},
	{"1", "1", 0},
	{"1.2", "1.10", -1},
	{"1.02", "1.2", 0},
	{"123", "123a", -1},
	{"123a", "123.a", 1},
	{"123.a", "123", 1},
	{"1~rc1", "1", -1},
	{"1~rc1", "1~rc2", -1},
	{"1~", "1", -1},
	{"1-1", "1.1", -1},
	{"1^1", "1", 1},
	{"1^1", "1.1", -1},
	{"1-9", "1.0-1", -1},
	{"247.2-3.1.fc33.x86_64", "247.2-3.1.fc33.x86_64", 0},
	{"5.11.0-0.rc5.20210128git76c057c84d28.137.fc34", "5.11.0-0.rc5.20210128git76c057c84d28.138.fc34", -1},
	{"a", "b", -1},
	{"abc", "abcd", -1},
	{"1_a", "1a", 0},
	{"", "1", -1},
	{"", "", 0},
	{"1", "", 1},
	{"abc", "1", -1},
	{"00", "0", 0},
	{"1.0", "1", 1},
	{"1..0", "1.0", -1},
	{"foo-1.2", "foo-1.10", -1},
	{"2024.01.15", "2024.1.16", -1},
	{"1+git", "1", 1},
}

func TestCompareVersions(t *testing.T) {
	for _, c := range VersionCases {
		if got := CompareVersions(c.A, c.B); got != c.Want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.A, c.B, got, c.Want)
		}
		if got := CompareVersions(c.B, c.A); got != -c.Want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d (antisymmetry)", c.B, c.A, got, -c.Want)
		}
	}
}

func TestValidVersion(t *testing.T) {
	for v, want := range map[string]bool{"1": true, "1.2-3_4+5,6": true, "": false, "1/2": false, "..": false,
		"1~rc": false, "1 2": false, "v1.0": true} {
		if ValidVersion(v) != want {
			t.Errorf("ValidVersion(%q) = %v", v, !want)
		}
	}
}

func FuzzCompareVersions(f *testing.F) {
	for _, c := range VersionCases {
		f.Add(c.A, c.B)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if x, y := CompareVersions(a, b), CompareVersions(b, a); x != -y {
			t.Fatalf("%q vs %q: %d and %d", a, b, x, y)
		}
		if CompareVersions(a, a) != 0 {
			t.Fatalf("%q differs from itself", a)
		}
	})
}
