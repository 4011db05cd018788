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

// Errors that close a connection: a message outgrowing MaxMessageSize, input the server's
// budget cannot hold, fds not at the start of a message or more of them than allowed.
var (
	errTooLarge    = fmt.Errorf("message exceeds %d bytes", MaxMessageSize)
	errOverBudget  = errors.New("buffered input over the server's budget")
	errStrayFDs    = errors.New("fds passed other than with the first byte of a message")
	errTooManyFDs  = errors.New("more fds passed than the server accepts with a message")
	errFDsDisabled = errors.New("fds passed to a server that accepts none")
)

// Read buffer sizing: a connection reads into a buffer of readBufferSize bytes from a shared
// pool, and doubles it whenever less than minReadRoom is free, up to maxReadBuffer. A
// connection with nothing buffered returns its buffer to the pool while it waits for the next
// request, so that idle clients cost no buffer at all; one whose grown buffer holds little
// moves back to a pooled one. Grown buffers are charged to the server's inputBudget.
const (
	readBufferSize = 4096
	minReadRoom    = 1024
	maxReadBuffer  = MaxMessageSize + 1 // a maximal message and its NUL
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
	nc     net.Conn
	uc     *net.UnixConn   // nil for non-unix connections
	rc     syscall.RawConn // uc's, for reads that wait without holding a buffer
	peer   *unix.Ucred     // nil when the kernel could not tell
	budget *inputBudget    // charged for grown buffers
	maxFDs int             // fds accepted with one message; 0: read without room for any

	arr        []byte             // read buffer, nil while idle; arr[start:end] is read but not yet returned
	pooled     *[]byte            // arr's pool entry when it came from readBuffers
	start, end int                //
	fds        []*os.File         // fds received with the message being read
	recvFn     func(uintptr) bool // w.recv, bound once
	n          int                // recv's result
	rerr       error              //

	wmu sync.Mutex // handlers may reply from helper goroutines
}

// newWireConn wraps nc with the server's budget and fd limit.
func (s *Server) newWireConn(nc net.Conn) *wireConn {
	w := &wireConn{nc: nc, budget: s.budget, maxFDs: s.limits.MaxInputFDs}
	if uc, ok := nc.(*net.UnixConn); ok {
		if rc, err := uc.SyscallConn(); err == nil {
			w.uc, w.rc = uc, rc
			w.recvFn = w.recv
			w.peer = peerCred(rc)
		}
	}
	return w
}

// unknownUID stands for peers whose credentials the kernel did not give.
const unknownUID = ^uint32(0)

// peerClass is the uid the connection limits count the peer under, and whether the peer is
// privileged (root or the daemon's own uid).
func (w *wireConn) peerClass() (uid uint32, privileged bool) {
	if w.peer == nil {
		return unknownUID, false
	}
	return w.peer.Uid, w.peer.Uid == 0 || w.peer.Uid == uint32(os.Getuid())
}

func peerCred(rc syscall.RawConn) *unix.Ucred {
	var cred *unix.Ucred
	rc.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	return cred
}

// fill reads once more from the socket, keeping any fds that arrive. It compacts, shrinks or
// grows the buffer first, and refuses to hold more than one maximal message.
func (w *wireConn) fill() error {
	if w.end-w.start > MaxMessageSize {
		return errTooLarge
	}
	switch {
	case w.start == w.end:
		// Everything read was handled (a message returned by next is dead by now).
		w.release()
	case w.pooled == nil && w.end-w.start <= readBufferSize-minReadRoom:
		// A large message was handled and only the start of a small one is left.
		rest := w.arr[w.start:w.end]
		pooled := readBuffers.Get().(*[]byte)
		n := copy(*pooled, rest)
		w.release()
		w.arr, w.pooled, w.start, w.end = *pooled, pooled, 0, n
	}
	if w.arr != nil && (w.start > 0 && w.end == len(w.arr)) {
		w.end = copy(w.arr, w.arr[w.start:w.end])
		w.start = 0
	}
	if w.arr != nil && len(w.arr)-w.end < minReadRoom && len(w.arr) < maxReadBuffer {
		if err := w.grow(); err != nil {
			return err
		}
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

// grow doubles the buffer (up to maxReadBuffer), charging the budget for the bytes added.
// Grown buffers are anonymous mappings rather than Go heap: their memory is the kernel's
// again the moment they are unmapped, and growing one (mremap) leaves no garbage behind, so
// the resident memory input can pin stays within the budget.
func (w *wireConn) grow() error {
	size := min(2*len(w.arr), maxReadBuffer)
	charged := 0
	if w.pooled == nil {
		charged = len(w.arr)
	}
	if !w.budget.take(int64(size - charged)) {
		return errOverBudget
	}
	var grown []byte
	var err error
	if w.pooled == nil {
		grown, err = unix.Mremap(w.arr, size, unix.MREMAP_MAYMOVE)
	} else {
		grown, err = unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err == nil {
			copy(grown, w.arr[w.start:w.end])
			w.end -= w.start
			w.start = 0
			readBuffers.Put(w.pooled)
			w.pooled = nil
		}
	}
	if err != nil {
		w.budget.give(int64(size - charged))
		return fmt.Errorf("read buffer of %d bytes: %w", size, err)
	}
	w.arr = grown
	return nil
}

// recv is fill's non-blocking read: it reports false (wait until readable) on EAGAIN, after
// giving the buffer back if nothing is buffered. Results go to w.n and w.rerr; a method value
// made once per connection keeps each read free of allocations.
func (w *wireConn) recv(fd uintptr) bool {
	w.acquire()
	var n int
	var err error
	if w.maxFDs == 0 {
		// No room for fds: the kernel drops any that come and never installs them here.
		n, _, _, err = recvmsg(int(fd), w.arr[w.end:], nil)
	} else {
		n, err = w.recvWithFDs(int(fd))
	}
	if err == unix.EAGAIN {
		if w.start == w.end {
			w.release() // wait for the peer without a buffer
		}
		return false
	}
	w.n, w.rerr = n, err
	return true
}

// recvWithFDs reads and takes the fds that came along, which must arrive with the first byte
// of a message (nothing else buffered) and number at most maxFDs; otherwise they are closed
// and the connection is to be closed, as upstream's sd-varlink treats stray fds.
func (w *wireConn) recvWithFDs(fd int) (int, error) {
	oob := oobBuffers.Get().(*[]byte)
	defer oobBuffers.Put(oob)
	n, oobn, flags, err := recvmsg(fd, w.arr[w.end:], (*oob)[:unix.CmsgSpace(w.maxFDs*4)])
	if oobn == 0 {
		if err == nil && flags&unix.MSG_CTRUNC != 0 {
			err = errTooManyFDs
		}
		return n, err
	}
	files := parseRights((*oob)[:oobn])
	switch {
	case flags&unix.MSG_CTRUNC != 0 || len(w.fds)+len(files) > w.maxFDs:
		err = errTooManyFDs
	case w.start != w.end || len(w.fds) > 0:
		err = errStrayFDs
	}
	if err != nil {
		closeFiles(files)
		return 0, err
	}
	w.fds = files
	return n, nil
}

// recvmsg reads without waiting, with passed fds close-on-exec. unix.Recvmsg would also
// decode the (unused) source address, one allocation per read.
func recvmsg(fd int, p, oob []byte) (n, oobn, flags int, err error) {
	iov := unix.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	msg := unix.Msghdr{Iov: &iov, Iovlen: 1}
	if len(oob) > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(len(oob))
	}
	for {
		r, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)),
			unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		switch e {
		case 0:
			return int(r), int(msg.Controllen), int(msg.Flags), nil
		case unix.EINTR:
			continue
		}
		return 0, 0, 0, e
	}
}

// acquire makes sure a read buffer is in place.
func (w *wireConn) acquire() {
	if w.arr == nil {
		w.pooled = readBuffers.Get().(*[]byte)
		w.arr, w.start, w.end = *w.pooled, 0, 0
	}
}

// release drops the read buffer, returning it to the pool if it came from there, else
// crediting the budget; only call it with nothing buffered that is still wanted.
func (w *wireConn) release() {
	switch {
	case w.pooled != nil:
		readBuffers.Put(w.pooled)
	case w.arr != nil:
		unix.Munmap(w.arr)
		w.budget.give(int64(len(w.arr)))
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
	if w.pooled == nil {
		// A grown buffer is unmapped once the connection moves on; a handler that kept
		// varlink.Call.Request beyond its return must not find the memory gone.
		b = bytes.Clone(b)
	}
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
	return bytes.Clone(b), err // the buffer is reused, or unmapped
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
