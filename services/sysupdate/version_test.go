package sysupdate

import "testing"

func TestCompareVersions(t *testing.T) {
	for _, c := range VersionExamples {
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
	for _, c := range VersionExamples {
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
