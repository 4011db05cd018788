package networkd

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// watchLinks calls added each time the kernel announces a link it had not announced before
// (or one deleted and created again): a NIC whose driver loads after networkd started, a
// veth made later. Upstream's networkd configures such links as they appear; without this a
// link present only after the start stayed unconfigured until a reload. It returns when ctx
// ends, or at once when the rtnetlink socket cannot be opened.
func watchLinks(ctx context.Context, log *slog.Logger, added func()) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		unix.Close(fd)
		return err
	}
	f := os.NewFile(uintptr(fd), "rtnetlink") // non-blocking: Read goes through the poller, Close wakes it
	go func() { <-ctx.Done(); f.Close() }()
	seen := map[int32]bool{}
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			if errors.Is(err, unix.ENOBUFS) { // events were lost: look at every link again
				log.Debug("link events overran the socket, re-applying")
				added()
				continue
			}
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		fresh := false
		for _, m := range msgs {
			if len(m.Data) < unix.SizeofIfInfomsg {
				continue
			}
			idx := int32(binary.NativeEndian.Uint32(m.Data[4:8])) // ifinfomsg.ifi_index
			switch m.Header.Type {
			case unix.RTM_NEWLINK:
				if !seen[idx] {
					seen[idx], fresh = true, true
				}
			case unix.RTM_DELLINK:
				delete(seen, idx)
			}
		}
		if fresh {
			added()
		}
	}
}
