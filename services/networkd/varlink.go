package networkd

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/varlink/go/varlink"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/lib/atomicfile"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/stead-os/stead/services/networkd/dhcpclient"
	"github.com/stead-os/stead/services/networkd/netconf"
)

// SocketPath is where networkd serves io.systemd.Network (under --root).
const SocketPath = "/run/systemd/netif/io.systemd.Network"

// service answers io.systemd.Network and io.systemd.Network.Link from the daemon's current
// configuration, the kernel's view of the links (rtnetlink) and the saved DHCPv4 leases.
type service struct {
	root  string
	links *linkManager
	// reload asks the daemon's main loop to reload; reconfigure false only re-reads files.
	reload    func(ctx context.Context, reconfigure bool) error
	reloading atomic.Bool

	mu  sync.Mutex
	cfg *Config
}

func (s *service) setConfig(c *Config) {
	s.mu.Lock()
	s.cfg = c
	s.mu.Unlock()
}

func (s *service) networks() []*netconf.Network {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		return nil
	}
	return s.cfg.Networks
}

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

// errNoLink is answered as io.systemd.System ENODEV, as upstream does for an unknown link.
var errNoLink = unix.ENODEV

func (s *service) findLink(sel api.Selector) (netlink.Link, error) {
	var byIdx, byName netlink.Link
	var err error
	if sel.InterfaceIndex != nil {
		if byIdx, err = netlink.LinkByIndex(int(*sel.InterfaceIndex)); err != nil {
			return nil, errNoLink
		}
	}
	if sel.InterfaceName != nil {
		if byName, err = netlink.LinkByName(*sel.InterfaceName); err != nil {
			return nil, errNoLink
		}
	}
	switch {
	case byIdx != nil && byName != nil && byIdx.Attrs().Index != byName.Attrs().Index:
		return nil, unix.EINVAL
	case byIdx != nil:
		return byIdx, nil
	case byName != nil:
		return byName, nil
	}
	return nil, nil
}

func (s *service) Describe(ctx context.Context, c *varlink.Call) error {
	it, err := s.describeAll()
	if err != nil {
		return varlinkd.ReplyErrno(ctx, *c, err)
	}
	return c.Reply(ctx, api.DescribeReply{Interfaces: it})
}

func (s *service) GetStates(ctx context.Context, c *varlink.Call) error {
	it, err := s.describeAll()
	if err != nil {
		return varlinkd.ReplyErrno(ctx, *c, err)
	}
	return c.Reply(ctx, managerStates(it))
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

func (s *service) GetNamespaceId(ctx context.Context, c *varlink.Call) error {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		return varlinkd.ReplyErrno(ctx, *c, err)
	}
	return c.Reply(ctx, api.NamespaceID{NamespaceId: st.Ino})
}

func (s *service) GetLLDPNeighbors(ctx context.Context, c *varlink.Call, sel api.Selector) error {
	var links []netlink.Link
	l, err := s.findLink(sel)
	switch {
	case err != nil:
		return varlinkd.ReplyErrno(ctx, *c, err)
	case l != nil:
		links = []netlink.Link{l}
	default:
		if links, err = netlink.LinkList(); err != nil {
			return varlinkd.ReplyErrno(ctx, *c, err)
		}
	}
	// stead does not receive LLDP: every link has an empty neighbour list.
	out := []api.LLDPNeighborsByInterface{}
	for _, l := range links {
		out = append(out, api.LLDPNeighborsByInterface{InterfaceIndex: l.Attrs().Index, InterfaceName: l.Attrs().Name, Neighbors: []any{}})
	}
	return c.Reply(ctx, struct {
		Neighbors []api.LLDPNeighborsByInterface `json:"Neighbors"`
	}{out})
}

func (s *service) Reload(ctx context.Context, c *varlink.Call, reconfigure *bool) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, *c); !ok {
		return err
	}
	if !s.reloading.CompareAndSwap(false, true) {
		return varlinkd.ReplyError(ctx, *c, api.ErrorAlreadyReloading, nil)
	}
	defer s.reloading.Store(false)
	if err := s.reload(ctx, reconfigure == nil || *reconfigure); err != nil {
		return varlinkd.ReplyErrno(ctx, *c, err)
	}
	return c.Reply(ctx, struct{}{})
}

func (s *service) SetPersistentStorage(ctx context.Context, c *varlink.Call, _ bool) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, *c); !ok {
		return err
	}
	// networkd keeps nothing under /var/lib/systemd/network yet: nothing to do.
	return c.Reply(ctx, struct{}{})
}

func (s *service) LinkDescribe(ctx context.Context, c *varlink.Call, sel api.Selector) error {
	l, err := s.findLink(sel)
	if err != nil {
		return varlinkd.ReplyErrno(ctx, *c, err)
	}
	if l == nil {
		return varlinkd.ReplyInvalidParameter(ctx, *c, "InterfaceIndex")
	}
	return c.Reply(ctx, struct {
		Interface api.Interface `json:"Interface"`
	}{s.describeLink(l, s.networks())})
}

func (s *service) LinkAction(ctx context.Context, c *varlink.Call, method string, sel api.Selector) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, *c); !ok {
		return err
	}
	l, err := s.findLink(sel)
	if err != nil {
		return varlinkd.ReplyErrno(ctx, *c, err)
	}
	if l == nil {
		return varlinkd.ReplyInvalidParameter(ctx, *c, "InterfaceIndex")
	}
	a := l.Attrs()
	li := LinkInfo(s.root, net.Interface{Index: a.Index, Name: a.Name, HardwareAddr: a.HardwareAddr, Flags: a.Flags})
	if netconf.Find(s.networks(), li) == nil {
		return varlinkd.ReplyError(ctx, *c, api.ErrorInterfaceUnmanaged, nil)
	}
	switch method {
	case "Up":
		err = netlink.LinkSetUp(l)
	case "Down":
		err = netlink.LinkSetDown(l)
	case "Renew":
		// Ask the link's DHCPv4 client to renew now; without one there is nothing to do.
		s.links.renew(a.Name)
	case "ForceRenew":
		// FORCERENEW goes from a DHCP server to its clients; stead runs no server.
	case "Reconfigure":
		// The whole configuration is applied again: the link's static settings, its
		// client (restarted only if its settings changed) and the relay.
		if !s.reloading.CompareAndSwap(false, true) {
			return varlinkd.ReplyError(ctx, *c, api.ErrorAlreadyReloading, nil)
		}
		err = s.reload(ctx, true)
		s.reloading.Store(false)
	default:
		return c.ReplyMethodNotImplemented(ctx, api.LinkName+"."+method)
	}
	if err != nil {
		return varlinkd.ReplyErrno(ctx, *c, err)
	}
	return c.Reply(ctx, struct{}{})
}

// serveVarlink runs the io.systemd.Network server until ctx is done.
func serveVarlink(ctx context.Context, o Options, s *service, ready func()) error {
	srv, err := varlinkd.New(varlinkd.Info{Vendor: "stead", Product: "networkd", Version: o.Version,
		URL: "https://github.com/stead-os/stead"}, varlinkd.Hooks{Reload: func(ctx context.Context) error {
		if !s.reloading.CompareAndSwap(false, true) {
			return errors.New("already reloading")
		}
		defer s.reloading.Store(false)
		return s.reload(ctx, true)
	}})
	if err != nil {
		return err
	}
	d, ld := api.VarlinkNew(s)
	if err := srv.Register(d); err != nil {
		return err
	}
	if err := srv.Register(ld); err != nil {
		return err
	}
	return srv.Run(ctx, varlinkd.Options{Root: o.Root, Socket: SocketPath, Ready: ready})
}

// writeStateFiles publishes the link states the way upstream's sd-network readers
// (networkctl list, networkd-wait-online) expect them: /run/systemd/netif/links/IFINDEX and
// /run/systemd/netif/state, KEY=VALUE lines, replaced atomically. Files of links that went
// away are removed.
func (s *service) writeStateFiles() error {
	it, err := s.describeAll()
	if err != nil {
		return err
	}
	dir := filepath.Join(s.root, "run/systemd/netif/links")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	keep := map[string]bool{}
	dns := map[string]bool{}
	var allDNS []string
	for _, i := range it {
		name := strconv.Itoa(i.Index)
		keep[name] = true
		var b strings.Builder
		fmt.Fprintf(&b, "# This is private data. Do not parse.\nADMIN_STATE=%s\nOPER_STATE=%s\nCARRIER_STATE=%s\nADDRESS_STATE=%s\nIPV4_ADDRESS_STATE=%s\nIPV6_ADDRESS_STATE=%s\n",
			i.AdministrativeState, i.OperationalState, i.CarrierState, i.AddressState, i.IPv4AddressState, i.IPv6AddressState)
		if i.NetworkFile != "" {
			if i.OnlineState != "" {
				fmt.Fprintf(&b, "ONLINE_STATE=%s\n", i.OnlineState)
			}
			fmt.Fprintf(&b, "REQUIRED_FOR_ONLINE=%s\n", yesNo(i.RequiredForOnline != nil && *i.RequiredForOnline))
			fmt.Fprintf(&b, "REQUIRED_OPER_STATE_FOR_ONLINE=%s\n", strings.Join(i.RequiredOperStateForOnline, ":"))
			fmt.Fprintf(&b, "REQUIRED_FAMILY_FOR_ONLINE=%s\nACTIVATION_POLICY=%s\n", i.RequiredFamilyForOnline, i.ActivationPolicy)
			fmt.Fprintf(&b, "NETWORK_FILE=%s\nNETWORK_FILE_DROPINS=\"\"\n", i.NetworkFile)
			fmt.Fprintf(&b, "DNS=%s\n", dnsList(i.DNS))
			for _, d := range i.DNS {
				if !dns[d.AddressString] {
					dns[d.AddressString] = true
					allDNS = append(allDNS, d.AddressString)
				}
			}
		}
		if err := writeIfChanged(filepath.Join(dir, name), b.String()); err != nil {
			return err
		}
	}
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if !keep[e.Name()] && !strings.HasPrefix(e.Name(), ".") {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	st := managerStates(it)
	state := fmt.Sprintf("# This is private data. Do not parse.\nOPER_STATE=%s\nCARRIER_STATE=%s\nADDRESS_STATE=%s\nIPV4_ADDRESS_STATE=%s\nIPV6_ADDRESS_STATE=%s\n",
		st.OperationalState, st.CarrierState, st.AddressState, st.IPv4AddressState, st.IPv6AddressState)
	if st.OnlineState != "" {
		state += "ONLINE_STATE=" + st.OnlineState + "\n"
	}
	if len(allDNS) > 0 {
		state += "DNS=" + strings.Join(allDNS, " ") + "\n"
	}
	return writeIfChanged(filepath.Join(s.root, "run/systemd/netif/state"), state)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func writeIfChanged(path, content string) error {
	if b, err := os.ReadFile(path); err == nil && string(b) == content {
		return nil
	}
	return atomicfile.Write(path, []byte(content), 0o644)
}

// publishStates keeps the state files current until ctx is done.
func (s *service) publishStates(ctx context.Context, log interface{ Warn(string, ...any) }) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := s.writeStateFiles(); err != nil {
			log.Warn("writing link state files", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
