package netconf

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/stead-os/stead/lib/conf"
)

// NetworkDirs are the directories .network files are looked up in, most
// important first, all relative to the root given to Load.
var NetworkDirs = []string{
	"/etc/systemd/network",
	"/run/systemd/network",
	"/usr/local/lib/systemd/network",
	"/usr/lib/systemd/network",
}

// Relay roles of a link ([Network] DHCPRelay=).
const (
	RelayNone       = ""
	RelayUpstream   = "upstream"
	RelayDownstream = "downstream"
)

// Match is the [Match] section: every non-empty list must match.
type Match struct {
	Names []string // shell globs, "!" in front of the first word negates the list
	Types []string
	Kinds []string
	MACs  []net.HardwareAddr
}

// Route is one [Route] section.
type Route struct {
	Destination netip.Prefix // zero: default route
	Gateway     netip.Addr
	Type        string // unicast (default), blackhole, unreachable, prohibit, local, …
	Table       uint32 // 0: main
}

// Rule is one [RoutingPolicyRule] section.
type Rule struct {
	FirewallMark uint32
	FirewallMask uint32 // 0: match the whole mark
	Table        uint32
	Priority     uint32
	HasPriority  bool
}

// DHCPv4 is the [DHCPv4] section (client side).
type DHCPv4 struct {
	UseHostname bool
	UseMTU      bool
	UseDNS      bool
	RouteTable  uint32
	SendRelease bool // DHCPRELEASE when the client stops (default yes)
}

// Online is what the [Link] section says about the link's part in the
// system's online state (RequiredForOnline=, RequiredFamilyForOnline=).
type Online struct {
	Required bool
	MinOper  string // lowest operational state deemed online (default degraded)
	MaxOper  string // highest (default routable)
	Family   string // any (default), ipv4, ipv6, both
}

// OperStates are the operational states in upstream's order, lowest first.
var OperStates = []string{"missing", "off", "no-carrier", "dormant", "degraded-carrier", "carrier", "degraded", "enslaved", "routable"}

// OperRank is the position of an operational state in OperStates, -1 if unknown.
func OperRank(s string) int {
	for i, v := range OperStates {
		if v == s {
			return i
		}
	}
	return -1
}

// ParseOperRange reads "MIN" or "MIN:MAX" of operational states; max
// defaults to routable.
func ParseOperRange(s string) (min, max string, err error) {
	min, max, ok := strings.Cut(s, ":")
	if !ok || max == "" {
		max = "routable"
	}
	if min == "" {
		min = "off"
	}
	if OperRank(min) < 0 || OperRank(max) < 0 || OperRank(min) > OperRank(max) {
		return "", "", fmt.Errorf("invalid operational state range %q", s)
	}
	return min, max, nil
}

// RelayLink is the per-link [DHCPRelay] section.
type RelayLink struct {
	AgentAddress           netip.Addr
	GatewayAddress         netip.Addr
	CircuitID              []byte // nil: the interface name
	VirtualSubnetSelection []byte
	InterfacePriority      int
}

// Network is one .network file after parsing.
type Network struct {
	Name  string // file name, "10-eth.network"
	Path  string // in-root path of the main file
	Match Match

	DHCP                string // "", "yes", "no", "ipv4", "ipv6"
	Addresses           []netip.Prefix
	Gateways            []netip.Addr
	DNS                 []netip.Addr
	LinkLocalAddressing string
	DHCPRelay           string
	// KeepConfiguration= (no, static, dynamic-on-stop, dynamic, yes): with
	// dynamic-on-stop, dynamic or yes a stopping networkd keeps its DHCPv4
	// address and lease instead of releasing them.
	KeepConfiguration string
	Online            Online

	Routes []Route
	Rules  []Rule
	DHCPv4 DHCPv4
	Relay  RelayLink
}

// DHCPv4Enabled tells whether the link runs a DHCPv4 client.
func (n *Network) DHCPv4Enabled() bool { return n.DHCP == "yes" || n.DHCP == "ipv4" }

// KeepDynamicOnStop tells whether dynamic configuration outlives networkd.
func (n *Network) KeepDynamicOnStop() bool {
	switch n.KeepConfiguration {
	case "dynamic-on-stop", "dynamic", "yes":
		return true
	}
	return false
}

// LinkInfo is what matching looks at.
type LinkInfo struct {
	Name string
	Type string // "ether", "loopback", …
	Kind string // "veth", "bridge", … ("" for plain devices)
	MAC  net.HardwareAddr
}

// Matches tells whether n applies to link l.
func (n *Network) Matches(l LinkInfo) bool {
	m := &n.Match
	if len(m.Names) > 0 && !globList(m.Names, l.Name) {
		return false
	}
	if len(m.Types) > 0 && !globList(m.Types, l.Type) {
		return false
	}
	if len(m.Kinds) > 0 && !globList(m.Kinds, l.Kind) {
		return false
	}
	if len(m.MACs) > 0 {
		ok := false
		for _, a := range m.MACs {
			if l.MAC != nil && a.String() == l.MAC.String() {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// globList matches s against a list of globs; a "!" before the first
// pattern inverts the whole list, as upstream does.
func globList(pats []string, s string) bool {
	invert := false
	if strings.HasPrefix(pats[0], "!") {
		invert = true
	}
	hit := false
	for i, p := range pats {
		if i == 0 && invert {
			p = p[1:]
		}
		if ok, err := path.Match(p, s); err == nil && ok {
			hit = true
			break
		}
	}
	return hit != invert
}

// Find returns the first network (in load order) that matches l, or nil.
func Find(nets []*Network, l LinkInfo) *Network {
	for _, n := range nets {
		if n.Matches(l) {
			return n
		}
	}
	return nil
}

// Load reads every .network file under root. Files are taken in the byte
// order of their names whatever their directory; a name in a more
// important directory hides it in later ones, and a symlink to /dev/null
// (or an empty file) masks it. Each file gets its own NAME.network.d/*.conf
// drop-ins. Problems go to warn (FILE:LINE: …); the error is for I/O
// failures only.
func Load(root string, warn func(error)) ([]*Network, error) {
	names := map[string]bool{}
	for _, d := range NetworkDirs {
		ents, err := os.ReadDir(filepath.Join(root, d))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				continue
			}
			return nil, err
		}
		for _, e := range ents {
			if n := e.Name(); strings.HasSuffix(n, ".network") && !strings.HasPrefix(n, ".") {
				names[n] = true
			}
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var out []*Network
	for _, name := range sorted {
		main, masked, err := conf.FindMain(root, NetworkDirs, name)
		if err != nil {
			return nil, err
		}
		if main == "" || masked {
			continue
		}
		dd := make([]string, len(NetworkDirs))
		for i, d := range NetworkDirs {
			dd[i] = path.Join(d, name+".d")
		}
		dropins, err := conf.FindDropins(root, dd)
		if err != nil {
			return nil, err
		}
		f, err := conf.LoadFiles(root, main, dropins, &conf.Options{Warn: warn})
		if err != nil {
			return nil, err
		}
		n := FromFile(f, warn)
		n.Name, n.Path = name, main
		out = append(out, n)
	}
	return out, nil
}

// ParseNetwork parses one .network file from r (tests, fuzzing).
func ParseNetwork(r io.Reader, name string, warn func(error)) (*Network, error) {
	f, err := conf.Parse(r, name, &conf.Options{Warn: warn})
	if err != nil {
		return nil, err
	}
	n := FromFile(f, warn)
	n.Name = name
	return n, nil
}

// known lists the settings this implementation understands; others are
// reported once and ignored.
var known = map[string]map[string]bool{
	"Match":             set("Name", "Type", "Kind", "MACAddress"),
	"Link":              set("RequiredForOnline", "RequiredFamilyForOnline"),
	"Network":           set("DHCP", "Address", "Gateway", "DNS", "LinkLocalAddressing", "DHCPRelay", "KeepConfiguration"),
	"Address":           set("Address"),
	"Route":             set("Destination", "Gateway", "Type", "Table"),
	"RoutingPolicyRule": set("FirewallMark", "Table", "Priority"),
	"DHCPv4":            set("UseHostname", "UseMTU", "UseDNS", "RouteTable", "SendRelease"),
	"DHCPRelay":         set("AgentAddress", "GatewayAddress", "CircuitId", "VirtualSubnetSelection", "InterfacePriority"),
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// FromFile interprets a parsed .network file.
func FromFile(f *conf.File, warn func(error)) *Network {
	if warn == nil {
		warn = func(error) {}
	}
	bad := func(e conf.Entry, err error) { warn(e.Wrap(err)) }
	n := &Network{DHCPv4: DHCPv4{UseHostname: true, UseMTU: false, UseDNS: true, SendRelease: true},
		KeepConfiguration: "no", Online: Online{Required: true, MinOper: "degraded", MaxOper: "routable", Family: "any"}}
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
	// [Match]: lists of blank-separated words, "Key=" resets.
	n.Match.Names = words(f, "Match", "Name")
	n.Match.Types = words(f, "Match", "Type")
	n.Match.Kinds = words(f, "Match", "Kind")
	for _, e := range listEntries(f, "Match", "MACAddress") {
		for _, w := range strings.Fields(e.Value) {
			hw, err := net.ParseMAC(w)
			if err != nil || len(hw) != 6 {
				bad(e, fmt.Errorf("invalid MAC address %q", w))
				continue
			}
			n.Match.MACs = append(n.Match.MACs, hw)
		}
	}

	// [Network]
	if e, ok := f.Lookup("Network", "DHCP"); ok {
		switch v := strings.ToLower(e.Value); v {
		case "ipv4", "ipv6", "":
			n.DHCP = v
		default:
			b, err := conf.ParseBool(e.Value)
			if err != nil {
				bad(e, fmt.Errorf("invalid DHCP= value %q", e.Value))
			} else if b {
				n.DHCP = "yes"
			} else {
				n.DHCP = "no"
			}
		}
	}
	for _, e := range listEntries(f, "Network", "Address") {
		if p, err := parsePrefix(e.Value); err != nil {
			bad(e, err)
		} else {
			n.Addresses = append(n.Addresses, p)
		}
	}
	for _, s := range f.SectionsNamed("Address") {
		if e, ok := s.Lookup("Address"); ok && e.Value != "" {
			if p, err := parsePrefix(e.Value); err != nil {
				bad(e, err)
			} else {
				n.Addresses = append(n.Addresses, p)
			}
		}
	}
	for _, e := range listEntries(f, "Network", "Gateway") {
		if a, err := parseAddr(e.Value); err != nil {
			bad(e, err)
		} else {
			n.Gateways = append(n.Gateways, a)
		}
	}
	for _, e := range listEntries(f, "Network", "DNS") {
		for _, w := range strings.Fields(e.Value) {
			if a, err := parseAddr(w); err != nil {
				bad(e, err)
			} else {
				n.DNS = append(n.DNS, a)
			}
		}
	}
	if e, ok := f.Lookup("Network", "LinkLocalAddressing"); ok {
		switch v := e.Value; v {
		case "ipv4", "ipv6", "fallback", "":
			n.LinkLocalAddressing = v
		default:
			if b, err := conf.ParseBool(v); err != nil {
				bad(e, fmt.Errorf("invalid LinkLocalAddressing= value %q", v))
			} else if b {
				n.LinkLocalAddressing = "yes"
			} else {
				n.LinkLocalAddressing = "no"
			}
		}
	}
	if e, ok := f.Lookup("Network", "DHCPRelay"); ok {
		switch e.Value {
		case RelayUpstream, RelayDownstream, "":
			n.DHCPRelay = e.Value
		default:
			bad(e, fmt.Errorf("invalid DHCPRelay= value %q (upstream or downstream)", e.Value))
		}
	}

	if e, ok := f.Lookup("Network", "KeepConfiguration"); ok && e.Value != "" {
		switch e.Value {
		case "static", "dynamic-on-stop", "dynamic":
			n.KeepConfiguration = e.Value
		default:
			if b, err := conf.ParseBool(e.Value); err != nil {
				bad(e, fmt.Errorf("invalid KeepConfiguration= value %q", e.Value))
			} else if b {
				n.KeepConfiguration = "yes"
			} else {
				n.KeepConfiguration = "no"
			}
		}
	}

	// [Link]
	if e, ok := f.Lookup("Link", "RequiredForOnline"); ok && e.Value != "" {
		if b, err := conf.ParseBool(e.Value); err == nil {
			n.Online.Required = b
		} else if min, max, err := ParseOperRange(e.Value); err == nil {
			n.Online.Required, n.Online.MinOper, n.Online.MaxOper = true, min, max
		} else {
			bad(e, fmt.Errorf("invalid RequiredForOnline= value %q", e.Value))
		}
	}
	if e, ok := f.Lookup("Link", "RequiredFamilyForOnline"); ok && e.Value != "" {
		switch e.Value {
		case "any", "ipv4", "ipv6", "both":
			n.Online.Family = e.Value
		default:
			bad(e, fmt.Errorf("invalid RequiredFamilyForOnline= value %q", e.Value))
		}
	}

	// [Route], one route per section.
	for _, s := range f.SectionsNamed("Route") {
		var r Route
		ok := true
		if e, has := s.Lookup("Destination"); has && e.Value != "" {
			p, err := parsePrefix(e.Value)
			if err != nil {
				bad(e, err)
				ok = false
			}
			r.Destination = p.Masked()
		}
		if e, has := s.Lookup("Gateway"); has && e.Value != "" {
			a, err := parseAddr(e.Value)
			if err != nil {
				bad(e, err)
				ok = false
			}
			r.Gateway = a
		}
		r.Type = "unicast"
		if e, has := s.Lookup("Type"); has && e.Value != "" {
			switch e.Value {
			case "unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve":
				r.Type = e.Value
			default:
				bad(e, fmt.Errorf("invalid route type %q", e.Value))
				ok = false
			}
		}
		if e, has := s.Lookup("Table"); has && e.Value != "" {
			t, err := ParseTable(e.Value)
			if err != nil {
				bad(e, err)
				ok = false
			}
			r.Table = t
		}
		if ok {
			n.Routes = append(n.Routes, r)
		}
	}

	// [RoutingPolicyRule]
	for _, s := range f.SectionsNamed("RoutingPolicyRule") {
		var r Rule
		ok := true
		if e, has := s.Lookup("FirewallMark"); has && e.Value != "" {
			v, m, _ := strings.Cut(e.Value, "/")
			mark, err := strconv.ParseUint(v, 0, 32)
			if err != nil {
				bad(e, fmt.Errorf("invalid firewall mark %q", e.Value))
				ok = false
			}
			r.FirewallMark = uint32(mark)
			if m != "" {
				mask, err := strconv.ParseUint(m, 0, 32)
				if err != nil {
					bad(e, fmt.Errorf("invalid firewall mask %q", e.Value))
					ok = false
				}
				r.FirewallMask = uint32(mask)
			}
		}
		if e, has := s.Lookup("Table"); has && e.Value != "" {
			t, err := ParseTable(e.Value)
			if err != nil {
				bad(e, err)
				ok = false
			}
			r.Table = t
		}
		if e, has := s.Lookup("Priority"); has && e.Value != "" {
			p, err := strconv.ParseUint(e.Value, 10, 32)
			if err != nil {
				bad(e, fmt.Errorf("invalid priority %q", e.Value))
				ok = false
			}
			r.Priority, r.HasPriority = uint32(p), true
		}
		if ok {
			n.Rules = append(n.Rules, r)
		}
	}

	// [DHCPv4]
	boolSetting(f, "DHCPv4", "UseHostname", &n.DHCPv4.UseHostname, bad)
	boolSetting(f, "DHCPv4", "UseMTU", &n.DHCPv4.UseMTU, bad)
	boolSetting(f, "DHCPv4", "UseDNS", &n.DHCPv4.UseDNS, bad)
	boolSetting(f, "DHCPv4", "SendRelease", &n.DHCPv4.SendRelease, bad)
	if e, ok := f.Lookup("DHCPv4", "RouteTable"); ok && e.Value != "" {
		if t, err := ParseTable(e.Value); err != nil {
			bad(e, err)
		} else {
			n.DHCPv4.RouteTable = t
		}
	}

	// [DHCPRelay]
	addr4 := func(key string, dst *netip.Addr) {
		if e, ok := f.Lookup("DHCPRelay", key); ok && e.Value != "" {
			a, err := parseAddr(e.Value)
			if err == nil && !a.Is4() {
				err = fmt.Errorf("%q is not an IPv4 address", e.Value)
			}
			if err != nil {
				bad(e, err)
				return
			}
			*dst = a
		}
	}
	addr4("AgentAddress", &n.Relay.AgentAddress)
	addr4("GatewayAddress", &n.Relay.GatewayAddress)
	typed := func(key string, dst *[]byte) {
		if e, ok := f.Lookup("DHCPRelay", key); ok && e.Value != "" {
			b, err := ParseTypedData(e.Value)
			if err != nil {
				bad(e, err)
				return
			}
			*dst = b
		}
	}
	typed("CircuitId", &n.Relay.CircuitID)
	typed("VirtualSubnetSelection", &n.Relay.VirtualSubnetSelection)
	if e, ok := f.Lookup("DHCPRelay", "InterfacePriority"); ok && e.Value != "" {
		p, err := strconv.ParseInt(e.Value, 10, 32)
		if err != nil {
			bad(e, fmt.Errorf("invalid interface priority %q", e.Value))
		} else {
			n.Relay.InterfacePriority = int(p)
		}
	}
	return n
}

// RelayAgentAddress is the address the relay uses on this link:
// AgentAddress= if it is one of the static addresses, else the first
// static IPv4 address. ok is false when there is none.
func (n *Network) RelayAgentAddress() (netip.Addr, bool) {
	var first netip.Addr
	for _, p := range n.Addresses {
		if !p.Addr().Is4() {
			continue
		}
		if !first.IsValid() {
			first = p.Addr()
		}
		if n.Relay.AgentAddress.IsValid() && p.Addr() == n.Relay.AgentAddress {
			return p.Addr(), true
		}
	}
	if n.Relay.AgentAddress.IsValid() {
		return netip.Addr{}, false // configured but not among the static addresses
	}
	return first, first.IsValid()
}

// RelayGatewayAddress is the giaddr put into requests from this downstream
// link: GatewayAddress=, else the agent address.
func (n *Network) RelayGatewayAddress() (netip.Addr, bool) {
	if n.Relay.GatewayAddress.IsValid() {
		return n.Relay.GatewayAddress, true
	}
	return n.RelayAgentAddress()
}

func boolSetting(f *conf.File, sec, key string, dst *bool, bad func(conf.Entry, error)) {
	if e, ok := f.Lookup(sec, key); ok && e.Value != "" {
		b, err := conf.ParseBool(e.Value)
		if err != nil {
			bad(e, err)
			return
		}
		*dst = b
	}
}

// listEntries returns the assignments of a list setting after its last
// empty assignment.
func listEntries(f *conf.File, sec, key string) []conf.Entry {
	es := f.Entries(sec, key)
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Value == "" {
			return es[i+1:]
		}
	}
	return es
}

func words(f *conf.File, sec, key string) []string {
	var out []string
	for _, e := range listEntries(f, sec, key) {
		out = append(out, strings.Fields(e.Value)...)
	}
	return out
}

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
