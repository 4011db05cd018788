package netconf

import (
	"fmt"
	"net/netip"

	"github.com/stead-os/stead/lib/conf"
)

// Global is networkd.conf (systemd/networkd.conf and its drop-ins).
type Global struct {
	Relay GlobalRelay
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
	return g
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
