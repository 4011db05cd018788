package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Barrier waits until the manager has processed every message this
// process sent before it. It creates a pipe, sends BARRIER=1 with the
// pipe's write end attached (and nothing else), closes its own copy of the
// write end and waits for the read end to hang up: that happens once the
// manager, having worked through the earlier datagrams, closes the copy it
// received.
//
// ctx bounds the wait; give it a deadline, since a wedged manager would
// otherwise block the caller forever. On expiry the error wraps ctx.Err()
// (context.DeadlineExceeded or context.Canceled). Barrier reports (false,
// nil) when n is disabled.
func (n *Notifier) Barrier(ctx context.Context) (bool, error) {
	if !n.Enabled() {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("notify: barrier: %w", err)
	}
	r, w, err := barrierPipe()
	if err != nil {
		return false, fmt.Errorf("notify: barrier: %w", err)
	}
	defer r.Close()
	err = sendmsg(n.addr, []byte("BARRIER=1"), []int{w})
	// Our copy of the write end must go before waiting, or the read end
	// could never hang up.
	closeFD(w)
	if err != nil {
		return false, err
	}

	// r is registered with the runtime poller, so a past deadline wakes a
	// blocked Read; ctx's own deadline arrives through Done as well.
	stop := context.AfterFunc(ctx, func() { _ = r.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var buf [64]byte
	for {
		_, err := r.Read(buf[:])
		switch {
		case err == nil:
			// Nobody should write, but stray bytes are not the hang-up.
			continue
		case errors.Is(err, io.EOF):
			return true, nil
		case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
			return false, fmt.Errorf("notify: barrier: manager did not respond: %w", ctx.Err())
		default:
			return false, fmt.Errorf("notify: barrier: %w", err)
		}
	}
}

// Barrier runs Notifier.Barrier against the socket in $NOTIFY_SOCKET.
func Barrier(ctx context.Context) (bool, error) {
	return withEnv(func(n *Notifier) (bool, error) { return n.Barrier(ctx) })
}
