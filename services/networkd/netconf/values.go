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

// ParseTable accepts a table number (1…4294967295, decimal or 0x hex) or
// default/main/local.
func ParseTable(s string) (uint32, error) { return parseTableNamed(s, nil) }

// parseTableNamed is ParseTable that also knows the names of networkd.conf's
// RouteTable=.
func parseTableNamed(s string, names map[string]uint32) (uint32, error) {
	if t, ok := tableNames[s]; ok {
		return t, nil
	}
	if t, ok := names[s]; ok {
		return t, nil
	}
	v, err := parseUint32(s)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("invalid route table %q", s)
	}
	return v, nil
}

// tableReader reads Table= and RouteTable= with the names of networkd.conf.
func tableReader(names map[string]uint32) func(conf.Entry) (uint32, error) {
	return conf.Located(func(s string) (uint32, error) { return parseTableNamed(s, names) })
}

// parseUint32 reads a decimal number or, after 0x, a hexadecimal one. A
// leading zero does not mean octal.
func parseUint32(s string) (uint32, error) {
	base := 10
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s, base = s[2:], 16
	}
	if s == "" || s[0] == '+' || s[0] == '-' || strings.Contains(s, "_") {
		return 0, strconv.ErrSyntax
	}
	v, err := strconv.ParseUint(s, base, 32)
	return uint32(v), err
}

// Route scopes by name ([Route] Scope=).
var scopeNames = map[string]uint8{"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}

// routeScope reads Scope=: a name or a number 0…255.
func routeScope(s string) (uint8, error) {
	if v, ok := scopeNames[s]; ok {
		return v, nil
	}
	v, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("invalid route scope %q", s)
	}
	return uint8(v), nil
}

// ruleFamily reads [RoutingPolicyRule] Family=: ipv4, ipv6 or both.
func ruleFamily(s string) (string, error) {
	switch s {
	case "ipv4", "ipv6", "both":
		return s, nil
	}
	return "", fmt.Errorf("invalid rule family %q (ipv4, ipv6 or both)", s)
}

// routeTableEntry reads one NAME:NUMBER of networkd.conf's RouteTable=.
func routeTableEntry(s string) (string, uint32, error) {
	name, num, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return "", 0, fmt.Errorf("invalid route table definition %q (NAME:NUMBER)", s)
	}
	if _, err := strconv.ParseUint(name, 10, 32); err == nil {
		return "", 0, fmt.Errorf("invalid route table name %q: a number", name)
	}
	if _, ok := tableNames[name]; ok {
		return "", 0, fmt.Errorf("route table name %q is predefined", name)
	}
	v, err := parseUint32(num)
	if err != nil || v == 0 {
		return "", 0, fmt.Errorf("invalid route table number %q", num)
	}
	if v == 253 || v == 254 || v == 255 {
		return "", 0, fmt.Errorf("route table number %d is predefined", v)
	}
	return name, v, nil
}
