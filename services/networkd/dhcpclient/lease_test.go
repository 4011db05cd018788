package dhcpclient

import (
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
	ack, _ := dhcpv4.NewReplyFromRequest(req, dhcpv4.WithYourIP(net.IPv4(10, 1, 0, 7)), dhcpv4.WithNetmask(net.CIDRMask(24, 32)))
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
		_ = l.T1() + l.T2()
		l.Router()
	})
}
