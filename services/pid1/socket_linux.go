package pid1

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/unit"
)

// startSocket creates a socket unit's listeners (in Listen*= order) and
// watches them. m.mu held.
func (m *Manager) startSocket(us *unitState) {
	s := us.u.Socket
	var fds []int
	fail := func(err error) {
		m.log.Error("cannot listen", "unit", us.u.Name, "err", err)
		for _, fd := range fds {
			unix.Close(fd)
		}
		us.result = resultResources
		m.setState(us, StateFailed, subFailed)
	}
	if s.Accept {
		// The template must exist; instances are loaded per connection.
		probe, err := unit.Load(m.cfg.Root, instanceUnit(s.Service, "probe"), &unit.Options{Dirs: m.cfg.Dirs})
		if err != nil || probe.LoadState != unit.Loaded || probe.Service == nil {
			fail(fmt.Errorf("service template %s cannot be loaded", s.Service))
			return
		}
	}
	for _, l := range s.Listen {
		fd, err := m.openListener(l, s.SocketMode)
		if err != nil {
			fail(err)
			return
		}
		fds = append(fds, fd)
	}
	m.linkSocket(us)
	us.sock.fds = fds
	us.result = resultSuccess
	stop := make(chan struct{})
	us.sock.watchOn = stop
	m.setState(us, StateActive, subListening)
	if s.Accept {
		go m.acceptLoop(us, fds, stop)
	} else {
		go m.watchSocket(us, fds, stop)
	}
}

// socketPath returns the one file-system socket Symlinks= point to, or "".
func socketPath(s *unit.Socket) string {
	var p string
	for _, l := range s.Listen {
		if strings.HasPrefix(l.Address, "/") {
			if p != "" {
				return "" // more than one: ambiguous
			}
			p = l.Address
		}
	}
	return p
}

// linkSocket creates the Symlinks= of us. In host mode the links are
// relative, so that they resolve on the host as well as inside the root.
func (m *Manager) linkSocket(us *unitState) {
	s := us.u.Socket
	if len(s.Symlinks) == 0 {
		return
	}
	target := socketPath(s)
	if target == "" {
		m.log.Warn("Symlinks= needs exactly one file-system socket, ignoring", "unit", us.u.Name)
		return
	}
	for _, l := range s.Symlinks {
		if !strings.HasPrefix(l, "/") {
			m.log.Warn("Symlinks= path is not absolute, ignoring", "unit", us.u.Name, "path", l)
			continue
		}
		p := m.hostPath(l)
		t := target
		if m.cfg.Root != "/" {
			if rel, err := filepath.Rel(filepath.Dir(p), m.hostPath(target)); err == nil {
				t = rel
			}
		}
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.Remove(p)
		if err := os.Symlink(t, p); err != nil {
			m.log.Warn("cannot create symlink", "unit", us.u.Name, "path", l, "err", err)
		}
	}
}

func (m *Manager) stopSocket(us *unitState) {
	if us.sock.watchOn != nil {
		close(us.sock.watchOn)
		us.sock.watchOn = nil
	}
	for _, fd := range us.sock.fds {
		unix.Close(fd)
	}
	us.sock.fds = nil
	for _, l := range us.u.Socket.Listen {
		// Only what startSocket created: never a ListenSpecial= device or file.
		if l.Type != "special" && l.Type != "netlink" && strings.HasPrefix(l.Address, "/") {
			_ = os.Remove(m.hostPath(l.Address))
		}
	}
	if socketPath(us.u.Socket) != "" {
		for _, l := range us.u.Socket.Symlinks {
			if strings.HasPrefix(l, "/") {
				_ = os.Remove(m.hostPath(l))
			}
		}
	}
	m.setState(us, StateInactive, subDead)
}

// openListener creates one Listen*= listener: a stream, datagram or
// sequential-packet socket (m.listen), a netlink socket bound to its multicast
// group, a FIFO (created with the socket's mode) or a special file opened
// read-write, as upstream does.
func (m *Manager) openListener(l unit.Listen, mode uint32) (int, error) {
	switch l.Type {
	case "datagram":
		return m.listen(l.Address, unix.SOCK_DGRAM, mode)
	case "seqpacket":
		return m.listen(l.Address, unix.SOCK_SEQPACKET, mode)
	case "netlink":
		family, group, err := unit.ParseNetlinkListen(l.Address)
		if err != nil {
			return -1, err
		}
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, family)
		if err != nil {
			return -1, fmt.Errorf("netlink %s: %w", l.Address, err)
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: uint32(group)}); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("netlink %s: %w", l.Address, err)
		}
		return fd, nil
	case "fifo":
		p := m.hostPath(l.Address)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return -1, err
		}
		if err := unix.Mkfifo(p, mode); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, fmt.Errorf("%s: %w", l.Address, err)
		}
		fd, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return -1, fmt.Errorf("%s: %w", l.Address, err)
		}
		return fd, nil
	case "special":
		fd, err := unix.Open(m.hostPath(l.Address), unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
		if err != nil {
			return -1, fmt.Errorf("%s: %w", l.Address, err)
		}
		return fd, nil
	}
	return m.listen(l.Address, unix.SOCK_STREAM, mode)
}

func (m *Manager) listen(addr string, typ int, mode uint32) (int, error) {
	var fd int
	var err error
	if strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "@") {
		p := addr
		if p[0] == '/' {
			p = m.hostPath(addr)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return -1, err
			}
			_ = os.Remove(p)
		}
		fd, err = unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		if err = unix.Bind(fd, &unix.SockaddrUnix{Name: p}); err == nil && p[0] == '/' {
			err = os.Chmod(p, os.FileMode(mode))
		}
	} else {
		host, port, herr := net.SplitHostPort(addr)
		if herr != nil {
			host, port = "", addr
		}
		n, perr := strconv.Atoi(port)
		if perr != nil || n <= 0 || n > 65535 {
			return -1, fmt.Errorf("invalid listen address %q", addr)
		}
		ip := net.ParseIP(host)
		if host != "" && ip == nil {
			return -1, fmt.Errorf("invalid listen address %q", addr)
		}
		if ip != nil && ip.To4() != nil {
			fd, err = unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				sa := &unix.SockaddrInet4{Port: n}
				copy(sa.Addr[:], ip.To4())
				err = unix.Bind(fd, sa)
			}
		} else {
			fd, err = unix.Socket(unix.AF_INET6, typ|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				sa := &unix.SockaddrInet6{Port: n}
				if ip != nil {
					copy(sa.Addr[:], ip.To16())
				}
				err = unix.Bind(fd, sa)
			}
		}
		if err != nil && fd < 0 {
			return -1, err
		}
	}
	if err == nil && (typ == unix.SOCK_STREAM || typ == unix.SOCK_SEQPACKET) {
		err = unix.Listen(fd, unix.SOMAXCONN)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("%s: %w", addr, err)
	}
	return fd, nil
}

// watchSocket starts the socket's service when a listener becomes readable
// while the service is not running.
func (m *Manager) watchSocket(us *unitState, fds []int, stop chan struct{}) {
	pfds := pollFDs(fds)
	for {
		select {
		case <-stop:
			return
		default:
		}
		m.mu.Lock()
		svc, err := m.get(us.u.Socket.Service)
		idle := err == nil && svc.job == nil && (svc.active == StateInactive || svc.active == StateFailed)
		changed := m.changed
		m.mu.Unlock()
		if !idle {
			select {
			case <-stop:
				return
			case <-changed:
			}
			continue
		}
		ready, quit := m.pollListeners(pfds, stop)
		if quit {
			return
		}
		if !ready {
			continue
		}
		if !m.closed && svc.job == nil && (svc.active == StateInactive || svc.active == StateFailed) && svc.u.LoadState == unit.Loaded {
			if svc.active == StateFailed && svc.result == resultStartLimitHit {
				// The pending connection would trigger again at once, forever: as upstream,
				// the socket gives up and fails, closing its listeners, until restarted.
				m.log.Warn("service hit its start limit, socket fails", "socket", us.u.Name, "service", svc.u.Name)
				m.stopSocket(us)
				us.result = resultServiceStartLimitHit
				m.setState(us, StateFailed, subFailed)
				m.mu.Unlock()
				return
			}
			m.log.Info("incoming connection, starting service", "socket", us.u.Name, "service", svc.u.Name)
			_, _ = m.addJob(svc, JobStart, nil, map[string]bool{})
			m.dispatch()
		}
		m.mu.Unlock()
	}
}

// pollFDs is the poll set of a socket unit's listeners.
func pollFDs(fds []int) []unix.PollFd {
	pfds := make([]unix.PollFd, len(fds))
	for i, fd := range fds {
		pfds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	}
	return pfds
}

// pollListeners waits up to 200 ms (so that stop is noticed) for a listener to become
// readable. ready: one is, and m.mu is now held; quit: stop was closed or poll failed, and
// the watcher ends.
func (m *Manager) pollListeners(pfds []unix.PollFd, stop chan struct{}) (ready, quit bool) {
	select {
	case <-stop:
		return false, true
	default:
	}
	for i := range pfds {
		pfds[i].Revents = 0
	}
	n, err := unix.Poll(pfds, 200)
	if err != nil && err != unix.EINTR {
		return false, true
	}
	if n <= 0 {
		return false, false
	}
	m.mu.Lock()
	select {
	case <-stop:
		m.mu.Unlock()
		return false, true
	default:
	}
	return true, false
}

// socketFDs returns the socket fds passed to us's main process and their
// names: its accepted connection (Accept=yes, named "connection"), else the
// listening fds of the socket units that activate it, sockets sorted by
// name, each one's fds in Listen*= order. m.mu held.
func (m *Manager) socketFDs(us *unitState) ([]int, []string) {
	if us.svc.ex.acceptedBy != nil {
		return []int{us.svc.ex.connFD}, []string{"connection"}
	}
	var socks []*unitState
	for _, o := range m.rels().sockets[us.u.Name] {
		if o.u.Socket != nil && !o.u.Socket.Accept && o.u.Socket.Service == us.u.Name && len(o.sock.fds) > 0 {
			socks = append(socks, o)
		}
	}
	sort.Slice(socks, func(i, j int) bool { return socks[i].u.Name < socks[j].u.Name })
	var fds []int
	var names []string
	for _, o := range socks {
		for range o.sock.fds {
			names = append(names, o.u.Socket.FileDescriptorName)
		}
		fds = append(fds, o.sock.fds...)
	}
	return fds, names
}

// listenFDs returns every fd passed to us's main process and the LISTEN_*
// variables describing them (LISTEN_PID is set by the shim): the socket
// fds (socketFDs), then the fd store's in the order they were stored, and
// the number of socket fds among them. m.mu held.
func (m *Manager) listenFDs(us *unitState) (fds []int, env []string, nSock int) {
	fds, names := m.socketFDs(us)
	nSock = len(fds)
	for _, s := range us.svc.fdStore {
		fds = append(fds, s.fd)
		names = append(names, s.name)
	}
	if len(fds) == 0 {
		return nil, nil, 0
	}
	return fds, []string{"LISTEN_FDS=" + strconv.Itoa(len(fds)), "LISTEN_FDNAMES=" + strings.Join(names, ":")}, nSock
}
