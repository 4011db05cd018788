package networkd

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/stead-os/stead/services/networkd/dhcpclient"
)

func TestFlagsString(t *testing.T) {
	// lo as upstream prints it: IFF_UP|IFF_LOOPBACK|IFF_RUNNING|IFF_LOWER_UP.
	if got := flagsString(65609); got != "up,loopback,running,lower-up" {
		t.Errorf("flagsString(65609) = %q", got)
	}
}

func TestLeaseJSON(t *testing.T) {
	ack, err := dhcpv4.New(dhcpv4.WithReply(&dhcpv4.DHCPv4{ClientHWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(net.IPv4(10, 1, 0, 7)),
		dhcpv4.WithGatewayIP(net.IPv4(10, 1, 0, 1)), dhcpv4.WithTransactionID(dhcpv4.TransactionID{1, 2, 3, 4}),
		dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(time.Hour)), dhcpv4.WithOption(dhcpv4.OptRouter(net.IPv4(10, 1, 0, 1))))
	if err != nil {
		t.Fatal(err)
	}
	ack.OpCode = dhcpv4.OpcodeBootReply
	j := leaseJSON(&dhcpclient.Lease{ACK: ack, Acquired: time.Now()})
	b, _ := json.Marshal(j)
	for _, want := range []string{`"op":2`, `"xid":16909060`, `"yiaddr":"0a010007"`, `"giaddr":"0a010001"`,
		`"chaddr":"020000000001"`, `{"tag":3,"data":"0a010001"}`, `{"tag":51,"data":"00000e10"}`, `"LifetimeUSec":3600000000`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("lease JSON lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), `"tag":255`) {
		t.Errorf("end option listed:\n%s", b)
	}
}
