// Package relay is networkd's DHCPv4 relay agent (RFC 1542, RFC 3046).
//
// Requests from clients on a downstream link are forwarded to the
// configured server from the upstream link, with giaddr, the hop count and
// a Relay Agent Information option (82) set; replies from that server are
// stripped of option 82 and delivered back on the downstream link the
// request came from. The packet transforms are pure functions (this file);
// sockets live in relay_linux.go.
package relay

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// MaxHops is the hop count at which a request is dropped instead of being
// forwarded (RFC 1542 §4.1.1 recommends 16 as the default limit).
const MaxHops = 16

// Sub-options of the Relay Agent Information option.
const (
	SubCircuitID     = 1   // RFC 3046
	SubRemoteID      = 2   // RFC 3046
	SubFlags         = 10  // RFC 5010
	SubServerIDOverr = 11  // RFC 5107
	SubVSS           = 151 // RFC 6607
)

const optRelayAgentInfo = 82

// Downstream is one client-facing link.
type Downstream struct {
	Ifname    string
	Ifindex   int
	MAC       net.HardwareAddr
	Gateway   netip.Addr // giaddr written into requests from this link
	CircuitID []byte     // nil: Ifname
	VSS       []byte     // Virtual Subnet Selection sub-option; nil: none
}

func (d *Downstream) circuit() []byte {
	if d.CircuitID != nil {
		return d.CircuitID
	}
	return []byte(d.Ifname)
}

// Config is everything the relay needs.
type Config struct {
	Server           netip.Addr // networkd.conf ServerAddress=
	OverrideServerID bool       // add Server Identifier Override and Flags sub-options
	RemoteID         []byte     // nil: no Remote ID sub-option
	Upstream         string     // server-facing interface
	Downstreams      []*Downstream
}

// Errors returned by the transforms; each means "drop the packet".
var (
	ErrMalformed    = errors.New("malformed DHCP message")
	ErrNotRequest   = errors.New("not a BOOTREQUEST")
	ErrNotReply     = errors.New("not a BOOTREPLY")
	ErrHops         = errors.New("hop count limit reached")
	ErrForgedGiaddr = errors.New("giaddr set by someone else on a client link")
	ErrUntrusted82  = errors.New("option 82 from a client (giaddr unset)")
	ErrNotServer    = errors.New("reply not from the configured server")
	ErrNoLink       = errors.New("reply matches no downstream link")
	ErrTooBig       = errors.New("message too large once relayed")
)

// maxMessage bounds what we send: the largest DHCP message a 1500-byte
// Ethernet frame carries.
const maxMessage = 1500 - 20 - 8

// ToServer turns a request received on downstream link d into the message
// sent to the server.
//
// giaddr policy: a downstream link faces clients, which are untrusted
// (RFC 3046 §2.1). A request there whose giaddr is already set to something
// other than this link's gateway address would be a relay chain behind a
// client port, or a forgery steering the server's reply; it is dropped.
// One whose giaddr is zero but which carries option 82 is dropped as well
// (RFC 3046 §2.1.1: the relay may not know the option's origin). When giaddr
// is already ours (a loop through our own links), the request keeps its
// option 82 and only the hop count changes.
func (c *Config) ToServer(d *Downstream, pkt []byte) ([]byte, error) {
	m, err := dhcpv4.FromBytes(pkt)
	if err != nil {
		return nil, ErrMalformed
	}
	if m.OpCode != dhcpv4.OpcodeBootRequest {
		return nil, ErrNotRequest
	}
	if m.HopCount >= MaxHops {
		return nil, ErrHops
	}
	m.HopCount++
	gi, _ := netip.AddrFromSlice(m.GatewayIPAddr.To4())
	our := d.Gateway
	switch {
	case !gi.IsValid() || gi.IsUnspecified():
		if _, has := m.Options[optRelayAgentInfo]; has {
			return nil, ErrUntrusted82
		}
		m.GatewayIPAddr = net.IP(our.AsSlice())
		m.Options[optRelayAgentInfo] = c.agentInfo(d)
	case gi == our:
		// already ours: leave giaddr and option 82 alone
	default:
		return nil, ErrForgedGiaddr
	}
	out := m.ToBytes()
	if len(out) > maxMessage {
		return nil, ErrTooBig
	}
	return out, nil
}

// agentInfo builds the content of option 82 for requests from d.
func (c *Config) agentInfo(d *Downstream) []byte {
	var b []byte
	sub := func(code byte, v []byte) {
		if len(v) > 255 {
			v = v[:255]
		}
		b = append(b, code, byte(len(v)))
		b = append(b, v...)
	}
	sub(SubCircuitID, d.circuit())
	if c.RemoteID != nil {
		sub(SubRemoteID, c.RemoteID)
	}
	if c.OverrideServerID {
		sub(SubFlags, []byte{0}) // received as broadcast or unicast: not tracked, 0
		sub(SubServerIDOverr, d.Gateway.AsSlice())
	}
	if d.VSS != nil {
		sub(SubVSS, d.VSS)
	}
	return b
}

// Delivery says where a reply goes on its downstream link.
type Delivery struct {
	Link      *Downstream
	Broadcast bool       // to 255.255.255.255:68
	Dst       netip.Addr // unicast destination (yiaddr) when !Broadcast
	HWAddr    net.HardwareAddr
}

// ToClient turns a message from src (the UDP source address) into the one
// delivered to a client, and says where. Replies come only from the
// configured server; option 82 is always removed.
func (c *Config) ToClient(src netip.Addr, pkt []byte) ([]byte, Delivery, error) {
	var dl Delivery
	if src.Unmap() != c.Server {
		return nil, dl, ErrNotServer
	}
	m, err := dhcpv4.FromBytes(pkt)
	if err != nil {
		return nil, dl, ErrMalformed
	}
	if m.OpCode != dhcpv4.OpcodeBootReply {
		return nil, dl, ErrNotReply
	}
	dl.Link = c.linkFor(m)
	if dl.Link == nil {
		return nil, dl, ErrNoLink
	}
	delete(m.Options, optRelayAgentInfo)
	yi, _ := netip.AddrFromSlice(m.YourIPAddr.To4())
	// RFC 1542 §5.4: broadcast when the client asked for it; with no
	// address to send to (a NAK) broadcasting is the only way too.
	if m.IsBroadcast() || !yi.IsValid() || yi.IsUnspecified() || len(m.ClientHWAddr) != 6 {
		dl.Broadcast = true
	} else {
		dl.Dst = yi
		dl.HWAddr = append(net.HardwareAddr(nil), m.ClientHWAddr...)
	}
	out := m.ToBytes()
	if len(out) > maxMessage {
		return nil, Delivery{}, ErrTooBig
	}
	return out, dl, nil
}

// linkFor finds the downstream link of a reply: by the circuit id we put
// into option 82 when the server echoed it, else by giaddr.
func (c *Config) linkFor(m *dhcpv4.DHCPv4) *Downstream {
	if ai, ok := m.Options[optRelayAgentInfo]; ok {
		if cid, ok := subOption(ai, SubCircuitID); ok {
			gi, _ := netip.AddrFromSlice(m.GatewayIPAddr.To4())
			for _, d := range c.Downstreams {
				if bytes.Equal(cid, d.circuit()) && (gi == d.Gateway || !gi.IsValid() || gi.IsUnspecified()) {
					return d
				}
			}
		}
	}
	gi, ok := netip.AddrFromSlice(m.GatewayIPAddr.To4())
	if !ok {
		return nil
	}
	for _, d := range c.Downstreams {
		if d.Gateway == gi {
			return d
		}
	}
	return nil
}

// subOption returns the value of sub-option code in an option 82 payload.
func subOption(b []byte, code byte) ([]byte, bool) {
	for len(b) >= 2 {
		l := int(b[1])
		if len(b) < 2+l {
			return nil, false
		}
		if b[0] == code {
			return b[2 : 2+l], true
		}
		b = b[2+l:]
	}
	return nil, false
}

// String describes a delivery for logs.
func (d Delivery) String() string {
	if d.Broadcast {
		return fmt.Sprintf("broadcast on %s", d.Link.Ifname)
	}
	return fmt.Sprintf("unicast to %s (%s) on %s", d.Dst, d.HWAddr, d.Link.Ifname)
}
