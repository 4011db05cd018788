package networkd

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/services/networkd/dhcpclient"
	"github.com/stead-os/stead/services/networkd/netconf"
)

// ifFlagNames are the IFF_* bits in bit order, named as upstream prints them.
var ifFlagNames = []string{"up", "broadcast", "debug", "loopback", "point-to-point", "notrailers",
	"running", "noarp", "promisc", "allmulti", "master", "slave", "multicast", "portsel",
	"auto-media", "dynamic", "lower-up", "dormant", "echo"}

func flagsString(f uint32) string {
	var s []string
	for i, n := range ifFlagNames {
		if f&(1<<i) != 0 {
			s = append(s, n)
		}
	}
	return strings.Join(s, ",")
}

var operNames = []string{"unknown", "not-present", "down", "lower-layer-down", "testing", "dormant", "up"}

func ints(b []byte) []int {
	r := make([]int, len(b))
	for i, x := range b {
		r[i] = int(x)
	}
	return r
}

func scopeString(s int) string {
	switch s {
	case unix.RT_SCOPE_UNIVERSE:
		return "global"
	case unix.RT_SCOPE_SITE:
		return "site"
	case unix.RT_SCOPE_LINK:
		return "link"
	case unix.RT_SCOPE_HOST:
		return "host"
	case unix.RT_SCOPE_NOWHERE:
		return "nowhere"
	}
	return fmt.Sprint(s)
}

// address states ordered as upstream ranks them.
var addrRank = map[string]int{"off": 0, "degraded": 1, "routable": 2}

func maxState(rank map[string]int, a, b string) string {
	if rank[b] > rank[a] {
		return b
	}
	return a
}

var operRank = map[string]int{"off": 0, "no-carrier": 1, "dormant": 2, "degraded-carrier": 3, "carrier": 4, "degraded": 5, "enslaved": 6, "routable": 7}
var carrierRank = map[string]int{"off": 0, "no-carrier": 1, "dormant": 2, "degraded-carrier": 3, "carrier": 4, "enslaved": 5}

// boottimeOffset is realtime minus CLOCK_BOOTTIME: upstream's lease timestamps are boottime.
func boottimeOffset() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(time.Now().UnixNano() - ts.Nano())
}

func u64(d time.Duration) *uint64 {
	v := uint64(d.Microseconds())
	return &v
}

func hex4(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return hex.EncodeToString(v4)
	}
	return "00000000"
}

// leaseJSON turns a saved lease into DHCPv4Client.Lease.
func leaseJSON(l *dhcpclient.Lease) *api.DHCPv4Lease {
	m := l.ACK
	msg := &api.DHCPMessage{
		Op: int(m.OpCode), HType: int(m.HWType), Hops: int(m.HopCount),
		XID: binary.BigEndian.Uint32(m.TransactionID[:]), Secs: int(m.NumSeconds), Flags: int(m.Flags),
		CIAddr: hex4(m.ClientIPAddr), YIAddr: hex4(m.YourIPAddr), SIAddr: hex4(m.ServerIPAddr),
		GIAddr: hex4(m.GatewayIPAddr), CHAddr: hex.EncodeToString(m.ClientHWAddr),
	}
	if m.ServerHostName != "" {
		msg.SName = hex.EncodeToString([]byte(m.ServerHostName))
	}
	if m.BootFileName != "" {
		msg.File = hex.EncodeToString([]byte(m.BootFileName))
	}
	codes := make([]int, 0, len(m.Options))
	for c := range m.Options {
		codes = append(codes, int(c))
	}
	sort.Ints(codes)
	for _, c := range codes {
		if c == 0 || c == 255 {
			continue
		}
		msg.Options = append(msg.Options, api.DHCPOption{Tag: c, Data: hex.EncodeToString(m.Options[uint8(c)])})
	}
	boot := l.Acquired.Add(-boottimeOffset())
	ts := uint64(boot.UnixMicro())
	r := &api.DHCPv4Lease{LeaseTimestampUSec: &ts, Hostname: m.HostName(), Message: msg}
	if l.Lifetime() > 0 { // an infinite lease has no finite times to report
		r.Timeout1USec, r.Timeout2USec, r.LifetimeUSec = u64(l.T1()), u64(l.T2()), u64(l.Lifetime())
	}
	return r
}

// describeLink builds the Interface record of one link.
func (s *service) describeLink(link netlink.Link, nets []*netconf.Network) api.Interface {
	a := link.Attrs()
	ifi := net.Interface{Index: a.Index, MTU: a.MTU, Name: a.Name, HardwareAddr: a.HardwareAddr, Flags: a.Flags}
	li := LinkInfo(s.root, ifi)
	it := api.Interface{
		Index: a.Index, Name: a.Name, Kind: link.Type(), Type: li.Type,
		Flags: int(a.RawFlags), FlagsString: flagsString(a.RawFlags),
		KernelOperationalState: int(a.OperState), MTU: a.MTU,
		AdministrativeState: "unmanaged", IPv4AddressState: "off", IPv6AddressState: "off",
	}
	if it.Type == "" {
		it.Type = "none"
	}
	if it.Kind == "device" {
		it.Kind = ""
	}
	if int(a.OperState) < len(operNames) {
		it.KernelOperationalStateString = operNames[a.OperState]
	}
	if len(a.HardwareAddr) > 0 {
		it.HardwareAddress = ints(a.HardwareAddr)
	}
	var nw *netconf.Network
	if nw = netconf.Find(nets, li); nw != nil {
		it.AdministrativeState = "configured"
		it.NetworkFile = nw.Path
		req := nw.Online.Required
		it.RequiredForOnline = &req
		it.RequiredOperStateForOnline = []string{nw.Online.MinOper, nw.Online.MaxOper}
		it.RequiredFamilyForOnline = nw.Online.Family
		it.ActivationPolicy = "up"
	}
	var lease *dhcpclient.Lease
	if l, err := dhcpclient.LoadLease(s.root, a.Index); err == nil && l != nil && !l.Expired(time.Now()) {
		lease = l
		it.DHCPv4Client = &api.DHCPv4Client{Lease: leaseJSON(l)}
	}
	static := map[netip.Addr]bool{}
	if nw != nil {
		for _, p := range nw.Addresses {
			static[p.Addr()] = true
		}
	}
	addrs, _ := netlink.AddrList(link, netlink.FAMILY_ALL)
	for _, ad := range addrs {
		ip, ok := netip.AddrFromSlice(ad.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		ones, _ := ad.Mask.Size()
		fam := unix.AF_INET
		if ip.Is6() {
			fam = unix.AF_INET6
		}
		scope, flags := ad.Scope, ad.Flags
		fs := ""
		if flags&unix.IFA_F_PERMANENT != 0 {
			fs = "permanent"
		}
		e := api.Address{Family: fam, Address: ints(ip.AsSlice()), AddressString: ip.String(), PrefixLength: ones,
			ConfigSource: "foreign", Scope: &scope, ScopeString: scopeString(scope), Flags: &flags, FlagsString: &fs,
			Label: ad.Label, ConfigState: "configured"}
		if ad.Broadcast != nil && ip.Is4() {
			e.Broadcast, e.BroadcastString = ints(ad.Broadcast.To4()), ad.Broadcast.String()
		}
		switch {
		case static[ip]:
			e.ConfigSource = "static"
		case lease != nil && lease.Address().Addr() == ip:
			e.ConfigSource = "DHCPv4"
			if sid := lease.ACK.ServerIdentifier(); sid != nil {
				e.ConfigProvider, e.ConfigProviderString = ints(sid.To4()), sid.String()
			}
		}
		it.Addresses = append(it.Addresses, e)
		st := "off"
		switch scope {
		case unix.RT_SCOPE_UNIVERSE, unix.RT_SCOPE_SITE:
			st = "routable"
		case unix.RT_SCOPE_LINK:
			st = "degraded"
		}
		if fam == unix.AF_INET {
			it.IPv4AddressState = maxState(addrRank, it.IPv4AddressState, st)
		} else {
			it.IPv6AddressState = maxState(addrRank, it.IPv6AddressState, st)
		}
	}
	it.AddressState = maxState(addrRank, it.IPv4AddressState, it.IPv6AddressState)
	switch {
	case a.RawFlags&unix.IFF_UP == 0:
		it.CarrierState = "off"
	case a.RawFlags&unix.IFF_LOWER_UP == 0:
		it.CarrierState = "no-carrier"
	default:
		it.CarrierState = "carrier"
	}
	it.OperationalState = it.CarrierState
	if it.CarrierState == "carrier" {
		switch it.AddressState {
		case "routable":
			it.OperationalState = "routable"
		case "degraded":
			it.OperationalState = "degraded"
		}
	}
	it.OnlineState = linkOnline(&it, nw)
	it.DNS = linkDNS(nw, lease)
	routes, _ := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{LinkIndex: a.Index, Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	for _, r := range routes {
		it.Routes = append(it.Routes, routeJSON(r))
	}
	return it
}

func routeJSON(r netlink.Route) api.Route {
	fam := r.Family
	dst, bits := []byte(nil), 0
	if r.Dst != nil {
		dst = r.Dst.IP
		bits, _ = r.Dst.Mask.Size()
	} else if fam == unix.AF_INET6 {
		dst = net.IPv6zero
	} else {
		dst = net.IPv4zero.To4()
	}
	if v4 := net.IP(dst).To4(); v4 != nil && fam != unix.AF_INET6 {
		dst = v4
	}
	cs := "foreign"
	switch r.Protocol {
	case unix.RTPROT_STATIC:
		cs = "static"
	case unix.RTPROT_DHCP:
		cs = "DHCPv4"
	}
	idx := r.LinkIndex
	e := api.Route{Family: fam, Destination: ints(dst), DestinationString: net.IP(dst).String(), DestinationPrefixLength: bits,
		TOS: r.Tos, Scope: int(r.Scope), ScopeString: scopeString(int(r.Scope)), Protocol: int(r.Protocol),
		Type: r.Type, Priority: r.Priority, Table: r.Table, Flags: r.Flags, ConfigSource: cs, ConfigState: "configured",
		InterfaceIndex: &idx}
	if r.Gw != nil {
		gw := r.Gw
		if v4 := gw.To4(); v4 != nil {
			gw = v4
		}
		e.Gateway, e.GatewayString = ints(gw), r.Gw.String()
	}
	if r.Src != nil {
		src := r.Src
		if v4 := src.To4(); v4 != nil {
			src = v4
		}
		e.PreferredSource, e.PreferredSourceString = ints(src), r.Src.String()
	}
	return e
}

func (s *service) describeAll() ([]api.Interface, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	nets := s.networks()
	out := make([]api.Interface, 0, len(links))
	for _, l := range links {
		out = append(out, s.describeLink(l, nets))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}

// managerStates is the whole machine's state: each kind the highest any non-loopback link
// has, and the online state of the links that count for it.
func managerStates(it []api.Interface) api.States {
	st := api.States{AddressState: "off", IPv4AddressState: "off", IPv6AddressState: "off", CarrierState: "off", OperationalState: "off"}
	for _, i := range it {
		if i.Type == "loopback" {
			continue
		}
		st.AddressState = maxState(addrRank, st.AddressState, i.AddressState)
		st.IPv4AddressState = maxState(addrRank, st.IPv4AddressState, i.IPv4AddressState)
		st.IPv6AddressState = maxState(addrRank, st.IPv6AddressState, i.IPv6AddressState)
		st.CarrierState = maxState(carrierRank, st.CarrierState, i.CarrierState)
		st.OperationalState = maxState(operRank, st.OperationalState, i.OperationalState)
	}
	st.OnlineState = managerOnline(it)
	return st
}
