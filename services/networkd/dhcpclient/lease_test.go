package dhcpclient

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestLeaseRoundTrip(t *testing.T) {
	req, _ := dhcpv4.NewDiscovery(net.HardwareAddr{2, 0, 0, 0, 0, 1})
	ack, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.IPv4(10, 1, 0, 7)),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithRouter(net.IPv4(10, 1, 0, 1)),
		dhcpv4.WithServerIP(net.IPv4(10, 2, 0, 2)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 2, 0, 2))),
		dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(120*time.Second)),
		dhcpv4.WithOption(dhcpv4.OptDNS(net.IPv4(1, 1, 1, 1))),
	)
	if err != nil {
		t.Fatal(err)
	}
	l := &Lease{ACK: ack, Acquired: time.Unix(1700000000, 0)}
	if l.Address().String() != "10.1.0.7/24" || l.T1() != time.Minute || l.T2() != 105*time.Second {
		t.Fatalf("address %v t1 %v t2 %v", l.Address(), l.T1(), l.T2())
	}
	root := t.TempDir()
	if err := Save(root, 3, l); err != nil {
		t.Fatal(err)
	}
	got, err := LoadLease(root, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got.Address() != l.Address() || !got.Acquired.Equal(l.Acquired) || !got.Expired(l.Acquired.Add(2*time.Minute)) || got.Expired(l.Acquired.Add(time.Minute)) {
		t.Errorf("round trip: %+v", got)
	}
	if r, _ := got.Router(); r.String() != "10.1.0.1" {
		t.Errorf("router %v", r)
	}
	if none, err := LoadLease(root, 4); none != nil || err != nil {
		t.Errorf("missing lease: %v %v", none, err)
	}
	if _, err := Unmarshal([]byte("ADDRESS=1.2.3.4\nSTEAD_ACK=zz\n")); err == nil {
		t.Error("garbage accepted")
	}
}

// FuzzUnmarshal: a damaged lease file never panics, and what it accepts
// can be written and read back to the same address.
func FuzzUnmarshal(f *testing.F) {
	req, _ := dhcpv4.NewDiscovery(net.HardwareAddr{2, 0, 0, 0, 0, 1})
	ack, _ := dhcpv4.NewReplyFromRequest(req, dhcpv4.WithYourIP(net.IPv4(10, 1, 0, 7)), dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 2, 0, 2))),
		dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(120*time.Second)))
	f.Add((&Lease{ACK: ack, Acquired: time.Unix(1, 0)}).Marshal())
	f.Add([]byte("STEAD_ACQUIRED=x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Unmarshal(b)
		if err != nil {
			return
		}
		l2, err := Unmarshal(l.Marshal())
		if err != nil || l2.Address() != l.Address() {
			t.Fatalf("round trip: %v %v %v", err, l.Address(), l2)
		}
		checkLease(t, l)
	})
}

// checkLease asserts what the client relies on for a lease it took.
func checkLease(t *testing.T, l *Lease) {
	t.Helper()
	p := l.Address()
	if !p.Addr().Is4() || p.Bits() < 1 || p.Bits() > 32 {
		t.Fatalf("address %v", p)
	}
	if _, ok := l.ServerID(); !ok {
		t.Fatal("no server id")
	}
	lt, t1, t2 := l.Lifetime(), l.T1(), l.T2()
	if lt == 0 && (t1 != 0 || t2 != 0) || lt > 0 && !(0 <= t1 && t1 < t2 && t2 < lt) {
		t.Fatalf("lifetime %v t1 %v t2 %v", lt, t1, t2)
	}
	if m := l.MTU(); m != 0 && m < 68 {
		t.Fatalf("MTU %d", m)
	}
	l.Router()
	l.DNS()
	addr(l)
}

func testAck(t testing.TB, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	req, _ := dhcpv4.NewDiscovery(net.HardwareAddr{2, 0, 0, 0, 0, 1})
	ack, err := dhcpv4.NewReplyFromRequest(req, append([]dhcpv4.Modifier{
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.IPv4(10, 1, 0, 7)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 2, 0, 2))),
		dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(120 * time.Second)),
	}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return ack
}

// TestValidate: replies upstream would ignore are refused; T1 and T2 are
// settled as upstream does; a missing mask falls back to the class.
func TestValidate(t *testing.T) {
	opt := func(c dhcpv4.OptionCode, v ...byte) dhcpv4.Modifier {
		return dhcpv4.WithOption(dhcpv4.OptGeneric(c, v))
	}
	for name, m := range map[string]*dhcpv4.DHCPv4{
		"no yiaddr":        testAck(t, dhcpv4.WithYourIP(net.IPv4zero)),
		"multicast":        testAck(t, dhcpv4.WithYourIP(net.IPv4(224, 0, 0, 1))),
		"class E no mask":  testAck(t, dhcpv4.WithYourIP(net.IPv4(240, 0, 0, 1))),
		"no server id":     testAck(t, opt(dhcpv4.OptionServerIdentifier)),
		"zero lease time":  testAck(t, opt(dhcpv4.OptionIPAddressLeaseTime, 0, 0, 0, 0)),
		"short lease time": testAck(t, opt(dhcpv4.OptionIPAddressLeaseTime, 0, 1)),
	} {
		if err := Validate(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, c := range []struct {
		mods       []dhcpv4.Modifier
		addr       string
		lt, t1, t2 time.Duration
	}{
		{nil, "10.1.0.7/8", 120 * time.Second, 60 * time.Second, 105 * time.Second},
		{[]dhcpv4.Modifier{dhcpv4.WithNetmask(net.IPv4Mask(255, 0, 255, 0))}, "10.1.0.7/8", 120 * time.Second, 60 * time.Second, 105 * time.Second},
		{[]dhcpv4.Modifier{dhcpv4.WithYourIP(net.IPv4(192, 168, 1, 9)), opt(dhcpv4.OptionRenewTimeValue, 0, 0, 0, 10), opt(dhcpv4.OptionRebindingTimeValue, 0, 0, 0, 20)},
			"192.168.1.9/24", 120 * time.Second, 10 * time.Second, 20 * time.Second},
		// T2 past the lifetime, T1 past T2: upstream's defaults.
		{[]dhcpv4.Modifier{opt(dhcpv4.OptionRenewTimeValue, 0, 0, 0, 110), opt(dhcpv4.OptionRebindingTimeValue, 0, 0, 1, 0)},
			"10.1.0.7/8", 120 * time.Second, 60 * time.Second, 105 * time.Second},
		{[]dhcpv4.Modifier{opt(dhcpv4.OptionRenewTimeValue, 0, 0, 0, 50), opt(dhcpv4.OptionRebindingTimeValue, 0, 0, 0, 40)},
			"10.1.0.7/8", 120 * time.Second, 60 * time.Second, 105 * time.Second}, // T1 defaulted past T2: both reset
		// Infinite lease: no timers at all.
		{[]dhcpv4.Modifier{opt(dhcpv4.OptionIPAddressLeaseTime, 0xff, 0xff, 0xff, 0xff), opt(dhcpv4.OptionRenewTimeValue, 0, 0, 0, 50)},
			"10.1.0.7/8", 0, 0, 0},
	} {
		m := testAck(t, c.mods...)
		if err := Validate(m); err != nil {
			t.Errorf("%v: %v", c, err)
			continue
		}
		l := &Lease{ACK: m, Acquired: time.Unix(1, 0)}
		if l.Address().String() != c.addr || l.Lifetime() != c.lt || l.T1() != c.t1 || l.T2() != c.t2 {
			t.Errorf("got %v %v %v %v, want %v %v %v %v", l.Address(), l.Lifetime(), l.T1(), l.T2(), c.addr, c.lt, c.t1, c.t2)
		}
	}
}

// FuzzHandleReply: any packet a server (or anyone on the link) sends goes
// through what the client does with a reply — parsing, the matcher that
// takes or ignores it, the REQUEST built from an OFFER, the lease and its
// file — without a panic, and what is taken meets checkLease.
func FuzzHandleReply(f *testing.F) {
	f.Add(testAck(f).ToBytes())
	f.Add(testAck(f, dhcpv4.WithNetmask(net.IPv4Mask(255, 255, 255, 0)), dhcpv4.WithOption(dhcpv4.OptRouter(net.IPv4(10, 1, 0, 1))),
		dhcpv4.WithOption(dhcpv4.OptDNS(net.IPv4(1, 1, 1, 1))), dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionInterfaceMTU, []byte{5, 0xdc}))).ToBytes())
	f.Add(testAck(f, dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer)).ToBytes())
	f.Add(testAck(f, dhcpv4.WithMessageType(dhcpv4.MessageTypeNak), dhcpv4.WithYourIP(net.IPv4zero)).ToBytes())
	c := &Client{Ifname: "fuzz0", Log: slog.New(slog.DiscardHandler)}
	any := c.valid(func(*dhcpv4.DHCPv4) bool { return true })
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcpv4.FromBytes(b)
		if err != nil || !any(m) {
			return
		}
		switch m.MessageType() {
		case dhcpv4.MessageTypeNak:
			return
		case dhcpv4.MessageTypeOffer:
			if _, err := dhcpv4.NewRequestFromOffer(m, c.requested()); err != nil {
				return
			}
		}
		l := &Lease{ACK: m, Acquired: time.Unix(1700000000, 0)}
		checkLease(t, l)
		l2, err := Unmarshal(l.Marshal())
		if err != nil {
			t.Fatalf("lease file of a taken reply refused: %v", err)
		}
		if l2.Address() != l.Address() || l2.T1() != l.T1() || l2.T2() != l.T2() || l2.Lifetime() != l.Lifetime() {
			t.Fatalf("lease file round trip: %v/%v %v/%v", l2.Address(), l.Address(), l2.T1(), l.T1())
		}
		if _, err := dhcpv4.NewRenewFromAck(m, dhcpv4.WithTransactionID(newXID()), c.requested()); err != nil {
			t.Fatalf("no renewal from a taken ACK: %v", err)
		}
	})
}
