package networkd

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// linkWatch hears the kernel's link announcements (rtnetlink RTMGRP_LINK). Upstream's networkd
// configures links as they appear (a NIC whose driver loads after networkd started, a veth made
// later); without this a link that showed up after the start stayed unconfigured until a
// reload. It is opened before the first apply, so that no link can appear unheard in between.
type linkWatch struct {
	f    *os.File // non-blocking: Read goes through the poller, Close wakes it
	seen map[int32]bool
}

func openLinkWatch() (*linkWatch, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &linkWatch{f: os.NewFile(uintptr(fd), "rtnetlink"), seen: map[int32]bool{}}, nil
}

// seed marks links as announced already.
func (w *linkWatch) seed(links []net.Interface) {
	for _, l := range links {
		w.seen[int32(l.Index)] = true
	}
}

// run calls added each time a link is announced that was not announced before (or was
// deleted and created again), and when announcements were lost; it returns when ctx ends.
func (w *linkWatch) run(ctx context.Context, log *slog.Logger, added func()) error {
	go func() { <-ctx.Done(); w.f.Close() }()
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			if errors.Is(err, unix.ENOBUFS) { // announcements were lost: look at every link again
				log.Debug("link announcements overran the socket, applying again")
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
				if !w.seen[idx] {
					w.seen[idx], fresh = true, true
				}
			case unix.RTM_DELLINK:
				delete(w.seen, idx)
			}
		}
		if fresh {
			added()
		}
	}
}
