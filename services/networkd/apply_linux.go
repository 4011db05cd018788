package networkd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/services/networkd/netconf"
)

// routeTypes maps [Route] Type= to the kernel's RTN_* values.
var routeTypes = map[string]int{
	"unicast": unix.RTN_UNICAST, "local": unix.RTN_LOCAL, "broadcast": unix.RTN_BROADCAST,
	"anycast": unix.RTN_ANYCAST, "multicast": unix.RTN_MULTICAST, "blackhole": unix.RTN_BLACKHOLE,
	"unreachable": unix.RTN_UNREACHABLE, "prohibit": unix.RTN_PROHIBIT, "throw": unix.RTN_THROW,
	"nat": unix.RTN_NAT, "xresolve": unix.RTN_XRESOLVE,
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// linkKind is the kind of link index as netlink reports it (IFLA_INFO_KIND:
// "veth", "bridge", "vlan", …), which [Match] Kind= matches; "" for a plain
// device (a physical NIC, the loopback) or a link that cannot be read.
func linkKind(index int) string {
	l, err := netlink.LinkByIndex(index)
	if err != nil {
		return ""
	}
	if _, plain := l.(*netlink.Device); plain {
		return ""
	}
	return l.Type()
}

// Static lists what ApplyStatic put on a link, keyed by identity, so that a
// reload can take away what the files no longer ask for.
type Static struct {
	Addrs  map[string]*netlink.Addr
	Routes map[string]*netlink.Route
	Rules  map[string]*netlink.Rule
}

func newStatic() Static {
	return Static{Addrs: map[string]*netlink.Addr{}, Routes: map[string]*netlink.Route{}, Rules: map[string]*netlink.Rule{}}
}

// ApplyStatic brings link ifname up and applies the static part of n:
// Address= and [Address], Gateway= (default routes), [Route] and
// [RoutingPolicyRule]. Existing objects are replaced, so applying twice
// is harmless. All items are tried; the errors are joined. The result
// lists what is in place.
func ApplyStatic(ifname string, n *netconf.Network) (Static, error) {
	done := newStatic()
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return done, err
	}
	var errs []error
	if err := netlink.LinkSetUp(link); err != nil {
		errs = append(errs, fmt.Errorf("setting %s up: %w", ifname, err))
	}
	idx := link.Attrs().Index
	for _, p := range n.Addresses {
		a := &netlink.Addr{IPNet: ipnet(p)}
		if err := netlink.AddrReplace(link, a); err != nil {
			errs = append(errs, fmt.Errorf("address %s: %w", p, err))
			continue
		}
		done.Addrs[p.String()] = a
	}
	for _, gw := range n.Gateways {
		r := &netlink.Route{LinkIndex: idx, Gw: gw.AsSlice(), Protocol: unix.RTPROT_STATIC}
		if gw.Is6() {
			r.Family = unix.AF_INET6
		}
		if err := netlink.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("gateway %s: %w", gw, err))
			continue
		}
		done.Routes["gateway "+gw.String()] = r
	}
	for _, rt := range n.Routes {
		r := &netlink.Route{Protocol: unix.RTPROT_STATIC, Type: routeTypes[rt.Type], Table: int(rt.DefaultTable()),
			Scope: netlink.Scope(rt.DefaultScope())}
		if rt.Destination.IsValid() {
			r.Dst = ipnet(rt.Destination)
		}
		if rt.Gateway.IsValid() {
			r.Gw = rt.Gateway.AsSlice()
		}
		switch rt.Type {
		case "blackhole", "unreachable", "prohibit", "throw":
			// no device for these
		default:
			r.LinkIndex = idx
		}
		if (rt.Destination.IsValid() && rt.Destination.Addr().Is6()) || (rt.Gateway.IsValid() && rt.Gateway.Is6()) {
			r.Family = unix.AF_INET6
		}
		if err := netlink.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("route %s: %w", rt.Destination, err))
			continue
		}
		done.Routes[fmt.Sprintf("route %s via %s type %s table %d scope %d", rt.Destination, rt.Gateway, rt.Type, r.Table, r.Scope)] = r
	}
	for _, ru := range n.Rules {
		fams := []int{unix.AF_INET}
		switch ru.Family {
		case "ipv6":
			fams = []int{unix.AF_INET6}
		case "both":
			fams = []int{unix.AF_INET, unix.AF_INET6}
		}
		for _, fam := range fams {
			r := netlink.NewRule()
			r.Family = fam
			r.Protocol = unix.RTPROT_STATIC
			r.Invert = ru.Invert
			r.Table = int(ru.Table)
			if r.Table == 0 {
				r.Table = unix.RT_TABLE_MAIN
			}
			if ru.FirewallMark != 0 {
				r.Mark = ru.FirewallMark
				if ru.FirewallMask != 0 {
					m := ru.FirewallMask
					r.Mask = &m
				}
			}
			if ru.HasPriority {
				r.Priority = int(ru.Priority)
			} else if have := existingRule(r); have != nil {
				// Without Priority= the kernel picks a free priority on every add, so applying
				// again (a reload, a new link) would stack copies: keep the one there.
				done.Rules[ruleKey(fam, ru, r.Table)] = have
				continue
			}
			if err := netlink.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
				errs = append(errs, fmt.Errorf("routing policy rule (family %d, table %d): %w", fam, r.Table, err))
				continue
			}
			done.Rules[ruleKey(fam, ru, r.Table)] = r
		}
	}
	return done, errors.Join(errs...)
}

// RemoveStale deletes from link ifname what old has and cur lacks. A link
// that went away took its addresses and routes with it; rules stay until
// removed here.
func RemoveStale(ifname string, old, cur Static) error {
	var errs []error
	gone := func(err error) bool {
		return err == nil || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV)
	}
	for k, r := range old.Rules {
		if _, keep := cur.Rules[k]; !keep {
			if err := netlink.RuleDel(r); !gone(err) {
				errs = append(errs, fmt.Errorf("removing rule %s: %w", k, err))
			}
		}
	}
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return errors.Join(errs...)
	}
	for k, r := range old.Routes {
		if _, keep := cur.Routes[k]; !keep {
			if err := netlink.RouteDel(r); !gone(err) {
				errs = append(errs, fmt.Errorf("removing %s: %w", k, err))
			}
		}
	}
	for k, a := range old.Addrs {
		if _, keep := cur.Addrs[k]; !keep {
			if err := netlink.AddrDel(link, a); !gone(err) {
				errs = append(errs, fmt.Errorf("removing address %s: %w", k, err))
			}
		}
	}
	return errors.Join(errs...)
}

// ruleKey names a rule of the configuration in Static.Rules.
func ruleKey(fam int, ru netconf.Rule, table int) string {
	return fmt.Sprintf("family %d fwmark %#x/%#x table %d priority %d/%v invert %v", fam, ru.FirewallMark, ru.FirewallMask, table, ru.Priority, ru.HasPriority, ru.Invert)
}

// existingRule returns a rule of want's family that matches it in everything but the
// priority, or nil.
func existingRule(want *netlink.Rule) *netlink.Rule {
	rules, err := netlink.RuleList(want.Family)
	if err != nil {
		return nil
	}
	// A mark without a mask matches all 32 bits; the kernel lists it with mask 0xffffffff.
	maskOf := func(r *netlink.Rule) uint32 {
		switch {
		case r.Mask != nil:
			return *r.Mask
		case r.Mark != 0:
			return 0xffffffff
		}
		return 0
	}
	wantMask := maskOf(want)
	for i := range rules {
		r := &rules[i]
		mask := maskOf(r)
		if r.Table == want.Table && r.Mark == want.Mark && mask == wantMask && r.Invert == want.Invert &&
			r.Protocol == want.Protocol && r.Src == nil && r.Dst == nil && r.IifName == "" && r.OifName == "" {
			return r
		}
	}
	return nil
}
