package pid1

// Accept=yes sockets: the manager accepts each connection itself and starts
// one instance of the socket's template service per connection, with the
// connection as its only fd (fd 3, LISTEN_FDS=1, named "connection").

import (
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/unit"
)

// acceptLoop accepts connections on the listeners of an Accept=yes socket
// until stop is closed.
func (m *Manager) acceptLoop(us *unitState, fds []int, stop chan struct{}) {
	pfds := pollFDs(fds)
	for {
		ready, quit := m.pollListeners(pfds, stop)
		if quit {
			return
		}
		if !ready {
			continue
		}
		for _, p := range pfds {
			if p.Revents&unix.POLLIN != 0 {
				m.acceptOne(us, int(p.Fd))
			}
		}
		m.mu.Unlock()
	}
}

// acceptOne accepts one connection on fd and starts its instance. m.mu held.
func (m *Manager) acceptOne(us *unitState, fd int) {
	cfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
	if err != nil {
		if err != unix.EAGAIN && err != unix.EINTR && err != unix.ECONNABORTED {
			m.log.Warn("accept failed", "unit", us.u.Name, "err", err)
		}
		return
	}
	// The service gets a blocking socket, as accept(2) would give it.
	if err := unix.SetNonblock(cfd, false); err != nil {
		unix.Close(cfd)
		return
	}
	s := us.u.Socket
	if m.closed || us.sock.nConn >= s.MaxConnections {
		m.log.Warn("too many incoming connections, dropping connection", "unit", us.u.Name, "connections", us.sock.nConn)
		unix.Close(cfd)
		return
	}
	inst, err := instanceName(cfd, us.sock.nAccepted)
	if err != nil {
		m.log.Warn("cannot name connection instance", "unit", us.u.Name, "err", err)
		unix.Close(cfd)
		return
	}
	name := instanceUnit(s.Service, inst)
	service, err := m.get(name)
	if err != nil || service.u.LoadState != unit.Loaded || service.u.Service == nil {
		m.log.Warn("cannot load connection service", "unit", us.u.Name, "service", name, "err", err)
		unix.Close(cfd)
		delete(m.units, name)
		return
	}
	us.sock.nAccepted++
	us.sock.nConn++
	service.svc.ex.connFD, service.svc.ex.acceptedBy = cfd, us
	m.log.Info("incoming connection, starting instance", "socket", us.u.Name, "service", name)
	if _, err := m.addJob(service, JobStart, nil, map[string]bool{}); err != nil {
		m.log.Warn("cannot start connection service", "service", name, "err", err)
		m.releaseConnection(service)
		return
	}
	m.dispatch()
}

// instanceUnit puts inst into a template name: "foo@.service" → "foo@inst.service".
func instanceUnit(template, inst string) string {
	i := strings.IndexByte(template, '@')
	return template[:i+1] + inst + template[i+1:]
}

// instanceName names the instance for connection fd the way systemd does:
// NR-COOKIE-LOCAL-PEER for IP ("0-4097-127.0.0.1:80-127.0.0.1:51234"), and
// NR-COOKIE-PID_PIDFDID-UID (or NR-COOKIE-PID-UID) for AF_UNIX, where NR
// counts the socket's connections from 0 and COOKIE is the socket cookie.
func instanceName(fd, nr int) (string, error) {
	cookie, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_COOKIE)
	if err != nil {
		return "", err
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return "", err
	}
	switch la := local.(type) {
	case *unix.SockaddrInet4, *unix.SockaddrInet6:
		remote, err := unix.Getpeername(fd)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d-%d-%s-%s", nr, cookie, ipPort(la), ipPort(remote)), nil
	case *unix.SockaddrUnix:
		cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil || cred.Pid == 0 {
			return fmt.Sprintf("%d-%d-unknown", nr, cookie), nil
		}
		if pidfd, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEERPIDFD); err == nil {
			var st unix.Stat_t
			ferr := unix.Fstat(pidfd, &st)
			unix.Close(pidfd)
			if ferr == nil {
				return fmt.Sprintf("%d-%d-%d_%d-%d", nr, cookie, cred.Pid, st.Ino, cred.Uid), nil
			}
		}
		return fmt.Sprintf("%d-%d-%d-%d", nr, cookie, cred.Pid, cred.Uid), nil
	}
	return "", fmt.Errorf("unsupported address family")
}

// ipPort formats an IP socket address as systemd's instance names do:
// IPv4 (and IPv4-mapped IPv6) dotted, other IPv6 in its usual text form.
func ipPort(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return fmt.Sprintf("%s:%d", netip.AddrFrom4(a.Addr), a.Port)
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(a.Addr)
		if ip.Is4In6() {
			ip = ip.Unmap()
		}
		return fmt.Sprintf("%s:%d", ip, a.Port)
	}
	return "unknown"
}

// releaseConnection closes an instance's connection once it has stopped
// and forgets the instance when it ended cleanly (a failed one stays
// listed, as upstream keeps failed units until they are reset). m.mu held.
func (m *Manager) releaseConnection(us *unitState) {
	socket := us.svc.ex.acceptedBy
	if socket == nil || (us.active != StateInactive && us.active != StateFailed) || us.job != nil {
		return
	}
	unix.Close(us.svc.ex.connFD)
	us.svc.ex.acceptedBy, us.svc.ex.connFD = nil, 0
	if socket.sock.nConn > 0 {
		socket.sock.nConn--
	}
	if us.active == StateInactive && m.units[us.u.Name] == us {
		delete(m.units, us.u.Name)
	}
}
