package imdsd

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// lowPorts hands out source ports below 1024, as upstream does for its data requests (some
// metadata services only trust privileged source ports). Without CAP_NET_BIND_SERVICE the
// first bind fails with EACCES and the kernel's ephemeral ports are used from then on.
type lowPorts struct {
	next     atomic.Uint32
	disabled atomic.Bool
}

func newLowPorts() *lowPorts {
	p := &lowPorts{}
	p.next.Store(uint32(rand.IntN(1023)))
	return p
}

// bind binds fd to a free port in 1…1023; it reports whether it did.
func (p *lowPorts) bind(fd int, network string, log *slog.Logger) bool {
	if p.disabled.Load() {
		return false
	}
	for range 1023 {
		port := int(p.next.Add(1)%1023) + 1
		var sa unix.Sockaddr = &unix.SockaddrInet4{Port: port}
		if network == "tcp6" {
			sa = &unix.SockaddrInet6{Port: port}
		}
		err := unix.Bind(fd, sa)
		switch {
		case err == nil:
			return true
		case errors.Is(err, unix.EADDRINUSE):
			continue
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			if !p.disabled.Swap(true) {
				log.Info("cannot bind source ports below 1024 (no CAP_NET_BIND_SERVICE), using ephemeral ports")
			}
			return false
		default:
			log.Debug("binding a low source port failed, using an ephemeral one", "err", err)
			return false
		}
	}
	return false
}

// dialer makes the sockets of one interface: bound to it (SO_BINDTODEVICE), marked with the
// firewall mark (SO_MARK) and from a low source port when possible.
type dialer struct {
	iface string // "" = unbound (tests only)
	mark  uint32
	ports *lowPorts
	warn  *markWarning
	log   *slog.Logger
}

// markWarning makes the missing-CAP_NET_ADMIN warning appear once per process.
type markWarning struct{ once sync.Once }

func (d *dialer) control(network, _ string, c syscall.RawConn) error {
	var opErr error
	err := c.Control(func(fd uintptr) {
		if d.iface != "" {
			if err := unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, d.iface); err != nil {
				opErr = fmt.Errorf("binding socket to interface %s: %w", d.iface, err)
				return
			}
		}
		if d.mark != 0 {
			if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(d.mark)); err != nil {
				if !errors.Is(err, unix.EPERM) {
					opErr = fmt.Errorf("setting firewall mark 0x%X: %w", d.mark, err)
					return
				}
				d.warn.once.Do(func() {
					d.log.Warn(fmt.Sprintf("cannot set firewall mark 0x%X on requests: SO_MARK needs CAP_NET_ADMIN; "+
						"continuing unmarked, which fails where the network is locked down to marked traffic "+
						"(systemd.imds.network=locked); grant CAP_NET_ADMIN or pass --fwmark= to silence this", d.mark))
				})
			}
		}
		if d.ports != nil {
			d.ports.bind(int(fd), network, d.log)
		}
	})
	if err != nil {
		return err
	}
	return opErr
}

// newHTTPClient returns a client whose connections go out through d.
func newHTTPClient(d *dialer) *httpClient {
	nd := &net.Dialer{Control: d.control}
	return newHTTPClientWith(nd.DialContext)
}
