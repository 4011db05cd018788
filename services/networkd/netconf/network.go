package netconf

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"sort"
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
	Table       uint32 // 0: main (local for the types local, broadcast, anycast, nat)
	Scope       uint8  // RT_SCOPE_*; when !HasScope, see DefaultScope
	HasScope    bool
}

// DefaultScope is the scope of the route: Scope= when given, else (IPv4)
// host for local and nat routes, link for broadcast, anycast, multicast and
// for unicast routes without a gateway, global otherwise.
func (r *Route) DefaultScope() uint8 {
	if r.HasScope {
		return r.Scope
	}
	if r.Destination.IsValid() && r.Destination.Addr().Is6() || r.Gateway.Is6() {
		return 0
	}
	switch r.Type {
	case "local", "nat":
		return 254
	case "broadcast", "anycast", "multicast":
		return 253
	case "unicast":
		if !r.Gateway.IsValid() {
			return 253
		}
	}
	return 0
}

// DefaultTable is the table of the route: Table= when given, else local
// for the types local, broadcast, anycast and nat, main otherwise.
func (r *Route) DefaultTable() uint32 {
	if r.Table != 0 {
		return r.Table
	}
	switch r.Type {
	case "local", "broadcast", "anycast", "nat":
		return 255
	}
	return 254
}

// Rule is one [RoutingPolicyRule] section.
type Rule struct {
	FirewallMark uint32
	FirewallMask uint32 // 0: match the whole mark
	Table        uint32
	Priority     uint32
	HasPriority  bool
	Family       string // ipv4 (default), ipv6, both
	Invert       bool   // "not": the rule applies to what does not match
}

// DHCPv4 is the [DHCPv4] section (client side).
type DHCPv4 struct {
	UseHostname bool
	UseMTU      bool
	UseDNS      bool
	RouteTable  uint32
	SendRelease bool // DHCPRELEASE when the client stops (default yes)
	UseTimezone bool // read; the time zone is never set (reported when yes)
}

// Online is what the [Link] section says about the link's part in the
// system's online state (RequiredForOnline=, RequiredFamilyForOnline=).
type Online struct {
	Required bool
	MinOper  string // lowest operational state deemed online (default degraded)
	MaxOper  string // highest (default routable)
	Family   string // any (default), ipv4, ipv6, both
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
	Kind string // netlink's kind: "veth", "bridge", … ("" for plain devices)
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

// globList matches s against a list of globs, as upstream does: a word
// with "!" in front excludes what it matches, the others include. A value
// one "!" word matches fails the list; otherwise it passes when it matches
// an including word or when there are none. An empty s (a link without a
// kind) matches no word, so "!*" selects exactly the links without one.
func globList(pats []string, s string) bool {
	hit, positive := false, false
	for _, p := range pats {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		} else {
			positive = true
		}
		if s == "" {
			continue
		}
		if ok, err := path.Match(p, s); err == nil && ok {
			if neg {
				return false
			}
			hit = true
		}
	}
	return hit || !positive
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
	return LoadTables(root, nil, warn)
}

// LoadTables is Load with the route table names of networkd.conf's
// RouteTable= (Global.RouteTables), which Table= and RouteTable= accept.
func LoadTables(root string, tables map[string]uint32, warn func(error)) ([]*Network, error) {
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
		n := FromFileTables(f, tables, warn)
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
