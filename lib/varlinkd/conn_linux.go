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
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errTooLarge closes a connection whose message outgrew MaxMessageSize.
var errTooLarge = fmt.Errorf("message exceeds %d bytes", MaxMessageSize)

// Read buffer sizing: a connection reads into a buffer of readBufferSize bytes from a shared
// pool, and doubles it whenever less than minReadRoom is free. A connection with nothing
// buffered returns its buffer to the pool while it waits for the next request, so that idle
// clients cost no buffer at all.
const (
	readBufferSize = 4096
	minReadRoom    = 1024
)

// maxFDsPerMessage matches the kernel's SCM_MAX_FD.
const maxFDsPerMessage = 253

// Buffers shared by all connections: read buffers, and room for one SCM_RIGHTS message, both
// only held during a read.
var (
	readBuffers = sync.Pool{New: func() any { b := make([]byte, readBufferSize); return &b }}
	oobBuffers  = sync.Pool{New: func() any { b := make([]byte, unix.CmsgSpace(maxFDsPerMessage*4)); return &b }}
)

// wireConn frames NUL-terminated messages on one connection, collects passed fds and remembers
// the peer's credentials. It implements varlink.ReadWriterContext, varlink.FDReadWriter and
// varlink.GetNetConn, so the library's Call can reply through it.
type wireConn struct {
	nc   net.Conn
	uc   *net.UnixConn   // nil for non-unix connections
	rc   syscall.RawConn // uc's, for reads that wait without holding a buffer
	peer *unix.Ucred     // nil when the kernel could not tell

	arr        []byte             // read buffer, nil while idle; arr[start:end] is read but not yet returned
	pooled     *[]byte            // arr's pool entry when it came from readBuffers
	start, end int                //
	fds        []*os.File         // fds received but not yet attached to a message
	recvFn     func(uintptr) bool // w.recv, bound once
	n          int                // recv's result
	rerr       error              //

	wmu sync.Mutex // handlers may reply from helper goroutines
}

func newWireConn(nc net.Conn) *wireConn {
	w := &wireConn{nc: nc}
	if uc, ok := nc.(*net.UnixConn); ok {
		if rc, err := uc.SyscallConn(); err == nil {
			w.uc, w.rc = uc, rc
			w.recvFn = w.recv
			w.peer = peerCred(rc)
		}
	}
	return w
}

func peerCred(rc syscall.RawConn) *unix.Ucred {
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
	if w.start == w.end {
		// Everything read was handled (a message returned by next is dead by now).
		w.release()
	}
	if w.arr != nil && (w.start > 0 && w.end == len(w.arr)) {
		w.end = copy(w.arr, w.arr[w.start:w.end])
		w.start = 0
	}
	if w.arr != nil && len(w.arr)-w.end < minReadRoom {
		grown := make([]byte, 2*len(w.arr))
		n := copy(grown, w.arr[w.start:w.end])
		if w.pooled != nil {
			readBuffers.Put(w.pooled)
		}
		w.arr, w.pooled, w.start, w.end = grown, nil, 0, n
	}
	if w.uc == nil {
		w.acquire()
		n, err := w.nc.Read(w.arr[w.end:])
		w.end += n
		if n > 0 {
			return nil
		}
		return err
	}
	w.n, w.rerr = 0, nil
	err := w.rc.Read(w.recvFn)
	if w.n > 0 {
		w.end += w.n
		return nil
	}
	if err == nil {
		err = w.rerr
	}
	if err == nil {
		err = io.EOF
	}
	return err
}

// recv is fill's non-blocking read: it reports false (wait until readable) on EAGAIN, after
// giving the buffer back if nothing is buffered. Results go to w.n and w.rerr; a method value
// made once per connection keeps each read free of allocations.
func (w *wireConn) recv(fd uintptr) bool {
	w.acquire()
	oob := oobBuffers.Get().(*[]byte)
	n, oobn, err := recvmsg(int(fd), w.arr[w.end:], *oob)
	if oobn > 0 {
		w.fds = append(w.fds, parseRights((*oob)[:oobn])...)
	}
	oobBuffers.Put(oob)
	if err == unix.EAGAIN {
		if w.start == w.end {
			w.release() // wait for the peer without a buffer
		}
		return false
	}
	w.n, w.rerr = n, err
	return true
}

// recvmsg reads without waiting, with passed fds close-on-exec. unix.Recvmsg would also
// decode the (unused) source address, one allocation per read.
func recvmsg(fd int, p, oob []byte) (n, oobn int, err error) {
	iov := unix.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	msg := unix.Msghdr{Iov: &iov, Iovlen: 1, Control: &oob[0]}
	msg.SetControllen(len(oob))
	for {
		r, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)),
			unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		switch e {
		case 0:
			return int(r), int(msg.Controllen), nil
		case unix.EINTR:
			continue
		}
		return 0, 0, e
	}
}

// acquire makes sure a read buffer is in place.
func (w *wireConn) acquire() {
	if w.arr == nil {
		w.pooled = readBuffers.Get().(*[]byte)
		w.arr, w.start, w.end = *w.pooled, 0, 0
	}
}

// release drops the read buffer, returning it to the pool if it came from there; only call
// it with nothing buffered.
func (w *wireConn) release() {
	if w.pooled != nil {
		readBuffers.Put(w.pooled)
	}
	w.arr, w.pooled, w.start, w.end = nil, nil, 0, 0
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
			files = append(files, os.NewFile(uintptr(fd), "varlink-fd"))
		}
	}
	return files
}

// next returns the next message without its NUL and the fds that came with it. The message
// is valid until the following call, after which its buffer may serve another connection.
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
	w.release()
	return w.nc.Close()
}

func closeFiles(fds []*os.File) {
	for _, f := range fds {
		f.Close()
	}
}
