package dhcpclient

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Client runs DHCPv4 on one link.
type Client struct {
	Root       string
	Ifname     string
	RouteTable uint32 // 0: main
	Log        *slog.Logger
	// Retry is the pause after a failed exchange (default 2s).
	Retry time.Duration
}

// Run acquires, applies and renews a lease until ctx ends. A saved,
// unexpired lease is applied at once and then renewed.
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
		if err := c.apply(link, lease); err != nil {
			c.Log.Warn("applying saved lease failed", "link", c.Ifname, "err", err)
		}
	} else {
		lease = nil
	}
	for ctx.Err() == nil {
		if lease == nil {
			l, err := c.acquire(ctx)
			if err != nil {
				c.Log.Warn("DHCPv4 exchange failed", "link", c.Ifname, "err", err)
				sleep(ctx, c.Retry)
				continue
			}
			lease = l
			if err := c.apply(link, lease); err != nil {
				c.Log.Error("applying lease failed", "link", c.Ifname, "err", err)
			}
			if err := Save(c.Root, idx, lease); err != nil {
				c.Log.Warn("saving lease failed", "link", c.Ifname, "err", err)
			}
			c.Log.Info("DHCPv4 lease acquired", "link", c.Ifname, "address", lease.Address(), "lifetime", lease.Lifetime(), "t1", lease.T1())
		}
		// Renew at T1; retry until the lease runs out, then start over.
		if !sleepUntil(ctx, lease.Acquired.Add(lease.T1())) {
			break
		}
		for ctx.Err() == nil {
			l, err := c.renew(ctx, lease)
			if err == nil {
				lease = l
				if err := c.apply(link, lease); err != nil {
					c.Log.Error("applying lease failed", "link", c.Ifname, "err", err)
				}
				if err := Save(c.Root, idx, lease); err != nil {
					c.Log.Warn("saving lease failed", "link", c.Ifname, "err", err)
				}
				c.Log.Info("DHCPv4 lease renewed", "link", c.Ifname, "address", lease.Address())
				break
			}
			c.Log.Warn("DHCPv4 renewal failed", "link", c.Ifname, "err", err)
			if lease.Expired(time.Now()) {
				c.drop(link, lease)
				os.Remove(Path(c.Root, idx))
				lease = nil
				break
			}
			sleep(ctx, c.Retry)
		}
	}
	return nil
}

func (c *Client) newConn() (*nclient4.Client, error) {
	return nclient4.New(c.Ifname, nclient4.WithTimeout(3*time.Second), nclient4.WithRetry(3))
}

func (c *Client) acquire(ctx context.Context) (*Lease, error) {
	cl, err := c.newConn()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	l, err := cl.Request(ctx)
	if err != nil {
		return nil, err
	}
	return &Lease{ACK: l.ACK, Acquired: time.Now()}, nil
}

func (c *Client) renew(ctx context.Context, old *Lease) (*Lease, error) {
	cl, err := c.newConn()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	l, err := cl.Renew(ctx, &nclient4.Lease{Offer: old.ACK, ACK: old.ACK})
	if err != nil {
		return nil, err
	}
	return &Lease{ACK: l.ACK, Acquired: time.Now()}, nil
}

// apply puts the address on the link, with the remaining lifetime, and the
// default route through the lease's router.
func (c *Client) apply(link netlink.Link, l *Lease) error {
	p := l.Address()
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	if lt := l.Lifetime(); lt > 0 {
		left := int(time.Until(l.Acquired.Add(lt)) / time.Second)
		if left < 1 {
			left = 1
		}
		addr.ValidLft, addr.PreferedLft = left, left
	}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("adding %s: %w", p, err)
	}
	if gw, ok := l.Router(); ok {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw.AsSlice(), Protocol: unix.RTPROT_DHCP}
		if c.RouteTable != 0 {
			r.Table = int(c.RouteTable)
		}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("adding default route via %s: %w", gw, err)
		}
	}
	return nil
}

func (c *Client) drop(link netlink.Link, l *Lease) {
	p := l.Address()
	netlink.AddrDel(link, &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}})
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

func sleepUntil(ctx context.Context, at time.Time) bool { return sleep(ctx, time.Until(at)) }
