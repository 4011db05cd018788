package netconf

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stead-os/stead/lib/conf"
)

// imdsLocked is the file imdsd --setup-network writes in locked mode (ours and systemd 262's
// systemd-imdsd write the same settings), comments left out.
const imdsLocked = `[Match]
Type=ether
Kind=!*
[Network]
DHCP=yes
LinkLocalAddressing=ipv6
[DHCP]
UseTimezone=yes
UseHostname=yes
UseMTU=yes
[Link]
RequiredFamilyForOnline=ipv4
[Route]
Destination=169.254.169.254
Type=prohibit
[Route]
Destination=fd00:ec2::254
Type=prohibit
[Route]
Destination=169.254.169.254
Scope=link
Table=0x7FFF0815
[RoutingPolicyRule]
Family=ipv4
FirewallMark=0x7FFF0815
Table=0x7FFF0815
[Route]
Destination=fd00:ec2::254
Table=0x7FFF0815
[RoutingPolicyRule]
Family=ipv6
FirewallMark=0x7FFF0815
Table=0x7FFF0815
`

// TestIMDSFile: every setting of the imdsd file is read; the only report is UseTimezone=yes,
// which stead cannot act on.
func TestIMDSFile(t *testing.T) {
	var warns []string
	n, err := ParseNetwork(strings.NewReader(imdsLocked), "85-imds-early.network", func(e error) { warns = append(warns, e.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`85-imds-early.network:8: UseTimezone: setting the time zone from the lease is not supported (no timedated), ignoring`}
	if strings.Join(warns, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s", strings.Join(warns, "\n"))
	}
	const tbl = 0x7FFF0815
	v4, v6 := netip.MustParsePrefix("169.254.169.254/32"), netip.MustParsePrefix("fd00:ec2::254/128")
	wantRoutes := []Route{
		{Destination: v4, Type: "prohibit"},
		{Destination: v6, Type: "prohibit"},
		{Destination: v4, Type: "unicast", Table: tbl, Scope: 253, HasScope: true},
		{Destination: v6, Type: "unicast", Table: tbl},
	}
	if len(n.Routes) != len(wantRoutes) {
		t.Fatalf("routes %+v", n.Routes)
	}
	for i, r := range wantRoutes {
		if n.Routes[i] != r {
			t.Errorf("route %d: %+v, want %+v", i, n.Routes[i], r)
		}
	}
	if n.Routes[0].DefaultTable() != 254 || n.Routes[0].DefaultScope() != 0 || n.Routes[2].DefaultScope() != 253 || n.Routes[3].DefaultScope() != 0 {
		t.Errorf("defaults: %d %d %d %d", n.Routes[0].DefaultTable(), n.Routes[0].DefaultScope(), n.Routes[2].DefaultScope(), n.Routes[3].DefaultScope())
	}
	wantRules := []Rule{{FirewallMark: tbl, Table: tbl, Family: "ipv4"}, {FirewallMark: tbl, Table: tbl, Family: "ipv6"}}
	if len(n.Rules) != 2 || n.Rules[0] != wantRules[0] || n.Rules[1] != wantRules[1] {
		t.Errorf("rules %+v", n.Rules)
	}
	if !n.DHCPv4.UseTimezone || !n.DHCPv4.UseHostname || !n.DHCPv4.UseMTU || !n.DHCPv4Enabled() || n.Online.Family != "ipv4" {
		t.Errorf("dhcp %+v online %+v", n.DHCPv4, n.Online)
	}
}

// TestDHCPLegacySection: [DHCP] and [DHCPv4] are one; the later assignment wins.
func TestDHCPLegacySection(t *testing.T) {
	n, err := ParseNetwork(strings.NewReader("[DHCPv4]\nUseMTU=no\nRouteTable=100\n[DHCP]\nUseMTU=yes\nUseDNS=no\nUseTimezone=no\n[DHCPv4]\nUseDNS=yes\n"),
		"d.network", func(e error) { t.Error(e) })
	if err != nil {
		t.Fatal(err)
	}
	if !n.DHCPv4.UseMTU || !n.DHCPv4.UseDNS || n.DHCPv4.RouteTable != 100 || n.DHCPv4.UseTimezone {
		t.Errorf("%+v", n.DHCPv4)
	}
}

func TestParseTable(t *testing.T) {
	names := map[string]uint32{"imds": 0x7FFF0815}
	for in, want := range map[string]uint32{
		"1": 1, "100": 100, "0x7FFF0815": 2147420181, "0X10": 16, "0xffffffff": 4294967295, "4294967295": 4294967295,
		"010": 10, "main": 254, "local": 255, "default": 253, "imds": 2147420181,
	} {
		if got, err := parseTableNamed(in, names); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "0x0", "0x", "-1", "+1", "4294967296", "0x100000000", "1_0", "Main", "imds", "0x-1", " 1"} {
		if in == "imds" {
			if _, err := ParseTable(in); err == nil {
				t.Errorf("%q accepted without networkd.conf", in)
			}
			continue
		}
		if v, err := parseTableNamed(in, names); err == nil {
			t.Errorf("%q accepted: %d", in, v)
		}
	}
}

func TestRouteScopeFamilyInvert(t *testing.T) {
	for in, want := range map[string]uint8{"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255, "0": 0, "42": 42, "255": 255} {
		if got, err := routeScope(in); err != nil || got != want {
			t.Errorf("scope %q: %d %v", in, got, err)
		}
	}
	for _, in := range []string{"256", "Link", "-1", "universe"} {
		if _, err := routeScope(in); err == nil {
			t.Errorf("scope %q accepted", in)
		}
	}
	var warns []string
	n, _ := ParseNetwork(strings.NewReader(`[Route]
Destination=10.0.0.0/8
Type=local
[Route]
Destination=10.1.0.0/16
Gateway=192.0.2.1
[Route]
Destination=10.2.0.0/16
Type=broadcast
Scope=host
[Route]
Destination=10.3.0.0/16
Scope=galaxy
[RoutingPolicyRule]
Family=both
Invert=yes
FirewallMark=0x10/0xf0
Priority=100
[RoutingPolicyRule]
Family=ipv5
[RoutingPolicyRule]
Invert=perhaps
`), "s.network", func(e error) { warns = append(warns, e.Error()) })
	if len(n.Routes) != 3 || n.Routes[0].DefaultScope() != 254 || n.Routes[0].DefaultTable() != 255 ||
		n.Routes[1].DefaultScope() != 0 || n.Routes[1].DefaultTable() != 254 || n.Routes[2].DefaultScope() != 254 {
		t.Errorf("routes %+v", n.Routes)
	}
	if len(n.Rules) != 1 || n.Rules[0] != (Rule{FirewallMark: 0x10, FirewallMask: 0xf0, Priority: 100, HasPriority: true, Family: "both", Invert: true}) {
		t.Errorf("rules %+v", n.Rules)
	}
	want := []string{
		`s.network:13: Scope: invalid route scope "galaxy"`,
		`s.network:20: Family: invalid rule family "ipv5" (ipv4, ipv6 or both)`,
		`s.network:22: Invert: invalid boolean "perhaps"`,
	}
	if strings.Join(warns, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s", strings.Join(warns, "\n"))
	}
}

func TestRouteTableNames(t *testing.T) {
	f, err := conf.Parse(strings.NewReader("[Network]\nRouteTable=imds:0x7FFF0815 vpn:100\nRouteTable=bad 7:8 main:9 x:254 y:0\n"), "networkd.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	var warns []string
	g := GlobalFromFile(f, func(e error) { warns = append(warns, e.Error()) })
	if len(g.RouteTables) != 2 || g.RouteTables["imds"] != 0x7FFF0815 || g.RouteTables["vpn"] != 100 {
		t.Errorf("%v", g.RouteTables)
	}
	if len(warns) != 5 {
		t.Errorf("warnings:\n%s", strings.Join(warns, "\n"))
	}
	nf, _ := conf.Parse(strings.NewReader("[Route]\nTable=vpn\n[RoutingPolicyRule]\nTable=imds\n[DHCP]\nRouteTable=vpn\n"), "t.network", nil)
	n := FromFileTables(nf, g.RouteTables, func(e error) { t.Error(e) })
	if len(n.Routes) != 1 || n.Routes[0].Table != 100 || len(n.Rules) != 1 || n.Rules[0].Table != 0x7FFF0815 || n.DHCPv4.RouteTable != 100 {
		t.Errorf("%+v %+v %+v", n.Routes, n.Rules, n.DHCPv4)
	}
}

// FuzzParseTable: a table is never 0, and numbers read back as they were written.
func FuzzParseTable(f *testing.F) {
	for _, s := range []string{"0x7FFF0815", "254", "main", "0", "0x", "4294967296", "010", "imds", "-1", "0x_1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseTableNamed(s, map[string]uint32{"imds": 7})
		if err != nil {
			return
		}
		if v == 0 {
			t.Fatalf("%q: table 0", s)
		}
	})
}

// FuzzRouteScope: scopes are names or 0…255.
func FuzzRouteScope(f *testing.F) {
	for _, s := range []string{"link", "host", "nowhere", "253", "256", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := routeScope(s); err == nil && strings.TrimSpace(s) != s {
			t.Fatalf("%q accepted with blanks", s)
		}
	})
}

// TestMatchNegation: each "!" word excludes on its own; a link without a kind matches "!*".
func TestMatchNegation(t *testing.T) {
	for _, c := range []struct {
		pats []string
		s    string
		want bool
	}{
		{[]string{"!*"}, "", true}, {[]string{"!*"}, "veth", false}, {[]string{"veth"}, "", false},
		{[]string{"en*", "!eno1"}, "eno1", false}, {[]string{"en*", "!eno1"}, "ens3", true}, {[]string{"en*", "!eno1"}, "wl0", false},
		{[]string{"!lo", "!veth*"}, "eth0", true}, {[]string{"!lo", "!veth*"}, "veth1", false},
	} {
		if got := globList(c.pats, c.s); got != c.want {
			t.Errorf("%q against %q: %v", c.s, c.pats, got)
		}
	}
	n, _ := ParseNetwork(strings.NewReader(imdsLocked), "i.network", nil)
	if !n.Matches(LinkInfo{Name: "ens5", Type: "ether"}) || n.Matches(LinkInfo{Name: "v0", Type: "ether", Kind: "veth"}) || n.Matches(LinkInfo{Name: "lo", Type: "loopback"}) {
		t.Error("the imdsd file matches plain Ethernet devices only")
	}
}
