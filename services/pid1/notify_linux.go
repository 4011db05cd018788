package pid1

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// openNotify binds the notify socket at ROOT/run/systemd/notify. It is a
// net.UnixConn so that closing it wakes the reader (a raw fd closed under a
// blocked recvmsg would not, and its number could be reused meanwhile).
func (m *Manager) openNotify() error {
	p := m.hostPath("/run/systemd/notify")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	_ = os.Remove(p)
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		return err
	}
	// Services running under User= must be able to send to it, as with systemd (whose
	// socket is 0777): the umask made it 0755.
	if err := os.Chmod(p, 0o777); err != nil {
		c.Close()
		return err
	}
	rc, err := c.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
		})
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		c.Close()
		return err
	}
	m.notifyPath, m.notifyConn = p, c
	return nil
}

// readNotify receives notification datagrams until the socket is closed.
func (m *Manager) readNotify(c *net.UnixConn) {
	buf := make([]byte, 4096+1)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*253))
	for {
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pid := 0
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, cm := range msgs {
				if cred, err := unix.ParseUnixCredentials(&cm); err == nil {
					pid = int(cred.Pid)
				}
				if fds, err := unix.ParseUnixRights(&cm); err == nil {
					for _, f := range fds { // no fd store yet
						unix.Close(f)
					}
				}
			}
		}
		if pid == 0 || n == 0 || n > 4096 {
			continue
		}
		m.mu.Lock()
		m.handleNotify(pid, buf[:n])
		m.mu.Unlock()
	}
}

// handleNotify applies one message from pid. Only a service's main process
// is listened to (NotifyAccess=main). m.mu held.
func (m *Manager) handleNotify(pid int, msg []byte) {
	var us *unitState
	for _, u := range m.units {
		if u.mainPID == pid && u.mainPID != 0 {
			us = u
			break
		}
	}
	if us == nil || us.u.Service == nil {
		m.log.Debug("notification from unknown pid ignored", "pid", pid)
		return
	}
	var ready, reloading, stopping, ping, trigger bool
	for _, line := range bytes.Split(msg, []byte("\n")) {
		k, v, ok := strings.Cut(string(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "READY":
			ready = v == "1"
		case "RELOADING":
			reloading = v == "1"
		case "STOPPING":
			stopping = v == "1"
		case "STATUS":
			us.status = v
		case "WATCHDOG":
			ping = ping || v == "1"
			trigger = trigger || v == "trigger"
		case "WATCHDOG_USEC":
			// The service changes its own timeout; 0 turns the watchdog off.
			if n, err := strconv.ParseUint(v, 10, 63); err == nil && n < 1<<62/1000 {
				us.ex.wdTimeout = time.Duration(n) * time.Microsecond
				ping = true
			}
		case "MAINPID":
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				// We cannot reap a process that is not our child; accept
				// the value for reporting only when it is one of ours.
				if p := m.pids[n]; p != nil && p.us == us {
					p.main = true
					us.mainPID = n
				}
			}
		}
	}
	switch {
	case trigger:
		m.watchdogExpired(us)
		return
	case ping && us.mainPID != 0 && us.phase != "stop" && us.phase != "stop-post":
		m.armWatchdog(us)
	}
	switch {
	case stopping:
		if us.active == StateActive {
			us.stopping = true
			m.setState(us, StateDeactivating, "stop-sigterm")
			us.phase = "stop"
		}
	case reloading:
		if us.active == StateActive {
			m.setState(us, StateReloading, "reload-notify")
		}
	case ready:
		us.ready = true
		switch {
		case us.active == StateActivating && us.phase == "start":
			s := us.u.Service
			us.phase = "start-post"
			us.queue = append(us.queue[:0], s.ExecStartPost...)
			m.advance(us)
		case us.active == StateReloading && us.phase != "reload":
			m.setState(us, StateActive, "running")
		}
	default:
		m.notifyChange()
	}
}
