package imdsd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Link is a network interface requests can be sent through.
type Link struct {
	Index int
	Name  string
}

// candidateLinks lists the interfaces worth asking through: up, not loopback, with an IPv4
// address or a usable (not link-local, not tentative) IPv6 address.
func candidateLinks() ([]Link, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	withAddr, err := linksWithAddress()
	if err != nil {
		return nil, err
	}
	var links []Link
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 || !withAddr[ifc.Index] {
			continue
		}
		links = append(links, Link{Index: ifc.Index, Name: ifc.Name})
	}
	return links, nil
}

// linksWithAddress dumps the kernel's addresses and returns the interfaces holding a usable
// one.
func linksWithAddress() (map[int]bool, error) {
	rib, err := syscall.NetlinkRIB(unix.RTM_GETADDR, unix.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("netlink address dump: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, fmt.Errorf("netlink address dump: %w", err)
	}
	found := map[int]bool{}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWADDR {
			continue
		}
		if idx, ok := usableAddress(m); ok {
			found[idx] = true
		}
	}
	return found, nil
}

// usableAddress decodes an RTM_NEWADDR message: the interface index, and whether the address
// can carry a request.
func usableAddress(m syscall.NetlinkMessage) (int, bool) {
	if len(m.Data) < unix.SizeofIfAddrmsg {
		return 0, false
	}
	family, flags, scope := m.Data[0], uint32(m.Data[2]), m.Data[3]
	idx := int(binary.NativeEndian.Uint32(m.Data[4:8]))
	attrs, err := syscall.ParseNetlinkRouteAttr(&m)
	if err != nil {
		return 0, false
	}
	for _, a := range attrs {
		if a.Attr.Type == unix.IFA_FLAGS && len(a.Value) >= 4 {
			flags = binary.NativeEndian.Uint32(a.Value[:4])
		}
	}
	switch family {
	case unix.AF_INET:
		return idx, true
	case unix.AF_INET6:
		return idx, scope == unix.RT_SCOPE_UNIVERSE &&
			flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0
	}
	return 0, false
}

// watchAddresses subscribes to address and link changes; the channel gets a value (without
// blocking, coalescing bursts) after each change, until ctx is done.
func watchAddresses(ctx context.Context) (<-chan struct{}, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK,
		Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	f := os.NewFile(uintptr(fd), "netlink") // non-blocking: served by the runtime poller
	ch := make(chan struct{}, 1)
	stop := context.AfterFunc(ctx, func() { f.Close() })
	go func() {
		defer stop()
		defer f.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				// ENOBUFS: messages were lost; a rescan covers them.
				if n == 0 && !isNoBufs(err) {
					return
				}
			}
			if n > 0 || isNoBufs(err) {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}()
	return ch, nil
}

func isNoBufs(err error) bool { return errors.Is(err, unix.ENOBUFS) }

// ifreqSocket is the socket interface name and index lookups are made on: one ioctl each,
// where the net package would dump every link over netlink.
var ifreqSocket = sync.OnceValues(func() (int, error) {
	return unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
})

// linkByIndex resolves an interface index.
func linkByIndex(idx int) (Link, error) {
	fd, err := ifreqSocket()
	if err != nil {
		return Link{}, err
	}
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return Link{}, err
	}
	ifr.SetUint32(uint32(idx))
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFNAME, ifr); err != nil {
		return Link{}, fmt.Errorf("interface %d: %w", idx, err)
	}
	return Link{Index: idx, Name: ifr.Name()}, nil
}

// linkByName resolves an interface name, or a number as an index.
func linkByName(name string) (Link, error) {
	if idx, err := strconv.Atoi(name); err == nil && idx > 0 && strconv.Itoa(idx) == name {
		return linkByIndex(idx)
	}
	fd, err := ifreqSocket()
	if err != nil {
		return Link{}, err
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return Link{}, fmt.Errorf("interface %q: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return Link{}, fmt.Errorf("interface %s: %w", name, err)
	}
	return Link{Index: int(ifr.Uint32()), Name: name}, nil
}
