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

// Limits of one notification datagram.
const (
	// notifyMaxSize is the longest message read (upstream's limit too); a
	// longer one arrives truncated (MSG_TRUNC) and is ignored.
	notifyMaxSize = 4096
	// notifyMaxFDs is the most fds one datagram may carry: the kernel's own
	// limit per message (SCM_MAX_FD). The control buffer holds that many;
	// a datagram with more arrives with MSG_CTRUNC and is ignored.
	notifyMaxFDs = 253
	// fdStoreMax caps FileDescriptorStoreMax=: however many a unit asks
	// for, the fd store keeps at most this many fds per service.
	fdStoreMax = 4096
)

// readNotify receives notification datagrams, each with at most maxFDs
// fds (notifyMaxFDs; tests use fewer), until the socket is closed. Every
// fd received is closed or handed to storeFDs (fdstore_linux.go), whatever
// the datagram.
func (m *Manager) readNotify(c *net.UnixConn, maxFDs int) {
	buf := make([]byte, notifyMaxSize)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*maxFDs))
	for {
		n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
		pid, fds, cerr := notifyControl(oob[:oobn])
		switch {
		case err != nil:
			closeFDs(fds)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		case cerr != nil:
			m.log.Warn("notification with malformed control data ignored", "err", cerr)
		case flags&unix.MSG_CTRUNC != 0:
			// The kernel dropped fds (more than the buffer holds, or past
			// our fd limit): the message is incomplete and, as upstream
			// does, ignored, its fds that did arrive closed.
			m.log.Debug("notification with too many fds ignored", "pid", pid, "fds", len(fds))
		case flags&unix.MSG_TRUNC != 0:
			m.log.Debug("notification too long, ignored", "pid", pid)
		case pid <= 0:
			m.log.Debug("notification without credentials ignored")
		case n == 0: // nothing to apply
		default:
			m.mu.Lock()
			m.handleNotify(pid, buf[:n], fds)
			m.mu.Unlock()
			continue
		}
		closeFDs(fds)
	}
}

// notifyControl reads the sender's pid and the fds of one datagram's
// control data; pid is 0 without credentials.
func notifyControl(oob []byte) (pid int, fds []int, err error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, nil, err // the kernel writes well-formed records: not expected
	}
	for _, cm := range msgs {
		if cred, err := unix.ParseUnixCredentials(&cm); err == nil {
			pid = int(cred.Pid)
		}
		if f, err := unix.ParseUnixRights(&cm); err == nil {
			fds = append(fds, f...)
		}
	}
	return pid, fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// fdStoreLimit is the most fds the store may hold for us:
// FileDescriptorStoreMax=, at most fdStoreMax.
func fdStoreLimit(us *unitState) int {
	return min(us.u.Service.FileDescriptorStoreMax, fdStoreMax)
}

// handleNotify applies one message from pid and passes on the fds it
// carried (storeFDs, or closed). Only a service's main process is listened
// to (NotifyAccess=main). m.mu held.
func (m *Manager) handleNotify(pid int, msg []byte, fds []int) {
	var us *unitState
	for _, u := range m.units {
		if u.svc.mainPID == pid && u.svc.mainPID != 0 {
			us = u
			break
		}
	}
	if us == nil || us.u.Service == nil {
		closeFDs(fds)
		if len(fds) > 0 { // fds from anyone but a main process are refused, visibly
			m.log.Warn("fds sent by a process that is no unit's main process, closed", "pid", pid, "fds", len(fds))
		} else {
			m.log.Debug("notification from unknown pid ignored", "pid", pid)
		}
		return
	}
	m.storeFDs(us, parseFDMessage(msg), fds)
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
			us.svc.status = v
		case "WATCHDOG":
			ping = ping || v == "1"
			trigger = trigger || v == "trigger"
		case "WATCHDOG_USEC":
			// The service changes its own timeout; 0 turns the watchdog off.
			if n, err := strconv.ParseUint(v, 10, 63); err == nil && n < 1<<62/1000 {
				us.svc.ex.wdTimeout = time.Duration(n) * time.Microsecond
				ping = true
			}
		case "MAINPID":
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				// We cannot reap a process that is not our child; accept
				// the value for reporting only when it is one of ours.
				if p := m.pids[n]; p != nil && p.us == us {
					p.main = true
					us.svc.mainPID = n
				}
			}
		}
	}
	switch {
	case trigger:
		m.watchdogExpired(us)
		return
	case ping && us.svc.mainPID != 0 && us.svc.phase != phaseStop && us.svc.phase != phaseStopPost:
		m.armWatchdog(us)
	}
	switch {
	case stopping:
		if us.active == StateActive {
			us.svc.stopping = true
			m.setState(us, StateDeactivating, subStopSigterm)
			us.svc.phase = phaseStop
		}
	case reloading:
		if us.active == StateActive {
			m.setState(us, StateReloading, subReloadNotify)
		}
	case ready:
		us.svc.ready = true
		switch {
		case us.active == StateActivating && us.svc.phase == phaseStart:
			s := us.u.Service
			us.svc.phase = phaseStartPost
			us.svc.queue = append(us.svc.queue[:0], s.ExecStartPost...)
			m.advance(us)
		case us.active == StateReloading && us.svc.phase != phaseReload:
			m.setState(us, StateActive, subRunning)
		}
	default:
		m.notifyChange()
	}
}
