package harness

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultReadyTimeout is how long WaitReady waits for READY=1.
const DefaultReadyTimeout = 20 * time.Second

// Notification is one sd_notify datagram a daemon sent to the NOTIFY_SOCKET StartDaemon gave
// it (NotifySocket, WaitReady).
type Notification struct {
	Time time.Time
	PID  int    // the sender's pid (SCM_CREDENTIALS); 0 if the kernel passed none
	Text string // the datagram: newline-separated KEY=VALUE assignments
	FDs  int    // descriptors that came with it (SCM_RIGHTS); the harness closes them
}

// Has reports whether the message carries the assignment, e.g. "READY=1".
func (n Notification) Has(assignment string) bool {
	for _, l := range strings.Split(n.Text, "\n") {
		if l == assignment {
			return true
		}
	}
	return false
}

// Get returns the value assigned to key in the message (the last one if several).
func (n Notification) Get(key string) (value string, ok bool) {
	for _, l := range strings.Split(n.Text, "\n") {
		if k, v, found := strings.Cut(l, "="); found && k == key {
			value, ok = v, true
		}
	}
	return value, ok
}

// NotifySocket gives the process a NOTIFY_SOCKET of its own — a unixgram socket in a new
// temporary directory (a short path: sun_path holds 107 bytes), replacing any NOTIFY_SOCKET of
// the test's environment — and records every message it sends there (Notifications). The
// socket is a path, not an abstract name, so a daemon in another network namespace (ip netns
// exec) reaches it too.
func NotifySocket() DaemonOption { return func(d *Daemon) { d.notify = true } }

// WaitReady is NotifySocket, and StartDaemon returns only once the process has sent READY=1;
// the test fails, with the process's output, if it exits first or has not sent it within
// DefaultReadyTimeout.
func WaitReady() DaemonOption { return WaitReadyWithin(DefaultReadyTimeout) }

// WaitReadyWithin is WaitReady with another timeout.
func WaitReadyWithin(timeout time.Duration) DaemonOption {
	return func(d *Daemon) { d.notify, d.readyTimeout = true, timeout }
}

// notifySock is the receiving end of a daemon's NOTIFY_SOCKET.
type notifySock struct {
	dir  string
	path string
	conn *net.UnixConn
	done chan struct{} // closed when the receiver has stopped

	mu      sync.Mutex
	msgs    []Notification
	changed chan struct{} // closed and replaced on every message
}

// listenNotify makes the socket and starts receiving.
func listenNotify() (*notifySock, error) {
	dir, err := os.MkdirTemp("", "stead-notify-")
	if err == nil && len(dir)+len("/notify") >= 108 {
		os.RemoveAll(dir)
		dir, err = os.MkdirTemp("/tmp", "stead-notify-")
	}
	if err != nil {
		return nil, err
	}
	// Daemons that run as another user can send too.
	os.Chmod(dir, 0o755)
	p := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	os.Chmod(p, 0o666)
	if rc, err := conn.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) })
	}
	n := &notifySock{dir: dir, path: p, conn: conn, done: make(chan struct{}), changed: make(chan struct{})}
	go n.receive()
	return n, nil
}

func (n *notifySock) receive() {
	defer close(n.done)
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(253*4))
	for {
		nb, noob, _, _, err := n.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		m := Notification{Time: time.Now(), Text: string(buf[:nb])}
		if cmsgs, err := unix.ParseSocketControlMessage(oob[:noob]); err == nil {
			for _, c := range cmsgs {
				if cred, err := unix.ParseUnixCredentials(&c); err == nil {
					m.PID = int(cred.Pid)
				}
				if fds, err := unix.ParseUnixRights(&c); err == nil {
					// Closing them is what a manager does with what it does not keep; it
					// also answers BARRIER=1.
					for _, fd := range fds {
						unix.Close(fd)
					}
					m.FDs += len(fds)
				}
			}
		}
		n.mu.Lock()
		n.msgs = append(n.msgs, m)
		close(n.changed)
		n.changed = make(chan struct{})
		n.mu.Unlock()
	}
}

// snapshot returns the messages so far and a channel closed at the next one.
func (n *notifySock) snapshot() ([]Notification, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Notification(nil), n.msgs...), n.changed
}

func (n *notifySock) close() {
	n.conn.Close()
	<-n.done
	os.RemoveAll(n.dir)
}

// envWith returns env (the process's environment when nil) with NOTIFY_SOCKET=path instead
// of any NOTIFY_SOCKET it had.
func envWith(env []string, path string) []string {
	if env == nil {
		env = os.Environ()
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			out = append(out, kv)
		}
	}
	return append(out, "NOTIFY_SOCKET="+path)
}

// Notifications returns every message the daemon has sent to its NOTIFY_SOCKET so far, in
// order (nil without NotifySocket or WaitReady).
func (d *Daemon) Notifications() []Notification {
	if d.ns == nil {
		return nil
	}
	msgs, _ := d.ns.snapshot()
	return msgs
}

// NotifySocketPath is the daemon's NOTIFY_SOCKET ("" without NotifySocket or WaitReady).
func (d *Daemon) NotifySocketPath() string {
	if d.ns == nil {
		return ""
	}
	return d.ns.path
}

// NotifyCount is how many of the daemon's messages so far carry assignment (e.g. "READY=1").
func (d *Daemon) NotifyCount(assignment string) int {
	n := 0
	for _, m := range d.Notifications() {
		if m.Has(assignment) {
			n++
		}
	}
	return n
}

// WaitNotified waits until count of the daemon's messages carry assignment (a second READY=1
// after a reload, for instance) and returns the last of them; the test fails, with the
// daemon's output, if the daemon exits first or timeout passes.
func (d *Daemon) WaitNotified(t testing.TB, assignment string, count int, timeout time.Duration) Notification {
	t.Helper()
	if d.ns == nil {
		t.Fatalf("%s: no notify socket (start it with harness.NotifySocket or harness.WaitReady)", d.name())
	}
	m, err := d.waitNotified(assignment, count, timeout)
	if err != nil {
		d.shown = len(d.Out.String())
		t.Fatalf("%s: %v\noutput:\n%s", d.name(), err, d.Out.String())
	}
	return m
}

func (d *Daemon) waitNotified(assignment string, count int, timeout time.Duration) (Notification, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	exited := d.done
	for {
		msgs, changed := d.ns.snapshot()
		n := 0
		for _, m := range msgs {
			if m.Has(assignment) {
				if n++; n == count {
					return m, nil
				}
			}
		}
		select {
		case <-changed:
		case <-exited:
			// What it sent just before it exited may still be on its way to the receiver.
			exited = nil
			timer.Reset(200 * time.Millisecond)
			timeout = -1
		case <-timer.C:
			if timeout < 0 {
				return Notification{}, fmt.Errorf("exited (%v) after %d× %s, want %d", d.Cmd.ProcessState, n, assignment, count)
			}
			return Notification{}, fmt.Errorf("%d× %s after %v, want %d (messages: %q)", n, assignment, timeout, count, texts(msgs))
		}
	}
}

func texts(msgs []Notification) []string {
	var s []string
	for _, m := range msgs {
		s = append(s, m.Text)
	}
	return s
}
