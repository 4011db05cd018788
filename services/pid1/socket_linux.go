package pid1

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// startSocket creates a socket unit's listeners and watches them. m.mu held.
func (m *Manager) startSocket(us *unitState) {
	s := us.u.Socket
	if s.Accept {
		m.log.Error("Accept=yes is not supported yet", "unit", us.u.Name)
		us.result = "resources"
		m.setState(us, StateFailed, "failed")
		return
	}
	var fds []int
	fail := func(err error) {
		m.log.Error("cannot listen", "unit", us.u.Name, "err", err)
		for _, fd := range fds {
			unix.Close(fd)
		}
		us.result = "resources"
		m.setState(us, StateFailed, "failed")
	}
	for _, addr := range s.ListenStream {
		fd, err := m.listenStream(addr, s.SocketMode)
		if err != nil {
			fail(err)
			return
		}
		fds = append(fds, fd)
	}
	for _, addr := range s.ListenDatagram {
		fd, err := m.listenDatagram(addr, s.SocketMode)
		if err != nil {
			fail(err)
			return
		}
		fds = append(fds, fd)
	}
	for _, l := range s.Symlinks {
		if len(s.ListenStream) > 0 && strings.HasPrefix(s.ListenStream[0], "/") {
			p := m.hostPath(l)
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			_ = os.Remove(p)
			_ = os.Symlink(s.ListenStream[0], p)
		}
	}
	us.fds = fds
	us.result = "success"
	stop := make(chan struct{})
	us.watchOn = stop
	m.setState(us, StateActive, "listening")
	go m.watchSocket(us, fds, stop)
}

func (m *Manager) stopSocket(us *unitState) {
	if us.watchOn != nil {
		close(us.watchOn)
		us.watchOn = nil
	}
	for _, fd := range us.fds {
		unix.Close(fd)
	}
	us.fds = nil
	for _, a := range us.u.Socket.ListenStream {
		if strings.HasPrefix(a, "/") {
			_ = os.Remove(m.hostPath(a))
		}
	}
	m.setState(us, StateInactive, "dead")
}

func (m *Manager) listenStream(addr string, mode uint32) (int, error) {
	return m.listen(addr, unix.SOCK_STREAM, mode)
}

func (m *Manager) listenDatagram(addr string, mode uint32) (int, error) {
	return m.listen(addr, unix.SOCK_DGRAM, mode)
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
	if err == nil && typ == unix.SOCK_STREAM {
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
	pfds := make([]unix.PollFd, len(fds))
	for i, fd := range fds {
		pfds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	}
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
		for i := range pfds {
			pfds[i].Revents = 0
		}
		n, err := unix.Poll(pfds, 200)
		if err != nil && err != unix.EINTR {
			return
		}
		if n <= 0 {
			continue
		}
		m.mu.Lock()
		select {
		case <-stop:
			m.mu.Unlock()
			return
		default:
		}
		if !m.closed && svc.job == nil && (svc.active == StateInactive || svc.active == StateFailed) && svc.u.LoadState == "loaded" {
			m.log.Info("incoming connection, starting service", "socket", us.u.Name, "service", svc.u.Name)
			if svc.active == StateFailed && svc.result == "start-limit-hit" {
				m.mu.Unlock()
				continue
			}
			_, _ = m.addJob(svc, JobStart, nil, map[string]bool{})
			m.dispatch()
		}
		m.mu.Unlock()
	}
}

// socketFDs returns the listening fds of the socket units that activate
// us, and the LISTEN_* variables describing them (LISTEN_PID is set by the
// shim). m.mu held.
func (m *Manager) socketFDs(us *unitState) ([]int, []string) {
	var fds []int
	var names []string
	for _, o := range m.units {
		if o.u.Socket == nil || o.u.Socket.Service != us.u.Name || len(o.fds) == 0 {
			continue
		}
		for range o.fds {
			names = append(names, o.u.Socket.FileDescriptorName)
		}
		fds = append(fds, o.fds...)
	}
	if len(fds) == 0 {
		return nil, nil
	}
	return fds, []string{"LISTEN_FDS=" + strconv.Itoa(len(fds)), "LISTEN_FDNAMES=" + strings.Join(names, ":")}
}
