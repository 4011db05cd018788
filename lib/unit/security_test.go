package unit

import (
	"strings"
	"testing"
)

func caps(names ...string) CapSet {
	var s CapSet
	for _, n := range names {
		c, err := CapabilityNumber(n)
		if err != nil {
			panic(err)
		}
		s |= 1 << uint(c)
	}
	return s
}

func TestCapabilityNames(t *testing.T) {
	for in, want := range map[string]int{"CAP_CHOWN": 0, "cap_net_admin": 12, "Cap_Sys_Admin": 21,
		"CAP_CHECKPOINT_RESTORE": 40, "7": 7} {
		if n, err := CapabilityNumber(in); err != nil || n != want {
			t.Errorf("CapabilityNumber(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, bad := range []string{"CAP_NOPE", "NET_ADMIN", "63", "-1", ""} {
		if _, err := CapabilityNumber(bad); err == nil {
			t.Errorf("CapabilityNumber(%q) accepted", bad)
		}
	}
	if n := CapabilityName(10); n != "CAP_NET_BIND_SERVICE" {
		t.Errorf("CapabilityName(10) = %q", n)
	}
	if got := caps("CAP_KILL", "CAP_CHOWN").Numbers(); len(got) != 2 || got[0] != 0 || got[1] != 5 {
		t.Errorf("Numbers = %v", got)
	}
}

func TestCapabilitySettings(t *testing.T) {
	for _, tc := range []struct {
		name, text     string
		ambient, bound CapSet
		nnp            bool
		warns          int
	}{
		{"unset", "", 0, AllCaps, false, 0},
		{"plain", "AmbientCapabilities=CAP_NET_BIND_SERVICE cap_kill\nCapabilityBoundingSet=CAP_KILL\nNoNewPrivileges=yes",
			caps("CAP_NET_BIND_SERVICE", "CAP_KILL"), caps("CAP_KILL"), true, 0},
		{"lines add", "CapabilityBoundingSet=CAP_KILL\nCapabilityBoundingSet=CAP_CHOWN",
			0, caps("CAP_KILL", "CAP_CHOWN"), false, 0},
		{"inverted", "CapabilityBoundingSet=~CAP_SYS_ADMIN CAP_NET_ADMIN",
			0, AllCaps &^ caps("CAP_SYS_ADMIN", "CAP_NET_ADMIN"), false, 0},
		{"inverted removes", "CapabilityBoundingSet=CAP_KILL CAP_CHOWN\nCapabilityBoundingSet=~CAP_CHOWN",
			0, caps("CAP_KILL"), false, 0},
		{"inverted then plain", "CapabilityBoundingSet=~CAP_KILL\nCapabilityBoundingSet=CAP_KILL",
			0, AllCaps, false, 0},
		{"empty resets", "CapabilityBoundingSet=CAP_KILL\nCapabilityBoundingSet=\nAmbientCapabilities=CAP_KILL\nAmbientCapabilities=",
			0, 0, false, 0},
		{"empty then add", "AmbientCapabilities=CAP_KILL\nAmbientCapabilities=\nAmbientCapabilities=CAP_CHOWN",
			caps("CAP_CHOWN"), AllCaps, false, 0},
		{"empty then inverted", "CapabilityBoundingSet=\nCapabilityBoundingSet=~CAP_KILL\nAmbientCapabilities=\nAmbientCapabilities=~CAP_KILL",
			AllCaps &^ caps("CAP_KILL"), 0, false, 0},
		{"tilde alone", "CapabilityBoundingSet=CAP_KILL\nCapabilityBoundingSet=~", 0, AllCaps, false, 0},
		{"unknown skipped", "AmbientCapabilities=CAP_BOGUS CAP_KILL", caps("CAP_KILL"), AllCaps, false, 1},
		{"bad bool", "NoNewPrivileges=perhaps", 0, AllCaps, false, 1},
	} {
		u := parseUnitText(t, "a.service", "[Service]\nExecStart=/bin/true\n"+tc.text+"\n")
		var warns []string
		u.parseService(func(e error) { warns = append(warns, e.Error()) })
		s := u.Service
		if s.AmbientCapabilities != tc.ambient || s.CapabilityBoundingSet != tc.bound || s.NoNewPrivileges != tc.nnp {
			t.Errorf("%s: ambient %#x bounding %#x nnp %v; want %#x %#x %v", tc.name,
				s.AmbientCapabilities, s.CapabilityBoundingSet, s.NoNewPrivileges, tc.ambient, tc.bound, tc.nnp)
		}
		if len(warns) != tc.warns {
			t.Errorf("%s: warnings %q, want %d", tc.name, warns, tc.warns)
		}
		for _, w := range warns {
			if !strings.Contains(w, "a.service:") {
				t.Errorf("%s: warning %q lacks file:line", tc.name, w)
			}
		}
	}
}
