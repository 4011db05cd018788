package netconf

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/stead-os/stead/lib/conf"
)

// Value parsers of .network settings, bare (parsePrefix, ParseTable, …) or
// readers of a whole conf.Entry where the message needs the setting.

// dhcpMode reads DHCP=: a boolean, ipv4 or ipv6, the words in any case
// ("IPv4"); the message quotes the value as written.
func dhcpMode(e conf.Entry) (string, error) {
	lower := e
	lower.Value = strings.ToLower(e.Value)
	v, err := conf.BoolOrWord("ipv4", "ipv6")(lower)
	if err != nil {
		return "", e.Wrap(&conf.ValueError{Type: "DHCP= value", Value: e.Value})
	}
	return v, nil
}

// relayRole reads DHCPRelay=.
func relayRole(s string) (string, error) {
	if s != RelayUpstream && s != RelayDownstream {
		return "", fmt.Errorf("invalid DHCPRelay= value %q (upstream or downstream)", s)
	}
	return s, nil
}

// routeTypes are the values of [Route] Type=.
var routeTypes = []string{"unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve"}

func routeType(s string) (string, error) {
	if !slices.Contains(routeTypes, s) {
		return "", fmt.Errorf("invalid route type %q", s)
	}
	return s, nil
}

// ipv4Addr reads an IPv4 address ([DHCPRelay] AgentAddress=, GatewayAddress=).
func ipv4Addr(e conf.Entry) (netip.Addr, error) {
	a, err := parseAddr(e.Value)
	if err == nil && !a.Is4() {
		err = fmt.Errorf("%q is not an IPv4 address", e.Value)
	}
	if err != nil {
		return netip.Addr{}, e.Wrap(err)
	}
	return a, nil
}

// parsePrefix reads ADDRESS/BITS, or a bare address as a host prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address %q", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseDestination is parsePrefix with the host bits cleared ([Route] Destination=).
func parseDestination(s string) (netip.Prefix, error) {
	p, err := parsePrefix(s)
	return p.Masked(), err
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid address %q", s)
	}
	return a, nil
}

// Well-known routing table names.
var tableNames = map[string]uint32{"default": 253, "main": 254, "local": 255}

// ParseTable accepts a table number (1…4294967295) or default/main/local.
func ParseTable(s string) (uint32, error) {
	if t, ok := tableNames[s]; ok {
		return t, nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("invalid route table %q", s)
	}
	return uint32(v), nil
}
