package dhcpclient

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// Retransmission, as upstream's sd-dhcp-client does it (RFC 2131 §4.1 and §4.4.5):
//   - DISCOVER and REQUEST (after an OFFER): after the n-th transmission the client waits
//     2^(n+1) s — 4, 8, 16, 32, then 64 s each time — minus a random fuzz of −1 s to +1 s;
//   - renewing and rebinding REQUESTs: half the time left until T2 (renewing) or until the
//     lease ends (rebinding), at least 60 s; the phase's end cuts the wait short.
//
// Each exchange draws a fresh transaction id (a DISCOVER and the REQUEST answering its
// OFFER share it, as RFC 2131 §4.4.1 asks); retransmissions within an exchange keep it.
const (
	retransmitMax = 64 * time.Second
	reacquireMin  = 60 * time.Second
	// requestTries: REQUESTs sent for an OFFER before starting over with a DISCOVER
	// (4, 8, 16, 32 s: the minute of RFC 2131 §3.1 step 5). Upstream sends them until
	// MaxAttempts=, which defaults to no limit.
	requestTries = 4
	// noTimeout: nclient4's own retransmission timer, never reached: transmit's contexts
	// decide.
	noTimeout = 365 * 24 * time.Hour
)

// retransmitWait is the wait after the attempt-th transmission (from 1) of a DISCOVER or
// REQUEST, given fuzz in [−1 s, +1 s).
func retransmitWait(attempt int, fuzz time.Duration) time.Duration {
	d := retransmitMax
	if attempt < 5 {
		d = time.Duration(1<<(attempt+1)) * time.Second
	}
	return d - fuzz
}

// fuzz is RFC 2131's random −1…+1 s.
func fuzz() time.Duration {
	return time.Duration(rand.Int64N(int64(2*time.Second))) - time.Second
}

// reacquireWait is the wait after a renewing or rebinding REQUEST sent at now when the phase
// ends at until (zero: never).
func reacquireWait(now, until time.Time) time.Duration {
	if until.IsZero() {
		return reacquireMin
	}
	return max(until.Sub(now)/2, reacquireMin)
}

// errNoAnswer: a REQUEST went unanswered requestTries times.
var errNoAnswer = errors.New("no answer from the DHCP server")

func newXID() dhcpv4.TransactionID {
	var x dhcpv4.TransactionID
	for x == (dhcpv4.TransactionID{}) {
		v := rand.Uint32()
		x = dhcpv4.TransactionID{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	}
	return x
}

// waitFor returns the client's wait after the attempt-th transmission of a DISCOVER or
// REQUEST (tests shorten it).
func (c *Client) waitFor(attempt int) time.Duration {
	if c.wait != nil {
		return c.wait(attempt)
	}
	return retransmitWait(attempt, fuzz())
}

// transmit sends msg to dest and waits for a reply match accepts, retransmitting after
// wait(n) following the n-th transmission, at most tries times (0: until ctx ends).
// cl must not retransmit by itself (nclient4.WithRetry(1), WithTimeout(noTimeout)).
func (c *Client) transmit(ctx context.Context, cl *nclient4.Client, dest *net.UDPAddr, msg *dhcpv4.DHCPv4,
	match nclient4.Matcher, tries int, wait func(int) time.Duration) (*dhcpv4.DHCPv4, error) {
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, wait(n))
		reply, err := cl.SendAndRead(actx, dest, msg, match)
		cancel()
		switch {
		case err == nil:
			return reply, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case !errors.Is(err, context.DeadlineExceeded):
			return nil, err
		case tries > 0 && n >= tries:
			return nil, fmt.Errorf("%s: %w", msg.MessageType(), errNoAnswer)
		}
		c.Log.Debug("DHCPv4 retransmitting", "link", c.Ifname, "type", msg.MessageType().String(),
			"xid", msg.TransactionID.String(), "attempt", n+1)
	}
}

// valid narrows match to the replies networkd can use: an OFFER or ACK that
// fails Validate is ignored (the client keeps waiting, as upstream's does);
// NAKs pass.
func (c *Client) valid(match nclient4.Matcher) nclient4.Matcher {
	return func(m *dhcpv4.DHCPv4) bool {
		if !match(m) {
			return false
		}
		if m.MessageType() == dhcpv4.MessageTypeNak {
			return true
		}
		if err := Validate(m); err != nil {
			c.Log.Warn("ignoring DHCPv4 reply", "link", c.Ifname, "type", m.MessageType().String(), "err", err)
			return false
		}
		return true
	}
}

// exchange runs DISCOVER/OFFER/REQUEST/ACK on cl with one fresh transaction id. The
// DISCOVER is retransmitted until an OFFER comes or ctx ends; the REQUEST requestTries
// times.
func (c *Client) exchange(ctx context.Context, cl *nclient4.Client) (*Lease, error) {
	maxSize := dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(nclient4.MaxMessageSize))
	disc, err := dhcpv4.NewDiscovery(cl.InterfaceAddr(), dhcpv4.WithTransactionID(newXID()), c.requested(), maxSize)
	if err != nil {
		return nil, err
	}
	offer, err := c.transmit(ctx, cl, cl.RemoteAddr(), disc, c.valid(nclient4.IsMessageType(dhcpv4.MessageTypeOffer)), 0, c.waitFor)
	if err != nil {
		return nil, fmt.Errorf("no offer: %w", err)
	}
	// The REQUEST keeps the OFFER's (our DISCOVER's) transaction id.
	req, err := dhcpv4.NewRequestFromOffer(offer, c.requested(), maxSize)
	if err != nil {
		return nil, err
	}
	ack, err := c.transmit(ctx, cl, cl.RemoteAddr(), req, c.valid(nclient4.IsAll(
		nclient4.IsCorrectServer(offer.ServerIdentifier()),
		nclient4.IsMessageType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak))), requestTries, c.waitFor)
	if err != nil {
		return nil, err
	}
	if ack.MessageType() == dhcpv4.MessageTypeNak {
		return nil, &nclient4.ErrNak{Offer: offer, Nak: ack}
	}
	return &Lease{ACK: ack, Acquired: time.Now()}, nil
}

// reacquire sends the REQUEST of a renewal (cl unicast to the server that granted old; the
// reply must come from it) or a rebinding (cl broadcasting; any server may answer), with a
// fresh transaction id, until an ACK or NAK comes or ctx ends (at T2, or at the end of the
// lease).
func (c *Client) reacquire(ctx context.Context, cl *nclient4.Client, old *Lease, rebind bool) (*Lease, error) {
	req, err := dhcpv4.NewRenewFromAck(old.ACK, dhcpv4.WithTransactionID(newXID()), c.requested(),
		dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(nclient4.MaxMessageSize)))
	if err != nil {
		return nil, err
	}
	match := nclient4.IsMessageType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
	until := old.Acquired.Add(old.T2())
	if rebind {
		until = time.Time{}
		if old.Lifetime() > 0 {
			until = old.Acquired.Add(old.Lifetime())
		}
	} else {
		match = nclient4.IsAll(nclient4.IsCorrectServer(old.ACK.ServerIdentifier()), match)
	}
	wait := c.reacquireWait
	if wait == nil {
		wait = func(int) time.Duration { return reacquireWait(time.Now(), until) }
	}
	ack, err := c.transmit(ctx, cl, cl.RemoteAddr(), req, c.valid(match), 0, wait)
	if err != nil {
		return nil, err
	}
	if ack.MessageType() == dhcpv4.MessageTypeNak {
		return nil, &nclient4.ErrNak{Offer: old.ACK, Nak: ack}
	}
	return &Lease{ACK: ack, Acquired: time.Now()}, nil
}
