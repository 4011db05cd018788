package dhcpclient

import "errors"

// Why a client stops: the daemon cancels Run's context with one of these as
// the cause (context.WithCancelCause), and the client leaves the link
// accordingly. Any other cause counts as ErrShutdown.
var (
	// ErrShutdown: networkd is stopping. The lease is released (SendRelease)
	// and the address dropped, unless KeepOnStop.
	ErrShutdown = errors.New("networkd is stopping")
	// ErrUnconfigured: the link no longer runs a DHCPv4 client; the lease is
	// released (SendRelease) and the address dropped whatever KeepOnStop says.
	ErrUnconfigured = errors.New("DHCPv4 is no longer configured on the link")
	// ErrHandOver: a client with new settings takes the link over; address and
	// lease file stay for it to pick up.
	ErrHandOver = errors.New("DHCPv4 client reconfigured")
	// ErrRestart: networkd is being restarted (SIGUSR2, upstream's RestartKillSignal=); like
	// KeepConfiguration=dynamic-on-stop, address and lease file stay for the next process,
	// which picks the lease up and renews it on time.
	ErrRestart = errors.New("networkd is restarting")
)

// stopAction is what a stopping client does with its lease.
type stopAction int

const (
	keepLease    stopAction = iota // leave address and lease file
	releaseLease                   // DHCPRELEASE (if enabled), then drop
)

func (c *Client) onStop(cause error) stopAction {
	switch {
	case errors.Is(cause, ErrHandOver), errors.Is(cause, ErrRestart):
		return keepLease
	case errors.Is(cause, ErrUnconfigured):
		return releaseLease
	case c.KeepOnStop:
		return keepLease
	}
	return releaseLease
}
