package netconf

import (
	"strings"
	"testing"

	"github.com/stead-os/stead/lib/conf"
)

// badValues has a bad value for every setting; each is reported with its
// place and skipped.
const badValues = `[Match]
MACAddress=02:00:00:00:00:01 zz 02:00:00:00:00:00:00:01
[Network]
DHCP=sometimes
Address=10.0.0.1/33
Gateway=10.0.0.1 10.0.0.2
DNS=1.1.1.1 dns.example
LinkLocalAddressing=IPv4
DHCPRelay=sideways
KeepConfiguration=forever
[Link]
RequiredForOnline=carrier:off
RequiredFamilyForOnline=ipv5
[Address]
Address=fe80::1%eth0/64x
[Route]
Destination=10.0.0.0/40
Gateway=gw
Type=teleport
Table=0
[RoutingPolicyRule]
FirewallMark=x/y
Table=nope
Priority=+5
[DHCPv4]
UseHostname=maybe
UseMTU=2
UseDNS=perhaps
SendRelease=eventually
RouteTable=-1
[DHCPRelay]
AgentAddress=::1
GatewayAddress=10.0.0.300
CircuitId=float:1
VirtualSubnetSelection=uint8:256
InterfacePriority=2147483648
[Bogus]
X=1
`

// TestWarnings pins the messages, and their order, that logs and the
// documentation show.
func TestWarnings(t *testing.T) {
	want := []string{
		`bad.network:37: unknown section [Bogus], ignoring`,
		`bad.network:2: MACAddress: invalid MAC address "zz"`,
		`bad.network:2: MACAddress: invalid MAC address "02:00:00:00:00:00:00:01"`,
		`bad.network:4: DHCP: invalid DHCP= value "sometimes"`,
		`bad.network:5: Address: invalid address "10.0.0.1/33"`,
		`bad.network:6: Gateway: invalid address "10.0.0.1 10.0.0.2"`,
		`bad.network:7: DNS: invalid address "dns.example"`,
		`bad.network:8: LinkLocalAddressing: invalid LinkLocalAddressing= value "IPv4"`,
		`bad.network:9: DHCPRelay: invalid DHCPRelay= value "sideways" (upstream or downstream)`,
		`bad.network:10: KeepConfiguration: invalid KeepConfiguration= value "forever"`,
		`bad.network:12: RequiredForOnline: invalid RequiredForOnline= value "carrier:off"`,
		`bad.network:13: RequiredFamilyForOnline: invalid RequiredFamilyForOnline= value "ipv5"`,
		`bad.network:17: Destination: invalid address "10.0.0.0/40"`,
		`bad.network:18: Gateway: invalid address "gw"`,
		`bad.network:19: Type: invalid route type "teleport"`,
		`bad.network:20: Table: invalid route table "0"`,
		`bad.network:22: FirewallMark: invalid firewall mark "x/y"`,
		`bad.network:22: FirewallMark: invalid firewall mask "x/y"`,
		`bad.network:23: Table: invalid route table "nope"`,
		`bad.network:24: Priority: invalid priority "+5"`,
		`bad.network:26: UseHostname: invalid boolean "maybe"`,
		`bad.network:27: UseMTU: invalid boolean "2"`,
		`bad.network:28: UseDNS: invalid boolean "perhaps"`,
		`bad.network:29: SendRelease: invalid boolean "eventually"`,
		`bad.network:30: RouteTable: invalid route table "-1"`,
		`bad.network:32: AgentAddress: "::1" is not an IPv4 address`,
		`bad.network:33: GatewayAddress: invalid address "10.0.0.300"`,
		`bad.network:34: CircuitId: unknown data type "float"`,
		`bad.network:35: VirtualSubnetSelection: invalid uint8 "256"`,
		`bad.network:36: InterfacePriority: invalid interface priority "2147483648"`,
	}
	var got []string
	n, err := ParseNetwork(strings.NewReader(badValues), "bad.network", func(e error) { got = append(got, e.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Every bad value left its default; the bad route and rule are dropped.
	def, _ := ParseNetwork(strings.NewReader(""), "bad.network", nil)
	if n.DHCP != def.DHCP || n.LinkLocalAddressing != def.LinkLocalAddressing || n.DHCPRelay != def.DHCPRelay ||
		n.KeepConfiguration != "no" || n.Online != def.Online || n.DHCPv4 != def.DHCPv4 || n.Relay.InterfacePriority != 0 ||
		n.Relay.AgentAddress.IsValid() || n.Relay.CircuitID != nil || len(n.Routes)+len(n.Rules) != 0 ||
		len(n.Match.MACs) != 1 || len(n.DNS) != 1 || len(n.Gateways) != 0 {
		t.Errorf("bad values applied: %+v", n)
	}
}

// TestWordSettings covers the settings that take a boolean or a word.
func TestWordSettings(t *testing.T) {
	n, err := ParseNetwork(strings.NewReader(`[Network]
DHCP=IPv6
LinkLocalAddressing=fallback
KeepConfiguration=on
[Link]
RequiredForOnline=no-carrier
RequiredFamilyForOnline=both
[RoutingPolicyRule]
Table=7
`), "w.network", func(e error) { t.Error(e) })
	if err != nil {
		t.Fatal(err)
	}
	if n.DHCP != "ipv6" || n.DHCPv4Enabled() || n.LinkLocalAddressing != "fallback" || n.KeepConfiguration != "yes" || !n.KeepDynamicOnStop() {
		t.Errorf("network %+v", n)
	}
	if n.Online != (Online{Required: true, MinOper: "no-carrier", MaxOper: "routable", Family: "both"}) {
		t.Errorf("online %+v", n.Online)
	}
	if len(n.Rules) != 1 || n.Rules[0].Table != 7 || n.Rules[0].HasPriority {
		t.Errorf("rules %+v", n.Rules)
	}
	n, _ = ParseNetwork(strings.NewReader("[Network]\nDHCP=yes\nDHCP=\nKeepConfiguration=dynamic\nKeepConfiguration=\n[Link]\nRequiredForOnline=false\n"), "w.network", nil)
	if n.DHCP != "" || n.KeepConfiguration != "no" || n.Online.Required {
		t.Errorf("resets: %q %q %+v", n.DHCP, n.KeepConfiguration, n.Online)
	}
}

func TestGlobalWarnings(t *testing.T) {
	f, err := conf.Parse(strings.NewReader("[DHCPRelay]\nServerAddress=0.0.0.0\nOverrideServerIdentifier=maybe\nRemoteId=x\n"), "networkd.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	g := GlobalFromFile(f, func(e error) { got = append(got, e.Error()) })
	want := []string{
		`networkd.conf:2: ServerAddress: invalid IPv4 server address "0.0.0.0"`,
		`networkd.conf:3: OverrideServerIdentifier: invalid boolean "maybe"`,
		`networkd.conf:4: RemoteId: invalid value "x": expected TYPE:DATA`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || g.Relay.ServerAddress.IsValid() || g.Relay.OverrideServerIdentifier || g.Relay.RemoteID != nil {
		t.Errorf("%+v\n%s", g, strings.Join(got, "\n"))
	}
}

// FuzzGlobalFromFile: networkd.conf never yields an unusable relay setting.
func FuzzGlobalFromFile(f *testing.F) {
	f.Add("[DHCPRelay]\nServerAddress=192.0.2.1\nOverrideServerIdentifier=yes\nRemoteId=string:r1\n")
	f.Add("[DHCPRelay]\nServerAddress=::1\nRemoteId=uint8:300\n[DHCPRelay]\nServerAddress=\n")
	f.Fuzz(func(t *testing.T, s string) {
		cf, err := conf.Parse(strings.NewReader(s), "networkd.conf", nil)
		if err != nil {
			t.Fatal(err)
		}
		g := GlobalFromFile(cf, func(e error) {
			if _, ok := e.(*conf.Error); !ok {
				t.Fatalf("unlocated warning %v", e)
			}
		})
		if a := g.Relay.ServerAddress; a.IsValid() && (!a.Is4() || a.IsUnspecified()) {
			t.Fatalf("server address %v", a)
		}
		if len(g.Relay.RemoteID) > 255 {
			t.Fatal("oversized remote id")
		}
	})
}
