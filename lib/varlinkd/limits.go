package varlinkd

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits bound what clients can make a server hold: connections, buffered input and passed
// fds. The zero value of a field means its default; New applies DefaultLimits.
type Limits struct {
	// MaxConnections caps the connections open at once (upstream sd-varlink: 4096).
	MaxConnections int
	// MaxConnectionsPerUID caps the connections of one unprivileged peer uid (upstream: 1024).
	MaxConnectionsPerUID int
	// PrivilegedReserve is the part of MaxConnections only privileged peers (root and the
	// daemon's own uid) may use, so that root can always connect while others are at the cap.
	// Privileged peers are not subject to MaxConnectionsPerUID.
	PrivilegedReserve int
	// MaxBufferedInput caps the input held across all connections beyond each connection's
	// first read buffer: a connection whose unfinished message would need more is closed.
	MaxBufferedInput int64
	// MaxInputFDs is how many fds a client may pass with one message. 0, the default, means
	// none: as with upstream's sd-varlink unless a daemon enables fd passing input, the socket
	// is read without room for them and the kernel discards any that are sent. At most
	// maxFDsPerMessage (the kernel's SCM_MAX_FD), since fds are only accepted with the first
	// byte of a message, which one sendmsg carries.
	MaxInputFDs int
}

// DefaultLimits are upstream's connection limits and an input budget of four maximal messages.
var DefaultLimits = Limits{
	MaxConnections:       4096,
	MaxConnectionsPerUID: 1024,
	PrivilegedReserve:    64,
	MaxBufferedInput:     4 * MaxMessageSize,
}

// withDefaults fills zero fields from DefaultLimits and checks the rest.
func (l Limits) withDefaults() (Limits, error) {
	d := DefaultLimits
	if l.MaxConnections == 0 {
		l.MaxConnections = d.MaxConnections
	}
	if l.MaxConnectionsPerUID == 0 {
		l.MaxConnectionsPerUID = d.MaxConnectionsPerUID
	}
	if l.PrivilegedReserve == 0 {
		l.PrivilegedReserve = min(d.PrivilegedReserve, l.MaxConnections/2)
	}
	if l.MaxBufferedInput == 0 {
		l.MaxBufferedInput = d.MaxBufferedInput
	}
	switch {
	case l.MaxConnections < 0, l.MaxConnectionsPerUID < 0, l.MaxBufferedInput < 0, l.MaxInputFDs < 0:
		return l, errors.New("varlinkd: negative limit")
	case l.PrivilegedReserve >= l.MaxConnections:
		return l, fmt.Errorf("varlinkd: privileged reserve %d leaves no connection of %d for others", l.PrivilegedReserve, l.MaxConnections)
	case l.MaxInputFDs > maxFDsPerMessage:
		return l, fmt.Errorf("varlinkd: MaxInputFDs %d over the kernel's %d per message", l.MaxInputFDs, maxFDsPerMessage)
	}
	return l, nil
}

// connTable counts open connections in total and per peer uid, and admits new ones within
// the limits.
type connTable struct {
	total int
	byUID map[uint32]int
}

// admit counts a new connection from uid if the limits allow it.
func (t *connTable) admit(l *Limits, uid uint32, privileged bool) bool {
	if privileged {
		if t.total >= l.MaxConnections {
			return false
		}
	} else if t.total >= l.MaxConnections-l.PrivilegedReserve || t.byUID[uid] >= l.MaxConnectionsPerUID {
		return false
	}
	if t.byUID == nil {
		t.byUID = map[uint32]int{}
	}
	t.total++
	t.byUID[uid]++
	return true
}

// leave uncounts a connection admit counted.
func (t *connTable) leave(uid uint32) {
	t.total--
	if t.byUID[uid]--; t.byUID[uid] <= 0 {
		delete(t.byUID, uid)
	}
}

// inputBudget is the shared allowance for read buffers beyond the first one of each
// connection; buffers are charged when they grow and credited when they are dropped.
type inputBudget struct {
	max  int64
	used atomic.Int64
}

// take charges n bytes; false when that would exceed the budget.
func (b *inputBudget) take(n int64) bool {
	for {
		used := b.used.Load()
		if used+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// give credits n bytes back.
func (b *inputBudget) give(n int64) { b.used.Add(-n) }

// acceptRetryable reports whether an accept error is a shortage (of fds, buffers or memory)
// that passes, so that the server waits and tries again instead of giving up its socket.
func acceptRetryable(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// Accept back-off bounds: the first retry waits acceptBackoffMin, each further one twice as
// long, up to acceptBackoffMax.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// nextBackoff doubles d within the accept back-off bounds.
func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return acceptBackoffMin
	}
	return min(2*d, acceptBackoffMax)
}

// rateLimitedLog logs a warning at most once per period, counting what it held back.
type rateLimitedLog struct {
	period time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (r *rateLimitedLog) warn(log *slog.Logger, msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < r.period {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	r.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	log.Warn(msg, args...)
}
