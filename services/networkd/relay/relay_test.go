package relay

import (
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func testConfig() *Config {
	return &Config{
		Server:           netip.MustParseAddr("10.2.0.2"),
		OverrideServerID: true,
		RemoteID:         []byte("r1"),
		Upstream:         "up0",
		Downstreams: []*Downstream{
			{Ifname: "down0", Gateway: netip.MustParseAddr("10.1.0.1")},
			{Ifname: "down1", Gateway: netip.MustParseAddr("10.3.0.1"), CircuitID: []byte("port7"), VSS: []byte{1, 2}},
		},
	}
}

var mac = net.HardwareAddr{2, 0, 0, 0, 0, 9}

func discover(t testing.TB) *dhcpv4.DHCPv4 {
	m, err := dhcpv4.NewDiscovery(mac)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestToServer(t *testing.T) {
	c := testConfig()
	m := discover(t)
	m.SetBroadcast()
	out, err := c.ToServer(c.Downstreams[1], m.ToBytes())
	if err != nil {
		t.Fatal(err)
	}
	r, _ := dhcpv4.FromBytes(out)
	if r.HopCount != 1 || !r.GatewayIPAddr.Equal(net.IPv4(10, 3, 0, 1)) || !r.IsBroadcast() {
		t.Fatalf("hops %d giaddr %v bcast %v", r.HopCount, r.GatewayIPAddr, r.IsBroadcast())
	}
	ai := r.Options[optRelayAgentInfo]
	for code, want := range map[byte]string{SubCircuitID: "port7", SubRemoteID: "r1", SubServerIDOverr: "\x0a\x03\x00\x01", SubVSS: "\x01\x02", SubFlags: "\x00"} {
		if v, ok := subOption(ai, code); !ok || string(v) != want {
			t.Errorf("sub-option %d = %q, want %q", code, v, want)
		}
	}

	// Second pass through the same link: giaddr is ours, nothing re-added.
	out2, err := c.ToServer(c.Downstreams[1], out)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := dhcpv4.FromBytes(out2)
	if r2.HopCount != 2 || string(r2.Options[optRelayAgentInfo]) != string(ai) {
		t.Errorf("loop pass changed option 82 or hops")
	}

	for name, mod := range map[string]func(*dhcpv4.DHCPv4){
		"hops16":  func(m *dhcpv4.DHCPv4) { m.HopCount = 16 },
		"forged":  func(m *dhcpv4.DHCPv4) { m.GatewayIPAddr = net.IPv4(192, 0, 2, 1) },
		"opt82":   func(m *dhcpv4.DHCPv4) { m.Options[82] = []byte{1, 1, 'x'} },
		"bootrep": func(m *dhcpv4.DHCPv4) { m.OpCode = dhcpv4.OpcodeBootReply },
	} {
		m := discover(t)
		mod(m)
		if _, err := c.ToServer(c.Downstreams[0], m.ToBytes()); err == nil {
			t.Errorf("%s: forwarded", name)
		}
	}
	if _, err := c.ToServer(c.Downstreams[0], []byte{1, 2, 3}); err != ErrMalformed {
		t.Errorf("short packet: %v", err)
	}
}

func reply(t testing.TB, req []byte, yiaddr net.IP) *dhcpv4.DHCPv4 {
	q, err := dhcpv4.FromBytes(req)
	if err != nil {
		t.Fatal(err)
	}
	r, err := dhcpv4.NewReplyFromRequest(q, dhcpv4.WithYourIP(yiaddr), dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestToClient(t *testing.T) {
	c := testConfig()
	server := netip.MustParseAddr("10.2.0.2")
	for i, d := range c.Downstreams {
		m := discover(t)
		if i == 0 {
			m.SetBroadcast()
		}
		req, _ := c.ToServer(d, m.ToBytes())
		rep := reply(t, req, net.IPv4(10, 1, 0, 50))
		if _, has := rep.Options[82]; !has {
			t.Fatal("library no longer echoes option 82")
		}
		out, dl, err := c.ToClient(server, rep.ToBytes())
		if err != nil {
			t.Fatal(err)
		}
		if dl.Link != d {
			t.Errorf("reply for %s went to %s", d.Ifname, dl.Link.Ifname)
		}
		r, _ := dhcpv4.FromBytes(out)
		if _, has := r.Options[82]; has {
			t.Error("option 82 leaked")
		}
		if i == 0 && !dl.Broadcast || i == 1 && (dl.Broadcast || dl.Dst.String() != "10.1.0.50" || dl.HWAddr.String() != mac.String()) {
			t.Errorf("delivery %v", dl)
		}
		if _, _, err := c.ToClient(netip.MustParseAddr("10.2.0.3"), rep.ToBytes()); err != ErrNotServer {
			t.Errorf("reply from a stranger: %v", err)
		}
	}
	// A reply without option 82 is routed by giaddr; unknown giaddr is dropped.
	rep := reply(t, discover(t).ToBytes(), net.IPv4(10, 3, 0, 9))
	rep.GatewayIPAddr = net.IPv4(10, 3, 0, 1)
	if _, dl, err := c.ToClient(server, rep.ToBytes()); err != nil || dl.Link != c.Downstreams[1] {
		t.Errorf("by giaddr: %v %v", dl.Link, err)
	}
	rep.GatewayIPAddr = net.IPv4(10, 9, 0, 1)
	if _, _, err := c.ToClient(server, rep.ToBytes()); err != ErrNoLink {
		t.Errorf("unknown giaddr: %v", err)
	}
}

func TestIPv4UDPChecksum(t *testing.T) {
	b := IPv4UDP(netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.1.0.50"), 67, 68, []byte("hello"))
	if fold(sum(0, b[:20])) != 0xffff {
		t.Error("bad IP header checksum")
	}
	ps := sum(0, b[12:20]) + 17 + uint32(len(b)-20)
	if fold(sum(ps, b[20:])) != 0xffff {
		t.Error("bad UDP checksum")
	}
}

// FuzzRelay feeds arbitrary bytes both ways: nothing panics, no request
// that arrived with 16 hops or more goes out, and nothing sent towards a
// client carries option 82.
func FuzzRelay(f *testing.F) {
	c := testConfig()
	m := discover(f)
	f.Add(m.ToBytes(), true)
	req, _ := c.ToServer(c.Downstreams[1], m.ToBytes())
	f.Add(reply(f, req, net.IPv4(10, 3, 0, 5)).ToBytes(), false)
	m.HopCount = 16
	f.Add(m.ToBytes(), true)
	f.Fuzz(func(t *testing.T, pkt []byte, up bool) {
		if up {
			out, err := c.ToServer(c.Downstreams[0], pkt)
			if err != nil {
				return
			}
			if pkt[3] >= MaxHops {
				t.Fatalf("forwarded a request that came with %d hops", pkt[3])
			}
			r, err := dhcpv4.FromBytes(out)
			if err != nil || r.HopCount != pkt[3]+1 {
				t.Fatalf("bad output: %v", err)
			}
			return
		}
		out, _, err := c.ToClient(c.Server, pkt)
		if err != nil {
			return
		}
		r, err := dhcpv4.FromBytes(out)
		if err != nil {
			t.Fatalf("unparsable output: %v", err)
		}
		if _, has := r.Options[82]; has {
			t.Fatal("option 82 leaked downstream")
		}
	})
}

func BenchmarkToServer(b *testing.B) {
	c := testConfig()
	pkt := discover(b).ToBytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := c.ToServer(c.Downstreams[1], pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkToClient(b *testing.B) {
	c := testConfig()
	req, _ := c.ToServer(c.Downstreams[1], discover(b).ToBytes())
	pkt := reply(b, req, net.IPv4(10, 3, 0, 5)).ToBytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, _, err := c.ToClient(c.Server, pkt); err != nil {
			b.Fatal(err)
		}
	}
}
