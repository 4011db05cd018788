package varlinkd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// errTooLarge closes a connection whose message outgrew MaxMessageSize.
var errTooLarge = fmt.Errorf("message exceeds %d bytes", MaxMessageSize)

// Read buffer sizing: a connection starts with initialReadBuffer bytes and doubles whenever
// less than minReadRoom is free.
const (
	initialReadBuffer = 4096
	minReadRoom       = 1024
)

// maxFDsPerMessage matches the kernel's SCM_MAX_FD.
const maxFDsPerMessage = 253

// wireConn frames NUL-terminated messages on one connection, collects passed fds and remembers
// the peer's credentials. It implements varlink.ReadWriterContext, varlink.FDReadWriter and
// varlink.GetNetConn, so the library's Call can reply through it.
type wireConn struct {
	nc   net.Conn
	uc   *net.UnixConn // nil for non-unix connections
	peer *unix.Ucred   // nil when the kernel could not tell

	arr        []byte     // read buffer; arr[start:end] is read but not yet returned
	start, end int        //
	fds        []*os.File // fds received but not yet attached to a message
	oob        []byte     // room for SCM_RIGHTS with maxFDsPerMessage fds

	wmu sync.Mutex // handlers may reply from helper goroutines
}

func newWireConn(nc net.Conn) *wireConn {
	w := &wireConn{nc: nc}
	if uc, ok := nc.(*net.UnixConn); ok {
		w.uc = uc
		w.peer = peerCred(uc)
		w.oob = make([]byte, unix.CmsgSpace(maxFDsPerMessage*4))
	}
	return w
}

func peerCred(uc *net.UnixConn) *unix.Ucred {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	var cred *unix.Ucred
	rc.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	return cred
}

// fill reads once more from the socket, keeping any fds that arrive. It compacts or grows
// the buffer first, and refuses to hold more than one maximal message.
func (w *wireConn) fill() error {
	if w.end-w.start > MaxMessageSize {
		return errTooLarge
	}
	if w.start > 0 && w.end == len(w.arr) || w.start == w.end {
		w.end = copy(w.arr, w.arr[w.start:w.end])
		w.start = 0
	}
	if len(w.arr)-w.end < minReadRoom {
		// Start small: most requests are tiny and a daemon may hold thousands of connections.
		grown := make([]byte, max(2*len(w.arr), initialReadBuffer))
		w.end = copy(grown, w.arr[w.start:w.end])
		w.start = 0
		w.arr = grown
	}
	free := w.arr[w.end:]
	if w.uc == nil {
		n, err := w.nc.Read(free)
		w.end += n
		if n > 0 {
			return nil
		}
		return err
	}
	n, oobn, _, _, err := w.uc.ReadMsgUnix(free, w.oob)
	w.end += n
	if oobn > 0 {
		w.fds = append(w.fds, parseRights(w.oob[:oobn])...)
	}
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.EOF
	}
	return err
}

func parseRights(oob []byte) []*os.File {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "varlink-fd"))
		}
	}
	return files
}

// next returns the next message without its NUL and the fds that came with it. The message
// is valid until the following call.
func (w *wireConn) next() ([]byte, []*os.File, error) {
	b, err := w.until(0)
	if err != nil {
		return nil, nil, err
	}
	fds := w.fds
	w.fds = nil
	return b[:len(b)-1], fds, nil
}

// until returns the buffered bytes up to and including delim, reading as needed.
func (w *wireConn) until(delim byte) ([]byte, error) {
	scanned := 0
	for {
		if i := bytes.IndexByte(w.arr[w.start+scanned:w.end], delim); i >= 0 {
			n := scanned + i + 1
			if n > MaxMessageSize+1 {
				return nil, errTooLarge
			}
			b := w.arr[w.start : w.start+n : w.start+n]
			w.start += n
			return b, nil
		}
		scanned = w.end - w.start
		if err := w.fill(); err != nil {
			return nil, err
		}
	}
}

// Replies varlink/go sends for methods without output omit "parameters"; systemd always sends
// an object, and varlinkctl prints nothing without one.
var (
	bareReply          = []byte("{}\x00")
	bareReplyFixed     = []byte(`{"parameters":{}}` + "\x00")
	bareContinues      = []byte(`{"continues":true}` + "\x00")
	bareContinuesFixed = []byte(`{"parameters":{},"continues":true}` + "\x00")
)

// Write sends b (a whole reply including its NUL).
func (w *wireConn) Write(_ context.Context, b []byte) (int, error) {
	switch {
	case bytes.Equal(b, bareReply):
		b = bareReplyFixed
	case bytes.Equal(b, bareContinues):
		b = bareContinuesFixed
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.nc.Write(b)
}

// WriteWithFDs sends b with fds attached to its first byte.
func (w *wireConn) WriteWithFDs(_ context.Context, b []byte, fds []*os.File) (int, error) {
	if len(fds) == 0 {
		return w.Write(nil, b)
	}
	if w.uc == nil {
		return 0, errors.New("varlinkd: fd passing needs a unix socket")
	}
	raw := make([]int, len(fds))
	for i, f := range fds {
		raw[i] = int(f.Fd())
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	n, _, err := w.uc.WriteMsgUnix(b, unix.UnixRights(raw...), nil)
	if err != nil || n == len(b) {
		return n, err
	}
	m, err := w.nc.Write(b[n:])
	return n + m, err
}

// Read serves upgraded connections: buffered bytes first, then the socket.
func (w *wireConn) Read(_ context.Context, p []byte) (int, error) {
	if w.start < w.end {
		n := copy(p, w.arr[w.start:w.end])
		w.start += n
		return n, nil
	}
	return w.nc.Read(p)
}

// ReadBytes returns bytes up to and including delim, for upgraded connections.
func (w *wireConn) ReadBytes(_ context.Context, delim byte) ([]byte, error) {
	b, err := w.until(delim)
	return bytes.Clone(b), err
}

// ReadBytesWithFDs is ReadBytes plus the fds received meanwhile.
func (w *wireConn) ReadBytesWithFDs(ctx context.Context, delim byte) ([]byte, []*os.File, error) {
	b, err := w.ReadBytes(ctx, delim)
	fds := w.fds
	w.fds = nil
	return b, fds, err
}

// NetConn exposes the socket, as varlink.GetNetConn asks.
func (w *wireConn) NetConn() net.Conn { return w.nc }

// Close closes the socket and any fds nobody claimed.
func (w *wireConn) Close() error {
	closeFiles(w.fds)
	w.fds = nil
	return w.nc.Close()
}

func closeFiles(fds []*os.File) {
	for _, f := range fds {
		f.Close()
	}
}
