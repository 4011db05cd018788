package resolverr

import (
	"net/netip"
	"testing"
)

func TestAddresses(t *testing.T) {
	for _, c := range []struct {
		addrs []netip.Addr
		want  string
	}{
		{nil, ""},
		{[]netip.Addr{{}}, ""},
		{[]netip.Addr{netip.MustParseAddr("192.0.2.1"), {}, netip.MustParseAddr("2001:db8::1")},
			`[{"key":{"class":1,"type":1,"name":"_x"},"address":[192,0,2,1]},{"key":{"class":1,"type":28,"name":"_x"},"address":[32,1,13,184,0,0,0,0,0,0,0,0,0,0,0,1]}]` + "\n"},
	} {
		if got := string(Addresses("_x", c.addrs...)); got != c.want {
			t.Errorf("Addresses(%v) = %q, want %q", c.addrs, got, c.want)
		}
	}
}
