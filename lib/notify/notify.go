package notify

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// EnvSocket is the environment variable naming the manager's socket.
const EnvSocket = "NOTIFY_SOCKET"

// MaxMessageSize is the largest payload this package sends. The manager
// reads notifications into a buffer of this size (PIPE_BUF) and drops
// longer datagrams, so failing early is kinder than being ignored.
const MaxMessageSize = 4096

// MaxFDs is the most descriptors one message may carry: the kernel's
// per-message limit for SCM_RIGHTS (SCM_MAX_FD).
const MaxFDs = 253

// Errors reported by this package; match them with errors.Is.
var (
	// ErrUnsupportedSocket reports a $NOTIFY_SOCKET this client cannot
	// use, such as an AF_VSOCK address ("vsock:CID:PORT").
	ErrUnsupportedSocket = errors.New("notify: unsupported socket address")
	// ErrInvalidSocket reports a malformed socket address.
	ErrInvalidSocket = errors.New("notify: invalid socket address")
	// ErrInvalidMessage reports a state or value that cannot be sent.
	ErrInvalidMessage = errors.New("notify: invalid message")
	// ErrInvalidFDName reports a file descriptor name the manager would
	// refuse (see ValidateFDName).
	ErrInvalidFDName = errors.New("notify: invalid file descriptor name")
)

// A Notifier sends notifications to one manager socket. The zero value and
// a nil *Notifier are disabled: every send returns (false, nil). A
// Notifier holds no open descriptors (each send uses a fresh socket, as
// sd_notify does), so it needs no Close and is safe for concurrent use.
type Notifier struct {
	addr string // "/path" or "@abstract"; "" when disabled
}

// New returns a Notifier for the given socket address: an absolute path,
// or "@name" for a socket in the abstract namespace. An empty address
// yields a disabled Notifier. "vsock:" addresses fail with
// ErrUnsupportedSocket; anything else that is not absolute fails with
// ErrInvalidSocket.
func New(addr string) (*Notifier, error) {
	if err := checkAddr(addr); err != nil {
		return nil, err
	}
	return &Notifier{addr: addr}, nil
}

// FromEnv returns a Notifier for the socket named in $NOTIFY_SOCKET
// (disabled when the variable is unset or empty).
func FromEnv() (*Notifier, error) {
	return New(os.Getenv(EnvSocket))
}

// sunPathMax is sizeof(sockaddr_un.sun_path); a path needs room for its
// terminating NUL, an abstract name does not but loses a byte to the '@'.
const sunPathMax = 108

func checkAddr(addr string) error {
	switch {
	case addr == "":
		return nil
	case strings.HasPrefix(addr, "vsock:") || strings.HasPrefix(addr, "vsock-"):
		return fmt.Errorf("%w: %q: AF_VSOCK is not implemented", ErrUnsupportedSocket, addr)
	case addr == "@":
		return fmt.Errorf("%w: %q: empty abstract name", ErrInvalidSocket, addr)
	case addr[0] != '/' && addr[0] != '@':
		return fmt.Errorf("%w: %q: neither an absolute path nor an abstract name", ErrInvalidSocket, addr)
	case len(addr) >= sunPathMax:
		return fmt.Errorf("%w: %q: longer than %d bytes", ErrInvalidSocket, addr, sunPathMax-1)
	case strings.IndexByte(addr[1:], 0) >= 0 && addr[0] == '/':
		return fmt.Errorf("%w: %q: NUL byte in path", ErrInvalidSocket, addr)
	}
	return nil
}

// Enabled reports whether n has a socket to send to.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != "" }

// Socket returns the address n sends to ("" when disabled).
func (n *Notifier) Socket() string {
	if n == nil {
		return ""
	}
	return n.addr
}

// Send sends state, newline-separated KEY=VALUE assignments, in one
// datagram, passing files along with it. The files stay open and owned by
// the caller; the manager receives duplicates. It reports whether a
// message was sent: (false, nil) when n is disabled.
func (n *Notifier) Send(state string, files ...*os.File) (bool, error) {
	if err := checkState(state); err != nil {
		return false, err
	}
	if len(files) > MaxFDs {
		return false, fmt.Errorf("%w: %d descriptors, at most %d per message", ErrInvalidMessage, len(files), MaxFDs)
	}
	for i, f := range files {
		if f == nil {
			return false, fmt.Errorf("%w: file %d is nil", ErrInvalidMessage, i)
		}
	}
	if !n.Enabled() {
		return false, nil
	}
	if err := sendFiles(n.addr, []byte(state), files); err != nil {
		return false, err
	}
	return true, nil
}

func checkState(state string) error {
	switch {
	case state == "":
		return fmt.Errorf("%w: empty state", ErrInvalidMessage)
	case len(state) > MaxMessageSize:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidMessage, len(state), MaxMessageSize)
	}
	return nil
}

// sendFiles borrows each file's descriptor for the duration of the send
// through RawConn.Control, nesting one call per file: unlike File.Fd this
// keeps the descriptor from being closed underneath us and leaves the
// file's blocking mode alone.
func sendFiles(addr string, payload []byte, files []*os.File) error {
	fds := make([]int, 0, len(files))
	var sendErr error
	var borrow func(i int) error
	borrow = func(i int) error {
		if i == len(files) {
			sendErr = sendmsg(addr, payload, fds)
			return nil
		}
		rc, err := files[i].SyscallConn()
		if err != nil {
			return fmt.Errorf("notify: file %q: %w", files[i].Name(), err)
		}
		var inner error
		err = rc.Control(func(fd uintptr) {
			fds = append(fds, int(fd))
			inner = borrow(i + 1)
		})
		if err != nil {
			return fmt.Errorf("notify: file %q: %w", files[i].Name(), err)
		}
		return inner
	}
	if err := borrow(0); err != nil {
		return err
	}
	return sendErr
}
