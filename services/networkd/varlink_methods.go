package networkd

import (
	"context"
	"net"

	"github.com/varlink/go/varlink"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/stead-os/stead/services/networkd/netconf"
)

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
