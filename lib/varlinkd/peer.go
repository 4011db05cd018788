package varlinkd

import (
	"context"
	"os"

	"github.com/varlink/go/varlink"
)

// Peer is the process at the other end of a connection, as SO_PEERCRED saw it at connect time.
type Peer struct {
	PID      int32
	UID, GID uint32
}

// PeerOf returns the credentials of c's peer; ok is false when they are unknown (a non-unix
// connection, or a call not served by this package).
func PeerOf(c varlink.Call) (p Peer, ok bool) {
	w, isWire := c.Conn.(*wireConn)
	if !isWire || w.peer == nil {
		return Peer{}, false
	}
	return Peer{PID: w.peer.Pid, UID: w.peer.Uid, GID: w.peer.Gid}, true
}

// Privileged reports whether c's peer is root or runs as this daemon's own uid: the callers
// systemd lets read secrets or change state.
func Privileged(c varlink.Call) bool {
	p, ok := PeerOf(c)
	return ok && (p.UID == 0 || p.UID == uint32(os.Getuid()))
}

// RequirePrivileged answers c with PermissionDenied unless Privileged(c). A handler returns
// when ok is false, with err as its own result.
func RequirePrivileged(ctx context.Context, c varlink.Call) (ok bool, err error) {
	if Privileged(c) {
		return true, nil
	}
	return false, ReplyPermissionDenied(ctx, c)
}
