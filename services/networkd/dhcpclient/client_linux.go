package dhcpclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Client runs DHCPv4 on one link.
type Client struct {
	Root       string
	Ifname     string
	RouteTable uint32 // 0: main
	// UseMTU sets the link's MTU from option 26; the old MTU comes back
	// when the lease goes.
	UseMTU bool
	// SendRelease sends DHCPRELEASE when the client gives the lease up on
	// stopping (upstream's [DHCPv4] SendRelease=, default yes).
	SendRelease bool
	// KeepOnStop keeps address and lease when networkd stops (upstream's
	// KeepConfiguration=dynamic-on-stop); see ErrShutdown.
	KeepOnStop bool
	// Renew asks for a renewal now (networkctl renew).
	Renew <-chan struct{}
	// OnLease, when set, is called with each lease applied, and with nil when
	// the lease is gone.
	OnLease func(*Lease)
	Log     *slog.Logger
	// Retry is the pause after an exchange that failed as a whole — a NAK, a
	// REQUEST never answered, a socket error — before the next (default 2s).
	// Unanswered messages are retransmitted on upstream's schedule (exchange.go).
	Retry time.Duration

	origMTU int // the MTU before UseMTU changed it; 0: unchanged
	// wait and reacquireWait replace the retransmission schedules (tests only).
	wait, reacquireWait func(attempt int) time.Duration
}

// Run acquires, applies and keeps a lease until ctx ends; then it leaves the
// link as context.Cause(ctx) asks (see ErrShutdown). A saved, unexpired
// lease is applied at once and then renewed.
func (c *Client) Run(ctx context.Context) error {
	if c.Retry == 0 {
		c.Retry = 2 * time.Second
	}
	link, err := netlink.LinkByName(c.Ifname)
	if err != nil {
		return err
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return err
		}
	}
	idx := link.Attrs().Index
	lease, err := LoadLease(c.Root, idx)
	if err != nil {
		c.Log.Warn("ignoring saved lease", "link", c.Ifname, "err", err)
	}
	if lease != nil && !lease.Expired(time.Now()) {
		c.Log.Info("using saved lease", "link", c.Ifname, "address", lease.Address())
		c.bind(link, lease, false)
	} else {
		lease = nil
	}
	defer func() {
		switch {
		case lease == nil:
		case c.onStop(context.Cause(ctx)) == releaseLease:
			if c.SendRelease {
				c.release(lease)
			}
			c.drop(link, lease)
		case errors.Is(context.Cause(ctx), ErrHandOver):
			// The successor may route through another table: leave it the address only.
			if r := c.defaultRoute(link, lease); r != nil {
				netlink.RouteDel(r)
			}
		}
	}()
	for ctx.Err() == nil {
		if lease == nil {
			l, err := c.acquire(ctx)
			if err != nil {
				if ctx.Err() == nil {
					c.Log.Warn("DHCPv4 exchange failed", "link", c.Ifname, "err", err)
					sleep(ctx, c.Retry)
				}
				continue
			}
			lease = l
			c.bind(link, lease, true)
			c.Log.Info("DHCPv4 lease acquired", "link", c.Ifname, "address", lease.Address(), "lifetime", lease.Lifetime(), "t1", lease.T1(), "t2", lease.T2())
		}
		lease = c.keep(ctx, link, lease)
	}
	return nil
}

// keep renews l from T1 on (RENEWING: unicast to the server that granted
// it) and rebinds from T2 on (REBINDING: broadcast, to any server), each
// phase retransmitting on its own schedule (reacquire). It returns the
// current lease when ctx ends, nil once the lease expired or a server
// refused it (the address is then dropped).
func (c *Client) keep(ctx context.Context, link netlink.Link, l *Lease) *Lease {
	next := l.Acquired.Add(l.T1())
	for {
		if l.Lifetime() == 0 { // infinite: only an explicit request renews
			next = time.Now().Add(100 * 365 * 24 * time.Hour)
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return l
		case <-c.Renew:
			c.Log.Info("DHCPv4 renewal requested", "link", c.Ifname)
		case <-t.C:
		}
		t.Stop()
		now := time.Now()
		t2, end := l.Acquired.Add(l.T2()), l.Acquired.Add(l.Lifetime())
		if l.Lifetime() > 0 && !now.Before(end) {
			c.Log.Warn("DHCPv4 lease expired", "link", c.Ifname, "address", l.Address())
			c.drop(link, l)
			return nil
		}
		rebind := !now.Before(t2)
		// An exchange may not run past the next phase: renewing stops at T2, rebinding at the end.
		var nl *Lease
		var err error
		if rebind {
			xctx, cancel := withDeadline(ctx, end, l.Lifetime() > 0)
			nl, err = c.rebind(xctx, l)
			cancel()
		} else {
			xctx, cancel := withDeadline(ctx, t2, true)
			nl, err = c.renew(xctx, l)
			cancel()
		}
		if ctx.Err() != nil {
			return l
		}
		var nak *nclient4.ErrNak
		switch {
		case err == nil:
			l = nl
			c.bind(link, l, true)
			if rebind {
				c.Log.Info("DHCPv4 lease rebound", "link", c.Ifname, "address", l.Address(), "server", l.ACK.ServerIdentifier())
			} else {
				c.Log.Info("DHCPv4 lease renewed", "link", c.Ifname, "address", l.Address())
			}
			next = l.Acquired.Add(l.T1())
			continue
		case errors.As(err, &nak):
			c.Log.Warn("DHCPv4 server refused the lease", "link", c.Ifname, "address", l.Address())
			c.drop(link, l)
			return nil
		case rebind:
			c.Log.Warn("DHCPv4 rebinding failed", "link", c.Ifname, "err", err)
		default:
			c.Log.Warn("DHCPv4 renewal failed", "link", c.Ifname, "err", err)
		}
		// Try again after Retry, but start rebinding at T2 (at once when a renewal ran into
		// it) and give up at the end.
		next = time.Now().Add(c.Retry)
		if !rebind && next.After(t2) {
			next = t2
		}
		if l.Lifetime() > 0 && next.After(end) {
			next = end
		}
	}
}

// bind applies l to the link and, when fresh, saves it.
func (c *Client) bind(link netlink.Link, l *Lease, fresh bool) {
	if err := c.apply(link, l); err != nil {
		c.Log.Error("applying lease failed", "link", c.Ifname, "err", err)
	}
	if fresh {
		if err := Save(c.Root, link.Attrs().Index, l); err != nil {
			c.Log.Warn("saving lease failed", "link", c.Ifname, "err", err)
		}
	}
	if c.OnLease != nil {
		c.OnLease(l)
	}
}

// requested adds the options networkd acts on to the parameter request list
// (option 55): servers such as dnsmasq send the MTU only when asked.
func (c *Client) requested() dhcpv4.Modifier {
	codes := []dhcpv4.OptionCode{dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
		dhcpv4.OptionHostName, dhcpv4.OptionDomainName, dhcpv4.OptionBroadcastAddress,
		dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue}
	if c.UseMTU {
		codes = append(codes, dhcpv4.OptionInterfaceMTU)
	}
	return dhcpv4.WithRequestedOptions(codes...)
}

func (c *Client) acquire(ctx context.Context) (*Lease, error) {
	cl, err := nclient4.New(c.Ifname, nclient4.WithTimeout(noTimeout), nclient4.WithRetry(1))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return c.exchange(ctx, cl)
}

// unicast opens a UDP client bound to the leased address that talks to the
// server that granted the lease (renewals and releases, RFC 2131 §4.4.5).
func (c *Client) unicast(l *Lease) (*nclient4.Client, error) {
	sid, ok := l.ServerID()
	if !ok {
		return nil, errors.New("the lease names no server")
	}
	return nclient4.New(c.Ifname,
		nclient4.WithUnicast(&net.UDPAddr{IP: l.Address().Addr().AsSlice(), Port: nclient4.ClientPort}),
		nclient4.WithServerAddr(&net.UDPAddr{IP: sid.AsSlice(), Port: nclient4.ServerPort}),
		nclient4.WithTimeout(noTimeout), nclient4.WithRetry(1))
}

// renew sends the renewing REQUEST to the server that granted old, unicast.
func (c *Client) renew(ctx context.Context, old *Lease) (*Lease, error) {
	cl, err := c.unicast(old)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return c.reacquire(ctx, cl, old, false)
}

// rebind broadcasts the REQUEST (ciaddr set, no server identifier) so that
// any server, or a relay, can answer.
func (c *Client) rebind(ctx context.Context, old *Lease) (*Lease, error) {
	cl, err := nclient4.New(c.Ifname, nclient4.WithTimeout(noTimeout), nclient4.WithRetry(1))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return c.reacquire(ctx, cl, old, true)
}

// release tells the server the address is free again.
func (c *Client) release(l *Lease) {
	cl, err := c.unicast(l)
	if err == nil {
		err = cl.Release(&nclient4.Lease{ACK: l.ACK})
		cl.Close()
	}
	if err != nil {
		c.Log.Warn("sending DHCPRELEASE failed", "link", c.Ifname, "err", err)
		return
	}
	c.Log.Info("DHCPv4 lease released", "link", c.Ifname, "address", l.Address())
}

func addr(l *Lease) *netlink.Addr {
	p := l.Address()
	return &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
}

func (c *Client) defaultRoute(link netlink.Link, l *Lease) *netlink.Route {
	gw, ok := l.Router()
	if !ok {
		return nil
	}
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw.AsSlice(), Protocol: unix.RTPROT_DHCP}
	if c.RouteTable != 0 {
		r.Table = int(c.RouteTable)
	}
	return r
}

// apply puts the address on the link, with the remaining lifetime, the
// default route through the lease's router and, with UseMTU, its MTU.
func (c *Client) apply(link netlink.Link, l *Lease) error {
	a := addr(l)
	if lt := l.Lifetime(); lt > 0 {
		left := int(time.Until(l.Acquired.Add(lt)) / time.Second)
		if left < 1 {
			left = 1
		}
		a.ValidLft, a.PreferedLft = left, left
	}
	if err := netlink.AddrReplace(link, a); err != nil {
		return fmt.Errorf("adding %s: %w", l.Address(), err)
	}
	if m := l.MTU(); c.UseMTU && m > 0 {
		if cur, err := netlink.LinkByIndex(link.Attrs().Index); err == nil && cur.Attrs().MTU != m {
			if c.origMTU == 0 {
				c.origMTU = cur.Attrs().MTU
			}
			if err := netlink.LinkSetMTU(link, m); err != nil {
				return fmt.Errorf("setting MTU %d: %w", m, err)
			}
		}
	}
	if r := c.defaultRoute(link, l); r != nil {
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("adding default route via %s: %w", r.Gw, err)
		}
	}
	return nil
}

// drop removes what apply added and forgets the lease.
func (c *Client) drop(link netlink.Link, l *Lease) {
	if r := c.defaultRoute(link, l); r != nil {
		netlink.RouteDel(r)
	}
	netlink.AddrDel(link, addr(l))
	if c.origMTU != 0 {
		netlink.LinkSetMTU(link, c.origMTU)
		c.origMTU = 0
	}
	os.Remove(Path(c.Root, link.Attrs().Index))
	if c.OnLease != nil {
		c.OnLease(nil)
	}
}

func withDeadline(ctx context.Context, at time.Time, ok bool) (context.Context, context.CancelFunc) {
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, at)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
