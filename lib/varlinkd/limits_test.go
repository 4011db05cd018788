package varlinkd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var pingRequest = []byte(`{"method":"io.systemd.service.Ping","parameters":{}}` + "\x00")

// limitServer is a bare server (io.systemd.service only) with the given limits.
func limitServer(t testing.TB, l Limits) *Server {
	t.Helper()
	srv, err := New(Info{Vendor: "stead", Product: "test", Version: "1", URL: "https://example.invalid"}, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetLimits(l); err != nil {
		t.Fatal(err)
	}
	return srv
}

// socketPair returns two connected unix stream sockets as *net.UnixConn.
func socketPair(t testing.TB) (client, server *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// serve runs ServeConn on one end of a new pair and returns the other end and a channel
// closed when ServeConn has returned.
func serve(t testing.TB, srv *Server) (*net.UnixConn, <-chan struct{}) {
	t.Helper()
	client, server := socketPair(t)
	done := make(chan struct{})
	go func() { defer close(done); srv.ServeConn(context.Background(), server) }()
	return client, done
}

// openFDs counts this process's open fds.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // the directory's own fd
}

// sendFDs sends b with n copies of fd attached.
func sendFDs(t testing.TB, c *net.UnixConn, b []byte, fd, n int) error {
	t.Helper()
	fds := make([]int, n)
	for i := range fds {
		fds[i] = fd
	}
	_, _, err := c.WriteMsgUnix(b, unix.UnixRights(fds...), nil)
	return err
}

// readOne reads one NUL-terminated reply.
func readOne(c net.Conn) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out []byte
	b := make([]byte, 512)
	for {
		n, err := c.Read(b)
		out = append(out, b[:n]...)
		if i := bytes.IndexByte(out, 0); i >= 0 {
			return out[:i], nil
		}
		if err != nil {
			return out, err
		}
	}
}

func ping(t testing.TB, c net.Conn) {
	t.Helper()
	if _, err := c.Write(pingRequest); err != nil {
		t.Fatal(err)
	}
	if r, err := readOne(c); err != nil || !bytes.Contains(r, []byte(`"parameters"`)) {
		t.Fatalf("Ping: %q, %v", r, err)
	}
}

func pipeFD(t testing.TB) int {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0]
}

// A server that accepts no fds never has them installed: 100 sendmsg calls of 250 fds each
// with bytes that never end a message leave the fd table as it was.
func TestFDsNotAcceptedAreNeverInstalled(t *testing.T) {
	srv := limitServer(t, Limits{})
	fd := pipeFD(t)
	client, done := serve(t, srv)
	defer client.Close()
	base := openFDs(t)
	peak := base
	for i := range 100 {
		b := []byte(" ") // JSON allows white space between tokens
		if i == 0 {
			b = []byte(`{"method":"io.systemd.service.Ping",`)
		}
		if err := sendFDs(t, client, b, fd, 250); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, openFDs(t))
	}
	// A complete message on the same connection is still answered (the bytes above were
	// a single unfinished request, so close it first).
	client.Write([]byte(`"parameters":{}}` + "\x00"))
	if r, err := readOne(client); err != nil || !bytes.Contains(r, []byte("parameters")) {
		t.Fatalf("after the fds: %q, %v", r, err)
	}
	if peak > base+2 {
		t.Errorf("fd table grew from %d to %d while fds were sent to a server that accepts none", base, peak)
	}
	client.Close()
	<-done
}

// With fd input enabled, fds travel with the first byte of a message and are closed once it
// is handled; too many, or fds arriving in the middle of a message, close the connection and
// every fd that came with it.
func TestFDsWithMessages(t *testing.T) {
	srv := limitServer(t, Limits{MaxInputFDs: 4})
	fd := pipeFD(t)
	base := openFDs(t)

	client, done := serve(t, srv)
	for range 20 {
		if err := sendFDs(t, client, pingRequest, fd, 4); err != nil {
			t.Fatal(err)
		}
		if r, err := readOne(client); err != nil || !bytes.Contains(r, []byte("parameters")) {
			t.Fatalf("Ping with 4 fds: %q, %v", r, err)
		}
	}
	client.Close()
	<-done

	for name, send := range map[string]func(c *net.UnixConn) error{
		"too many": func(c *net.UnixConn) error { return sendFDs(t, c, pingRequest, fd, 5) },
		"mid-message": func(c *net.UnixConn) error {
			if _, err := c.Write(pingRequest[:10]); err != nil {
				return err
			}
			time.Sleep(20 * time.Millisecond) // let the server buffer the start
			return sendFDs(t, c, pingRequest[10:], fd, 1)
		},
		"second batch": func(c *net.UnixConn) error {
			if err := sendFDs(t, c, pingRequest[:10], fd, 2); err != nil {
				return err
			}
			time.Sleep(20 * time.Millisecond)
			return sendFDs(t, c, pingRequest[10:], fd, 2)
		},
	} {
		client, done := serve(t, srv)
		if err := send(client); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: connection not closed", name)
		}
		client.Close()
	}
	if n := openFDs(t); n != base {
		t.Errorf("open fds %d after the connections ended, was %d", n, base)
	}
}

// FuzzFDsInterleaved drives one connection with partial writes, fds (with and without fd
// input enabled), complete requests and a disconnect at any point: whatever the sequence,
// no fd outlives the connection.
func FuzzFDsInterleaved(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{1, 1, 1, 3, 0, 2, 2, 5})
	f.Add([]byte{6, 3, 3, 4, 0, 0, 7, 1})
	servers := map[bool]*Server{}
	fd := pipeFD(f)
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		accept := len(ops) > 0 && ops[0]&0x80 != 0
		srv := servers[accept]
		if srv == nil {
			l := Limits{}
			if accept {
				l.MaxInputFDs = 8
			}
			srv = limitServer(t, l)
			servers[accept] = srv
		}
		base := openFDs(t)
		client, done := serve(t, srv)
		go io.Copy(io.Discard, client)
	ops:
		for _, op := range ops {
			var err error
			switch op % 8 {
			case 0: // a partial request
				_, err = client.Write(pingRequest[:int(op/8)%len(pingRequest)])
			case 1: // a whole request
				_, err = client.Write(pingRequest)
			case 2: // a whole request with fds
				err = sendFDs(t, client, pingRequest, fd, 1+int(op/8)%10)
			case 3: // bytes with fds
				err = sendFDs(t, client, pingRequest[:1+int(op/8)%20], fd, 1+int(op/8)%3)
			case 4: // the end of a message
				_, err = client.Write([]byte{0})
			case 5: // garbage
				_, err = client.Write([]byte("}{\x00"))
			case 6: // many fds
				err = sendFDs(t, client, []byte("{"), fd, 250)
			case 7: // hang up now
				break ops
			}
			if err != nil {
				break
			}
		}
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("ServeConn did not return after the peer closed")
		}
		if n := openFDs(t); n != base {
			t.Fatalf("ops %v: %d fds open after the connection, %d before", ops, n, base)
		}
	})
}

// The input budget is shared: once one connection's unfinished message holds it, another
// that needs more than its first buffer is closed, small requests still work, and the budget
// is whole again when the connections end.
func TestInputBudget(t *testing.T) {
	srv := limitServer(t, Limits{MaxBufferedInput: 1 << 20})
	big := bytes.Repeat([]byte(" "), 600<<10)

	first, firstDone := serve(t, srv)
	if _, err := first.Write(big); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first connection to buffer its input", func() bool { return srv.budget.used.Load() == 1<<20 })

	second, secondDone := serve(t, srv)
	go second.Write(big) // the server stops reading once it closes
	select {
	case <-secondDone:
	case <-time.After(5 * time.Second):
		t.Fatal("a connection over the budget was not closed")
	}
	second.Close()

	small, smallDone := serve(t, srv)
	ping(t, small)
	small.Close()
	<-smallDone

	first.Close()
	<-firstDone
	if used := srv.budget.used.Load(); used != 0 {
		t.Errorf("budget holds %d bytes after every connection ended", used)
	}
}

// After a large message is answered the connection gives its grown buffer back while it stays
// open, with the start of the next request still buffered.
func TestLargeMessageBufferReleased(t *testing.T) {
	srv := limitServer(t, Limits{})
	client, done := serve(t, srv)
	defer func() { client.Close(); <-done }()
	pad := bytes.Repeat([]byte(" "), 2<<20)
	msg := append(append([]byte(`{"method":"io.systemd.service.Ping",`), pad...), []byte(`"parameters":{}}`+"\x00")...)
	msg = append(msg, pingRequest[:10]...) // the start of another request
	if _, err := client.Write(msg); err != nil {
		t.Fatal(err)
	}
	if r, err := readOne(client); err != nil || !bytes.Contains(r, []byte("parameters")) {
		t.Fatalf("large Ping: %q, %v", r, err)
	}
	client.Write(pingRequest[10:])
	if r, err := readOne(client); err != nil || !bytes.Contains(r, []byte("parameters")) {
		t.Fatalf("following Ping: %q, %v", r, err)
	}
	waitFor(t, "the grown buffer to be released", func() bool { return srv.budget.used.Load() == 0 })
}

// A message larger than MaxMessageSize closes its connection without the buffer outgrowing
// one maximal message.
func TestBufferNeverOutgrowsOneMessage(t *testing.T) {
	srv := limitServer(t, Limits{})
	client, done := serve(t, srv)
	var peak int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				peak = max(peak, srv.budget.used.Load())
				time.Sleep(time.Millisecond)
			}
		}
	}()
	go func() {
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for range 20 {
			if _, err := client.Write(chunk); err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("oversized message did not close the connection")
	}
	close(stop)
	wg.Wait()
	client.Close()
	if peak > maxReadBuffer {
		t.Errorf("buffer reached %d bytes, more than one maximal message (%d)", peak, maxReadBuffer)
	}
}

func TestConnTableAdmit(t *testing.T) {
	l, err := Limits{MaxConnections: 6, MaxConnectionsPerUID: 2, PrivilegedReserve: 2}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	var tab connTable
	steps := []struct {
		uid        uint32
		privileged bool
		want       bool
	}{
		{1000, false, true}, {1000, false, true}, {1000, false, false}, // per uid
		{1001, false, true}, {1001, false, true}, // 4 open: the unprivileged cap
		{1002, false, false},
		{0, true, true}, {0, true, true}, // the reserve
		{0, true, false}, // the total
	}
	for i, s := range steps {
		if got := tab.admit(&l, s.uid, s.privileged); got != s.want {
			t.Fatalf("step %d (uid %d): admit = %v, want %v", i, s.uid, got, s.want)
		}
	}
	tab.leave(1000)
	if tab.admit(&l, 1002, false) {
		t.Error("uid 1002 admitted with 5 open, over the unprivileged cap of 4")
	}
	tab.leave(0)
	tab.leave(0)
	if !tab.admit(&l, 1002, false) {
		t.Error("uid 1002 refused with room below the reserve")
	}
	if tab.byUID[1000] != 1 || tab.byUID[0] != 0 || tab.total != 4 {
		t.Errorf("counts = %v total %d", tab.byUID, tab.total)
	}
}

func TestLimitsChecked(t *testing.T) {
	for _, l := range []Limits{
		{MaxConnections: 10, PrivilegedReserve: 10},
		{MaxInputFDs: 254},
		{MaxBufferedInput: -1},
	} {
		if _, err := l.withDefaults(); err == nil {
			t.Errorf("%+v accepted", l)
		}
	}
}

// flakyListener fails its first accepts with the given errors.
type flakyListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// Running out of fds or memory in accept pauses the server instead of ending it.
func TestAcceptShortageRetried(t *testing.T) {
	srv := limitServer(t, Limits{})
	sock := t.TempDir() + "/s"
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: l, errs: []error{
		&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)},
		&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ENFILE)},
		&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ENOBUFS)},
		&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ENOMEM)},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, fl, 0) }()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ping(t, c)
	c.Close()
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}

	// Any other error still ends Serve.
	l2, err := net.Listen("unix", sock+"2")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	bad := &flakyListener{Listener: l2, errs: []error{errors.New("broken")}}
	if err := srv.Serve(context.Background(), bad, 0); err == nil {
		t.Error("Serve ignored a permanent accept error")
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
