package networkd

import (
	"net/netip"
	"strings"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/services/networkd/dhcpclient"
	"github.com/stead-os/stead/services/networkd/netconf"
)

// Online states, as upstream names them.
const (
	Offline = "offline"
	Partial = "partial"
	Online  = "online"
)

// linkOnline is a managed link's online state: online when its operational
// state lies in the RequiredForOnline= range and it has the addresses
// RequiredFamilyForOnline= asks for, else offline. Links not required for
// online, and unmanaged ones, have none ("").
func linkOnline(it *api.Interface, nw *netconf.Network) string {
	if nw == nil || !nw.Online.Required {
		return ""
	}
	if !api.LinkOnline(it.OperationalState, it.IPv4AddressState, it.IPv6AddressState,
		api.OperRange{Min: nw.Online.MinOper, Max: nw.Online.MaxOper}, nw.Online.Family) {
		return Offline
	}
	return Online
}

// managerOnline folds the links' online states the way upstream does: online
// when every required link is, partial when some are, offline when none is,
// "" when no link is required.
func managerOnline(ifs []api.Interface) string {
	var on, off int
	for _, i := range ifs {
		if i.Type == "loopback" {
			continue
		}
		switch i.OnlineState {
		case Online:
			on++
		case Offline:
			off++
		}
	}
	switch {
	case on > 0 && off > 0:
		return Partial
	case on > 0:
		return Online
	case off > 0:
		return Offline
	}
	return ""
}

// linkDNS lists the link's DNS servers: DNS= of its .network file, then
// those of its DHCPv4 lease when [DHCPv4] UseDNS= is on.
func linkDNS(nw *netconf.Network, lease *dhcpclient.Lease) []api.DNS {
	if nw == nil {
		return nil
	}
	var out []api.DNS
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr, source string, provider netip.Addr) {
		if seen[a] {
			return
		}
		seen[a] = true
		fam := 2 // AF_INET
		if a.Is6() && !a.Is4In6() {
			fam = 10 // AF_INET6
		}
		d := api.DNS{Family: fam, Address: ints(a.AsSlice()), AddressString: a.String(), ConfigSource: source}
		if provider.IsValid() {
			d.ConfigProvider, d.ConfigProviderString = ints(provider.AsSlice()), provider.String()
		}
		out = append(out, d)
	}
	for _, a := range nw.DNS {
		add(a, "static", netip.Addr{})
	}
	if lease != nil && nw.DHCPv4.UseDNS {
		sid, _ := lease.ServerID()
		for _, a := range lease.DNS() {
			add(a, "DHCPv4", sid)
		}
	}
	return out
}

func dnsList(d []api.DNS) string {
	s := make([]string, len(d))
	for i, x := range d {
		s[i] = x.AddressString
	}
	return strings.Join(s, " ")
}
