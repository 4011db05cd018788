package netconf

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/stead-os/stead/lib/conf"
)

// Global is networkd.conf (systemd/networkd.conf and its drop-ins).
type Global struct {
	Relay GlobalRelay
	// RouteTables are the names of [Network] RouteTable=NAME:NUMBER, which
	// Table= and RouteTable= of .network files accept besides numbers.
	RouteTables map[string]uint32
}

// GlobalRelay is networkd.conf's [DHCPRelay] section.
type GlobalRelay struct {
	ServerAddress            netip.Addr // required for the relay to run
	OverrideServerIdentifier bool
	RemoteID                 []byte // nil: no remote id sub-option
}

// LoadGlobal reads networkd.conf under root.
func LoadGlobal(root string, warn func(error)) (*Global, error) {
	f, err := conf.LoadSearch(root, "systemd/networkd.conf", &conf.Options{Warn: warn})
	if err != nil {
		return nil, err
	}
	return GlobalFromFile(f, warn), nil
}

// GlobalFromFile interprets a parsed networkd.conf.
func GlobalFromFile(f *conf.File, warn func(error)) *Global {
	if warn == nil {
		warn = func(error) {}
	}
	g := &Global{}
	parseGlobalRelay(f, &g.Relay, warn)
	g.RouteTables = parseRouteTables(f, warn)
	return g
}

// parseRouteTables reads networkd.conf's [Network] RouteTable=: blank-separated
// NAME:NUMBER pairs that accumulate; an empty assignment resets them.
func parseRouteTables(f *conf.File, warn func(error)) map[string]uint32 {
	var m map[string]uint32
	for _, e := range f.Entries("Network", "RouteTable") {
		for _, w := range strings.Fields(e.Value) {
			name, num, err := routeTableEntry(w)
			if err != nil {
				warn(e.Wrap(err))
				continue
			}
			if m == nil {
				m = map[string]uint32{}
			}
			m[name] = num
		}
	}
	return m
}

// parseGlobalRelay reads networkd.conf's [DHCPRelay].
func parseGlobalRelay(f *conf.File, r *GlobalRelay, warn func(error)) {
	conf.Set(&r.ServerAddress, last(f, "DHCPRelay", "ServerAddress"), conf.Located(serverAddr), warn)
	conf.Set(&r.OverrideServerIdentifier, last(f, "DHCPRelay", "OverrideServerIdentifier"), conf.Bool, warn)
	conf.Set(&r.RemoteID, last(f, "DHCPRelay", "RemoteId"), conf.Located(ParseTypedData), warn)
}

// serverAddr reads the IPv4 address of the DHCP server requests are relayed to.
func serverAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || a.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("invalid IPv4 server address %q", s)
	}
	return a, nil
}
