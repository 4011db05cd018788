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
	if e, ok := f.Lookup("DHCPRelay", "ServerAddress"); ok && e.Value != "" {
		a, err := netip.ParseAddr(e.Value)
		if err != nil || !a.Is4() || a.IsUnspecified() {
			warn(e.Wrap(fmt.Errorf("invalid IPv4 server address %q", e.Value)))
		} else {
			g.Relay.ServerAddress = a
		}
	}
	if e, ok := f.Lookup("DHCPRelay", "OverrideServerIdentifier"); ok && e.Value != "" {
		b, err := conf.ParseBool(e.Value)
		if err != nil {
			warn(e.Wrap(err))
		} else {
			g.Relay.OverrideServerIdentifier = b
		}
	}
	if e, ok := f.Lookup("DHCPRelay", "RemoteId"); ok && e.Value != "" {
		b, err := ParseTypedData(e.Value)
		if err != nil {
			warn(e.Wrap(err))
		} else {
			g.Relay.RemoteID = b
		}
	}
	return g
}
