package netconf

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/lib/conf"
)

// known lists the settings this implementation understands; others are
// reported once and ignored.
var known = map[string]map[string]bool{
	"Match":             set("Name", "Type", "Kind", "MACAddress"),
	"Link":              set("RequiredForOnline", "RequiredFamilyForOnline"),
	"Network":           set("DHCP", "Address", "Gateway", "DNS", "LinkLocalAddressing", "DHCPRelay", "KeepConfiguration"),
	"Address":           set("Address"),
	"Route":             set("Destination", "Gateway", "Type", "Table", "Scope"),
	"RoutingPolicyRule": set("FirewallMark", "Table", "Priority", "Family", "Invert"),
	"DHCPv4":            dhcpv4Keys,
	"DHCP":              dhcpv4Keys, // the legacy name of [DHCPv4]
	"DHCPRelay":         set("AgentAddress", "GatewayAddress", "CircuitId", "VirtualSubnetSelection", "InterfacePriority"),
}

// dhcpv4Keys are the settings of [DHCPv4] and of its legacy name [DHCP].
var dhcpv4Keys = set("UseHostname", "UseMTU", "UseDNS", "RouteTable", "SendRelease", "UseTimezone")

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// FromFile interprets a parsed .network file. Each section has its parser;
// a bad value is reported through warn (FILE:LINE: …) and leaves the
// setting at its default.
func FromFile(f *conf.File, warn func(error)) *Network { return FromFileTables(f, nil, warn) }

// FromFileTables is FromFile with the route table names of networkd.conf.
func FromFileTables(f *conf.File, tables map[string]uint32, warn func(error)) *Network {
	if warn == nil {
		warn = func(error) {}
	}
	n := &Network{DHCPv4: DHCPv4{UseHostname: true, UseMTU: false, UseDNS: true, SendRelease: true},
		KeepConfiguration: "no", Online: Online{Required: true, MinOper: "degraded", MaxOper: "routable", Family: "any"}}
	checkKnown(f, warn)
	n.Match = parseMatch(f, warn)
	parseNetwork(f, n, warn) // [Network] and the [Address] sections
	parseLink(f, &n.Online, warn)
	n.Routes = parseRoutes(f, tables, warn)
	n.Rules = parseRules(f, tables, warn)
	parseDHCPv4(f, &n.DHCPv4, tables, warn)
	parseRelayLink(f, &n.Relay, warn)
	return n
}

// checkKnown reports the sections and settings not in known.
func checkKnown(f *conf.File, warn func(error)) {
	for _, s := range f.Sections() {
		keys, ok := known[s.Name]
		if !ok {
			warn(&conf.Error{File: s.File, Line: s.Line, Msg: fmt.Sprintf("unknown section [%s], ignoring", s.Name)})
			continue
		}
		for _, e := range s.Entries {
			if !keys[e.Key] {
				warn(e.Wrap(fmt.Errorf("unknown setting in [%s], ignoring", s.Name)))
			}
		}
	}
}

// last is the last assignment of key in the [sec] sections, the zero
// Entry (which conf.Set skips) if there is none.
func last(f *conf.File, sec, key string) conf.Entry {
	e, _ := f.Lookup(sec, key)
	return e
}

// lastIn is last within the one section s.
func lastIn(s *conf.Section, key string) conf.Entry {
	e, _ := s.Lookup(key)
	return e
}

// words is a list setting of blank-separated words; "Key=" resets it.
func words(f *conf.File, sec, key string) []string {
	var out []string
	for _, e := range f.Entries(sec, key) {
		out = append(out, strings.Fields(e.Value)...)
	}
	return out
}

// parseMatch reads [Match]: lists of blank-separated words.
func parseMatch(f *conf.File, warn func(error)) Match {
	m := Match{Names: words(f, "Match", "Name"), Types: words(f, "Match", "Type"), Kinds: words(f, "Match", "Kind")}
	for _, e := range f.Entries("Match", "MACAddress") {
		for _, w := range strings.Fields(e.Value) {
			hw, err := net.ParseMAC(w)
			if err != nil || len(hw) != 6 {
				warn(e.Wrap(fmt.Errorf("invalid MAC address %q", w)))
				continue
			}
			m.MACs = append(m.MACs, hw)
		}
	}
	return m
}

// parseNetwork reads [Network], and the [Address] sections after its
// Address= list.
func parseNetwork(f *conf.File, n *Network, warn func(error)) {
	conf.Set(&n.DHCP, last(f, "Network", "DHCP"), dhcpMode, warn)
	n.Addresses = each(f.Entries("Network", "Address"), conf.Located(parsePrefix), warn)
	for _, s := range f.SectionsNamed("Address") {
		var p netip.Prefix
		if e := lastIn(s, "Address"); e.Value != "" && conf.Set(&p, e, conf.Located(parsePrefix), warn) {
			n.Addresses = append(n.Addresses, p)
		}
	}
	n.Gateways = each(f.Entries("Network", "Gateway"), conf.Located(parseAddr), warn)
	for _, e := range f.Entries("Network", "DNS") {
		for _, w := range strings.Fields(e.Value) {
			if a, err := parseAddr(w); err != nil {
				warn(e.Wrap(err))
			} else {
				n.DNS = append(n.DNS, a)
			}
		}
	}
	conf.Set(&n.LinkLocalAddressing, last(f, "Network", "LinkLocalAddressing"), conf.BoolOrWord("ipv4", "ipv6", "fallback"), warn)
	conf.Set(&n.DHCPRelay, last(f, "Network", "DHCPRelay"), conf.Located(relayRole), warn)
	conf.Set(&n.KeepConfiguration, last(f, "Network", "KeepConfiguration"), conf.BoolOrWord("static", "dynamic-on-stop", "dynamic"), warn)
}

// each reads every entry of es, keeping the values read accepts and
// reporting the others.
func each[T any](es []conf.Entry, read func(conf.Entry) (T, error), warn func(error)) []T {
	var out []T
	for _, e := range es {
		if v, err := read(e); err != nil {
			warn(err)
		} else {
			out = append(out, v)
		}
	}
	return out
}

// parseLink reads [Link]: the link's part in the online state.
func parseLink(f *conf.File, o *Online, warn func(error)) {
	if e := last(f, "Link", "RequiredForOnline"); e.Value != "" {
		if b, err := conf.ParseBool(e.Value); err == nil {
			o.Required = b
		} else if min, max, err := api.ParseOperRange(e.Value); err == nil {
			o.Required, o.MinOper, o.MaxOper = true, min, max
		} else {
			warn(e.Wrap(fmt.Errorf("invalid RequiredForOnline= value %q", e.Value)))
		}
	}
	conf.Set(&o.Family, last(f, "Link", "RequiredFamilyForOnline"), conf.Word("any", "ipv4", "ipv6", "both"), warn)
}

// parseRoutes reads the [Route] sections, one route each; a section with
// a bad value is dropped whole.
func parseRoutes(f *conf.File, tables map[string]uint32, warn func(error)) []Route {
	var out []Route
	for _, s := range f.SectionsNamed("Route") {
		r := Route{Type: "unicast"}
		ok := conf.Set(&r.Destination, lastIn(s, "Destination"), conf.Located(parseDestination), warn)
		ok = conf.Set(&r.Gateway, lastIn(s, "Gateway"), conf.Located(parseAddr), warn) && ok
		ok = conf.Set(&r.Type, lastIn(s, "Type"), conf.Located(routeType), warn) && ok
		ok = conf.Set(&r.Table, lastIn(s, "Table"), tableReader(tables), warn) && ok
		scope := lastIn(s, "Scope")
		ok = conf.Set(&r.Scope, scope, conf.Located(routeScope), warn) && ok
		r.HasScope = scope.Value != ""
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// parseRules reads the [RoutingPolicyRule] sections, one rule each; a
// section with a bad value is dropped whole.
func parseRules(f *conf.File, tables map[string]uint32, warn func(error)) []Rule {
	var out []Rule
	for _, s := range f.SectionsNamed("RoutingPolicyRule") {
		r := Rule{Family: "ipv4"}
		ok := firewallMark(lastIn(s, "FirewallMark"), &r, warn)
		ok = conf.Set(&r.Table, lastIn(s, "Table"), tableReader(tables), warn) && ok
		ok = conf.Set(&r.Family, lastIn(s, "Family"), conf.Located(ruleFamily), warn) && ok
		ok = conf.Set(&r.Invert, lastIn(s, "Invert"), conf.Bool, warn) && ok
		prio := lastIn(s, "Priority")
		ok = conf.Set(&r.Priority, prio, conf.Int[uint32]("priority", 0, math.MaxUint32), warn) && ok
		r.HasPriority = prio.Value != ""
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// firewallMark reads FirewallMark=MARK[/MASK], numbers in C notation
// (0x10); a bad mark and a bad mask are reported each.
func firewallMark(e conf.Entry, r *Rule, warn func(error)) bool {
	if e.Value == "" {
		return true
	}
	ok := true
	v, m, _ := strings.Cut(e.Value, "/")
	if mark, err := parseUint32(v); err != nil {
		warn(e.Wrap(fmt.Errorf("invalid firewall mark %q", e.Value)))
		ok = false
	} else {
		r.FirewallMark = uint32(mark)
	}
	if m == "" {
		return ok
	}
	if mask, err := parseUint32(m); err != nil {
		warn(e.Wrap(fmt.Errorf("invalid firewall mask %q", e.Value)))
		ok = false
	} else {
		r.FirewallMask = uint32(mask)
	}
	return ok
}

// parseDHCPv4 reads [DHCPv4] and its legacy name [DHCP], the client's
// settings; where both set a key, the later assignment wins.
func parseDHCPv4(f *conf.File, d *DHCPv4, tables map[string]uint32, warn func(error)) {
	get := func(key string) conf.Entry { return lastOf(f, key, "DHCP", "DHCPv4") }
	conf.Set(&d.UseHostname, get("UseHostname"), conf.Bool, warn)
	conf.Set(&d.UseMTU, get("UseMTU"), conf.Bool, warn)
	conf.Set(&d.UseDNS, get("UseDNS"), conf.Bool, warn)
	conf.Set(&d.SendRelease, get("SendRelease"), conf.Bool, warn)
	conf.Set(&d.RouteTable, get("RouteTable"), tableReader(tables), warn)
	tz := get("UseTimezone")
	if conf.Set(&d.UseTimezone, tz, conf.Bool, warn) && d.UseTimezone {
		warn(tz.Wrap(fmt.Errorf("setting the time zone from the lease is not supported (no timedated), ignoring")))
	}
}

// lastOf is the last assignment of key in any section named one of secs,
// in file order.
func lastOf(f *conf.File, key string, secs ...string) conf.Entry {
	ss := f.Sections()
	for i := len(ss) - 1; i >= 0; i-- {
		if slices.Contains(secs, ss[i].Name) {
			if e, ok := ss[i].Lookup(key); ok {
				return e
			}
		}
	}
	return conf.Entry{}
}

// parseRelayLink reads the per-link [DHCPRelay] section.
func parseRelayLink(f *conf.File, r *RelayLink, warn func(error)) {
	conf.Set(&r.AgentAddress, last(f, "DHCPRelay", "AgentAddress"), ipv4Addr, warn)
	conf.Set(&r.GatewayAddress, last(f, "DHCPRelay", "GatewayAddress"), ipv4Addr, warn)
	conf.Set(&r.CircuitID, last(f, "DHCPRelay", "CircuitId"), conf.Located(ParseTypedData), warn)
	conf.Set(&r.VirtualSubnetSelection, last(f, "DHCPRelay", "VirtualSubnetSelection"), conf.Located(ParseTypedData), warn)
	conf.Set(&r.InterfacePriority, last(f, "DHCPRelay", "InterfacePriority"), conf.Int("interface priority", math.MinInt32, math.MaxInt32), warn)
}
