package netconf

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stead-os/stead/lib/conf"
)

const sample = `[Match]
Name=veth* en*
MACAddress=02:00:00:00:00:01

[Network]
DHCP=ipv4
Address=10.0.0.1/24
Gateway=10.0.0.254
DNS=1.1.1.1 9.9.9.9
DNS=
DNS=8.8.8.8
LinkLocalAddressing=no
DHCPRelay=downstream
Bogus=1

[Address]
Address=192.168.5.1/24

[Route]
Destination=10.9.0.0/16
Gateway=10.0.0.2
Table=100

[Route]
Destination=203.0.113.0/24
Type=prohibit

[Route]
Destination=not-an-address

[RoutingPolicyRule]
FirewallMark=0x10/0xff
Table=100
Priority=1000

[DHCPv4]
UseHostname=no
UseMTU=yes
RouteTable=main

[DHCPRelay]
AgentAddress=10.0.0.1
GatewayAddress=10.0.0.9
CircuitId=string:port\x31
VirtualSubnetSelection=uint16:513
InterfacePriority=5
`

func TestParseNetwork(t *testing.T) {
	var warns []string
	n, err := ParseNetwork(strings.NewReader(sample), "a.network", func(e error) { warns = append(warns, e.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Match.Names) != 2 || n.DHCP != "ipv4" || !n.DHCPv4Enabled() {
		t.Errorf("match/dhcp: %+v %q", n.Match, n.DHCP)
	}
	if len(n.Addresses) != 2 || n.Addresses[1] != netip.MustParsePrefix("192.168.5.1/24") {
		t.Errorf("addresses %v", n.Addresses)
	}
	if len(n.DNS) != 1 || n.DNS[0].String() != "8.8.8.8" {
		t.Errorf("DNS %v", n.DNS)
	}
	if len(n.Routes) != 2 || n.Routes[0].Table != 100 || n.Routes[1].Type != "prohibit" {
		t.Errorf("routes %+v", n.Routes)
	}
	if len(n.Rules) != 1 || n.Rules[0].FirewallMark != 0x10 || n.Rules[0].FirewallMask != 0xff || n.Rules[0].Priority != 1000 {
		t.Errorf("rules %+v", n.Rules)
	}
	if n.DHCPv4.UseHostname || !n.DHCPv4.UseMTU || !n.DHCPv4.UseDNS || n.DHCPv4.RouteTable != 254 {
		t.Errorf("dhcpv4 %+v", n.DHCPv4)
	}
	if string(n.Relay.CircuitID) != "port1" || string(n.Relay.VirtualSubnetSelection) != "\x02\x01" || n.Relay.InterfacePriority != 5 {
		t.Errorf("relay %+v", n.Relay)
	}
	if a, ok := n.RelayAgentAddress(); !ok || a.String() != "10.0.0.1" {
		t.Errorf("agent %v %v", a, ok)
	}
	if g, _ := n.RelayGatewayAddress(); g.String() != "10.0.0.9" {
		t.Errorf("gateway %v", g)
	}
	if len(warns) != 2 || !strings.HasPrefix(warns[0], "a.network:") {
		t.Errorf("warnings %q", warns)
	}
	for _, w := range warns {
		if !strings.Contains(w, "a.network:14:") && !strings.Contains(w, "a.network:29:") {
			t.Errorf("unexpected warning %q", w)
		}
	}
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	if !n.Matches(LinkInfo{Name: "veth0", MAC: mac}) || n.Matches(LinkInfo{Name: "lo", MAC: mac}) || n.Matches(LinkInfo{Name: "veth0"}) {
		t.Error("matching")
	}
}

func TestTypedData(t *testing.T) {
	for in, want := range map[string]string{
		"uint8:7": "\x07", "uint32:1": "\x00\x00\x00\x01", "ipv4address:10.0.0.1": "\x0a\x00\x00\x01",
		`string:a\tb`: "a\tb", `string:\101`: "A",
	} {
		got, err := ParseTypedData(in)
		if err != nil || string(got) != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"eth0", "uint8:256", "ipv4address:::1", "string:", `string:\x`, "float:1"} {
		if _, err := ParseTypedData(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestLoadOrderAndMasking(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("usr/lib/systemd/network/50-a.network", "[Match]\nName=a*\n[Network]\nDHCP=yes\n")
	write("etc/systemd/network/50-a.network", "[Match]\nName=a*\n[Network]\nDHCP=no\n")
	write("etc/systemd/network/50-a.network.d/x.conf", "[Network]\nDNS=1.2.3.4\n")
	write("run/systemd/network/10-b.network", "[Match]\nName=ab\n[Network]\nDHCPRelay=upstream\n")
	write("usr/lib/systemd/network/20-c.network", "[Match]\nName=*\n")
	os.Symlink("/dev/null", filepath.Join(root, "etc/systemd/network/20-c.network"))
	write("etc/systemd/networkd.conf", "[DHCPRelay]\nServerAddress=192.0.2.1\nOverrideServerIdentifier=yes\nRemoteId=string:r1\n")

	nets, err := Load(root, func(e error) { t.Error(e) })
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) != 2 || nets[0].Name != "10-b.network" || nets[1].DHCP != "no" || len(nets[1].DNS) != 1 {
		t.Fatalf("%+v", nets)
	}
	if n := Find(nets, LinkInfo{Name: "ab"}); n == nil || n.Name != "10-b.network" {
		t.Errorf("first match should win: %+v", n)
	}
	if n := Find(nets, LinkInfo{Name: "zz"}); n != nil {
		t.Errorf("masked file matched")
	}
	g, err := LoadGlobal(root, func(e error) { t.Error(e) })
	if err != nil || g.Relay.ServerAddress.String() != "192.0.2.1" || !g.Relay.OverrideServerIdentifier || string(g.Relay.RemoteID) != "r1" {
		t.Errorf("%+v %v", g, err)
	}
}

func FuzzParseNetwork(f *testing.F) {
	f.Add(sample)
	f.Add("[Route]\nTable=0\n[DHCPRelay]\nCircuitId=string:\\\n")
	f.Add(badValues)
	f.Add(imdsLocked)
	f.Add("[Route]\nScope=site\nTable=0xFFFFFFFF\nType=local\n[RoutingPolicyRule]\nFamily=both\nInvert=1\n[DHCP]\nUseTimezone=no\n")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNetwork(strings.NewReader(s), "f.network", func(e error) {
			if _, ok := e.(*conf.Error); !ok {
				t.Fatalf("unlocated warning %T %v", e, e)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range n.Routes {
			if r.Destination.IsValid() && r.Destination != r.Destination.Masked() {
				t.Fatal("unmasked destination")
			}
		}
		for _, r := range n.Rules {
			if r.Family != "ipv4" && r.Family != "ipv6" && r.Family != "both" {
				t.Fatalf("rule family %q", r.Family)
			}
		}
		if len(n.Relay.CircuitID) > 255 || len(n.Relay.VirtualSubnetSelection) > 255 {
			t.Fatal("oversized sub-option")
		}
		n.Matches(LinkInfo{Name: "eth0"})
	})
}
