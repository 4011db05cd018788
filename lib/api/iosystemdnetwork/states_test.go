package iosystemdnetwork

import "testing"

func TestLinkOnline(t *testing.T) {
	def := OperRange{"degraded", "routable"}
	routable := OperRange{"routable", "routable"}
	for _, c := range []struct {
		oper, v4, v6 string
		r            OperRange
		family       string
		want         bool
	}{
		{"routable", "routable", "off", def, "any", true},
		{"degraded", "degraded", "off", def, "", true},
		{"carrier", "off", "off", def, "any", false},
		{"no-carrier", "off", "off", def, "any", false},
		{"degraded", "degraded", "off", routable, "any", false},
		{"routable", "routable", "off", routable, "any", true},
		{"routable", "routable", "off", def, "ipv6", false},
		{"routable", "routable", "degraded", def, "ipv6", true},
		{"routable", "degraded", "routable", routable, "ipv4", false}, // routable asks for a routable address
		{"routable", "routable", "routable", routable, "both", true},
		{"routable", "routable", "off", def, "both", false},
		{"carrier", "off", "off", OperRange{"carrier", "routable"}, "any", true},
		{"bogus", "off", "off", OperRange{"off", "routable"}, "any", false},
	} {
		if got := LinkOnline(c.oper, c.v4, c.v6, c.r, c.family); got != c.want {
			t.Errorf("%+v: %v, want %v", c, got, c.want)
		}
	}
}

func TestParseOperRange(t *testing.T) {
	for in, want := range map[string]OperRange{"degraded": {"degraded", "routable"}, "carrier:degraded": {"carrier", "degraded"},
		":": {"off", "routable"}, "no-carrier:": {"no-carrier", "routable"}} {
		min, max, err := ParseOperRange(in)
		if err != nil || (OperRange{min, max}) != want {
			t.Errorf("%q: %q:%q %v, want %+v", in, min, max, err, want)
		}
	}
	for _, bad := range []string{"routable:degraded", "bogus", "off:bogus"} {
		if _, _, err := ParseOperRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseOperRange: accepted ranges are ordered and made of known states.
func FuzzParseOperRange(f *testing.F) {
	for _, s := range []string{"degraded", "carrier:routable", "routable:off", ":", "no-carrier:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		min, max, err := ParseOperRange(s)
		if err != nil {
			return
		}
		if OperRank(min) < 0 || OperRank(max) < OperRank(min) {
			t.Fatalf("%q → %q:%q", s, min, max)
		}
	})
}
