package networkd

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/services/networkctl"
	"github.com/stead-os/stead/services/networkd/dhcpclient"
	"github.com/stead-os/stead/services/networkd/netconf"
)

func network(t *testing.T, text string) *netconf.Network {
	t.Helper()
	n, err := netconf.ParseNetwork(strings.NewReader(text), "t.network", func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOnlineState(t *testing.T) {
	def := network(t, "[Match]\nName=x\n")
	routable := network(t, "[Link]\nRequiredForOnline=routable\n")
	v6 := network(t, "[Link]\nRequiredFamilyForOnline=ipv6\n")
	notReq := network(t, "[Link]\nRequiredForOnline=no\n")
	for _, c := range []struct {
		oper, v4, v6 string
		nw           *netconf.Network
		want         string
	}{
		{"routable", "routable", "off", def, Online},
		{"degraded", "degraded", "off", def, Online},
		{"carrier", "off", "off", def, Offline},
		{"no-carrier", "off", "off", def, Offline},
		{"degraded", "degraded", "off", routable, Offline},
		{"routable", "routable", "off", routable, Online},
		{"routable", "routable", "off", v6, Offline},
		{"routable", "routable", "degraded", v6, Online},
		{"off", "off", "off", notReq, ""},
		{"routable", "routable", "off", nil, ""},
	} {
		it := &api.Interface{OperationalState: c.oper, IPv4AddressState: c.v4, IPv6AddressState: c.v6}
		if got := linkOnline(it, c.nw); got != c.want {
			t.Errorf("%+v with %+v: %q, want %q", it, c.nw, got, c.want)
		}
	}
	on, off := api.Interface{OnlineState: Online}, api.Interface{OnlineState: Offline}
	lo := api.Interface{OnlineState: Offline, Type: "loopback"}
	for _, c := range []struct {
		in   []api.Interface
		want string
	}{
		{[]api.Interface{on, on, lo}, Online}, {[]api.Interface{on, off}, Partial},
		{[]api.Interface{off}, Offline}, {[]api.Interface{{}, lo}, ""},
	} {
		if got := managerOnline(c.in); got != c.want {
			t.Errorf("managerOnline(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	if _, _, err := api.ParseOperRange("routable:degraded"); err == nil {
		t.Error("inverted range accepted")
	}
}

// TestLeaseReportOf: the lease networkd describes over Varlink comes back
// intact in networkctl's report (services/networkctl).
func TestLeaseReportOf(t *testing.T) {
	ack, err := dhcpv4.New(dhcpv4.WithReply(&dhcpv4.DHCPv4{ClientHWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(net.IPv4(10, 1, 0, 7)),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 2, 0, 2))),
		dhcpv4.WithOption(dhcpv4.OptDNS(net.IPv4(192, 0, 2, 53))),
		dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	acquired := time.Now().Add(-time.Minute).Truncate(time.Second)
	l := &dhcpclient.Lease{ACK: ack, Acquired: acquired}
	it := api.Interface{Name: "c0", DHCPv4Client: &api.DHCPv4Client{Lease: leaseJSON(l)}}
	r, err := networkctl.LeaseReportOf(it, []string{"6:ipv4address", "51:uint32"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Address != "10.1.0.7/24" || r.ServerAddress != "10.2.0.2" || r.ClientHWAddr != "02:00:00:00:00:01" ||
		r.LifetimeUSec != time.Hour.Microseconds() || len(r.Options) != 2 || r.Options[0].Value != "192.0.2.53" || r.Options[1].Value != "3600" {
		t.Errorf("%+v", r)
	}
	if d := time.UnixMicro(r.AcquiredUSec).Sub(acquired); d < -time.Second || d > time.Second {
		t.Errorf("acquired %v, want %v", time.UnixMicro(r.AcquiredUSec), acquired)
	}
	if _, err := networkctl.LeaseReportOf(api.Interface{Name: "lo"}, nil); err == nil {
		t.Error("no lease: no error")
	}
	dns := linkDNS(network(t, "[Network]\nDNS=192.0.2.1\n"), l)
	if dnsList(dns) != "192.0.2.1 192.0.2.53" || dns[1].ConfigSource != "DHCPv4" || dns[1].ConfigProviderString != "10.2.0.2" {
		t.Errorf("linkDNS: %+v", dns)
	}
	if got := dnsList(linkDNS(network(t, "[DHCPv4]\nUseDNS=no\n"), l)); got != "" {
		t.Errorf("UseDNS=no: %q", got)
	}
}

func TestValidHostname(t *testing.T) {
	for in, ok := range map[string]bool{"host": true, "a.example": true, "a..b": false, "": false,
		"bad_name": false, strings.Repeat("a", 65): false, "x y": false} {
		if validHostname(in) != ok {
			t.Errorf("validHostname(%q) != %v", in, ok)
		}
	}
}
