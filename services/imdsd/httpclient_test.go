package imdsd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawServer answers each request on a loopback listener with whatever reply returns for
// it, written verbatim; it records the requests' heads and counts connections.
type rawServer struct {
	l     net.Listener
	conns atomic.Int32
	mu    sync.Mutex
	heads []string
}

func newRawServer(t *testing.T, reply func(n int, head string) (answer string, closeAfter bool)) *rawServer {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{l: l}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					var head strings.Builder
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						head.WriteString(line)
						if line == "\r\n" {
							break
						}
					}
					s.mu.Lock()
					s.heads = append(s.heads, head.String())
					n := len(s.heads)
					s.mu.Unlock()
					answer, closeAfter := reply(n, head.String())
					io.WriteString(c, answer)
					if closeAfter {
						return
					}
				}
			}()
		}
	}()
	return s
}

func (s *rawServer) url(path string) string { return "http://" + s.l.Addr().String() + path }

func (s *rawServer) head(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heads[i]
}

func testClient() *httpClient {
	var d net.Dialer
	return newHTTPClientWith(d.DialContext)
}

func TestHTTPClientFraming(t *testing.T) {
	for _, tc := range []struct {
		name, answer, want string
		status             int
		reuse              bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "hello", 200, true},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: 1\r\n\r\n", "hello", 200, true},
		{"informational first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", 200, true},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", "", 204, true},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "ok", 200, false},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", 200, false},
		{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", "ok", 200, true},
		{"close wins over keep-alive", "HTTP/1.1 200 OK\r\nConnection: close, keep-alive\r\nContent-Length: 2\r\n\r\nok", "ok", 200, false},
		{"error status body dropped", "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop", "nop", 404, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRawServer(t, func(int, string) (string, bool) { return tc.answer, false })
			c := testClient()
			for range 2 {
				resp, err := c.do(context.Background(), &httpRequest{method: "GET", url: s.url("/k")}, 100)
				if err != nil {
					t.Fatal(err)
				}
				if resp.status != tc.status || string(resp.body) != tc.want {
					t.Fatalf("got %d %q, want %d %q", resp.status, resp.body, tc.status, tc.want)
				}
			}
			if want := map[bool]int32{true: 1, false: 2}[tc.reuse]; s.conns.Load() != want {
				t.Errorf("%d connections for two requests, want %d", s.conns.Load(), want)
			}
		})
	}
}

func TestHTTPClientCloseDelimitedBody(t *testing.T) {
	s := newRawServer(t, func(int, string) (string, bool) { return "HTTP/1.1 200 OK\r\n\r\nuntil the end", true })
	resp, err := testClient().do(context.Background(), &httpRequest{method: "GET", url: s.url("/")}, 100)
	if err != nil || string(resp.body) != "until the end" {
		t.Fatalf("%v %v", resp, err)
	}
}

func TestHTTPClientRequestHead(t *testing.T) {
	s := newRawServer(t, func(int, string) (string, bool) { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false })
	c := testClient()
	req := &httpRequest{method: "PUT", url: s.url("/a%20b?x=1"), header: [][2]string{{"X-Ttl", "60"}, {"Accept", "*/*"}}}
	if _, err := c.do(context.Background(), req, 10); err != nil {
		t.Fatal(err)
	}
	want := "PUT /a%20b?x=1 HTTP/1.1\r\nHost: " + s.l.Addr().String() + "\r\nX-Ttl: 60\r\nAccept: */*\r\nContent-Length: 0\r\n\r\n"
	if got := s.head(0); got != want {
		t.Errorf("head\n%q, want\n%q", got, want)
	}
	req = &httpRequest{method: "GET", url: s.url("/"), host: "metadata.example"}
	if _, err := c.do(context.Background(), req, 10); err != nil {
		t.Fatal(err)
	}
	if got := s.head(1); !strings.HasPrefix(got, "GET / HTTP/1.1\r\nHost: metadata.example\r\n") {
		t.Errorf("Host override: %q", got)
	}
	for _, bad := range []*httpRequest{
		{method: "GET", url: s.url("/"), header: [][2]string{{"X-A", "b\r\nX-Injected: 1"}}},
		{method: "GET", url: s.url("/"), header: [][2]string{{"X A", "b"}}},
		{method: "GET", url: s.url("/"), host: "h\r\nX: y"},
		{method: "GET", url: "https://127.0.0.1/"},
	} {
		if _, err := c.do(context.Background(), bad, 10); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	s.mu.Lock()
	n := len(s.heads)
	s.mu.Unlock()
	if n != 2 {
		t.Errorf("%d requests reached the server, want 2", n)
	}
}

func TestHTTPClientLimits(t *testing.T) {
	s := newRawServer(t, func(n int, _ string) (string, bool) {
		switch n {
		case 1:
			return "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n0123456789a", false
		case 2:
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n0123456789a\r\n0\r\n\r\n", false
		case 3:
			return "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", maxResponseHeader) + "\r\n\r\n", true
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", false
	})
	c := testClient()
	for i := range 3 {
		_, err := c.do(context.Background(), &httpRequest{method: "GET", url: s.url("/")}, 10)
		if i < 2 && !errors.Is(err, errBodyTooLarge) {
			t.Errorf("request %d: %v, want errBodyTooLarge", i+1, err)
		}
		if i == 2 && (err == nil || !strings.Contains(err.Error(), "header exceeds")) {
			t.Errorf("oversized header: %v", err)
		}
	}
	resp, err := c.do(context.Background(), &httpRequest{method: "GET", url: s.url("/")}, 10)
	if err != nil || string(resp.body) != "0123456789" {
		t.Errorf("exactly the limit: %v %v", resp, err)
	}
}

// A kept-alive connection that the server closed is replaced without the caller noticing.
func TestHTTPClientStaleIdleConnection(t *testing.T) {
	s := newRawServer(t, func(int, string) (string, bool) {
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true // closes but does not say so
	})
	c := testClient()
	for i := range 3 {
		resp, err := c.do(context.Background(), &httpRequest{method: "GET", url: s.url("/")}, 10)
		if err != nil || string(resp.body) != "ok" {
			t.Fatalf("request %d: %v %v", i+1, resp, err)
		}
		time.Sleep(10 * time.Millisecond) // let the close arrive
	}
	if n := s.conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

func TestHTTPClientCutOffReply(t *testing.T) {
	s := newRawServer(t, func(int, string) (string, bool) { return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true })
	_, err := testClient().do(context.Background(), &httpRequest{method: "GET", url: s.url("/")}, 100)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("got %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestHTTPClientCancel(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s := newRawServer(t, func(int, string) (string, bool) { <-release; return "", true })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := testClient().do(ctx, &httpRequest{method: "GET", url: s.url("/")}, 100)
	if err == nil || ctx.Err() == nil {
		t.Fatalf("err %v, ctx %v", err, ctx.Err())
	}
}

func TestHTTPClientIdleTimeout(t *testing.T) {
	s := newRawServer(t, func(int, string) (string, bool) { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false })
	c := testClient()
	c.idleTimeout = 10 * time.Millisecond
	if _, err := c.do(context.Background(), &httpRequest{method: "GET", url: s.url("/")}, 10); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		n := len(c.idle)
		c.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("idle connection never expired")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// FuzzHTTPResponse feeds arbitrary bytes as a response: the client must return a response or
// an error, never hang or panic, and never hand out more than the limit.
func FuzzHTTPResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nbody",
		"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, reply []byte) {
		c := newHTTPClientWith(func(context.Context, string, string) (net.Conn, error) {
			client, server := net.Pipe()
			go func() {
				defer server.Close()
				go io.Copy(io.Discard, server)
				server.Write(reply)
			}()
			return client, nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := c.do(ctx, &httpRequest{method: "GET", url: "http://h/k"}, 16)
		if err == nil && (resp.status < 100 || resp.status > 999 || len(resp.body) > maxDiscard ||
			resp.status/100 == 2 && len(resp.body) > 16) {
			t.Fatalf("bad response %d, %d bytes", resp.status, len(resp.body))
		}
		c.closeIdle()
	})
}

// Bytes after a complete response (a server answering twice) are never taken for the next
// request's response: the connection is not reused.
func TestHTTPClientUnsolicitedBytesNotReused(t *testing.T) {
	s := newRawServer(t, func(n int, _ string) (string, bool) {
		if n == 1 {
			return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none" +
				"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG", false
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo", false
	})
	c := testClient()
	for _, want := range []string{"one", "two"} {
		resp, err := c.do(context.Background(), &httpRequest{method: "GET", url: s.url("/" + want)}, 10)
		if err != nil || string(resp.body) != want {
			t.Fatalf("got %v %v, want %q", resp, err, want)
		}
	}
}

// The same when the extra bytes arrive while the connection waits in the idle pool.
func TestHTTPClientUnsolicitedBytesWhileIdle(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	extra := make(chan struct{})
	var conns atomic.Int32
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			n := conns.Add(1)
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line != "\r\n" {
						continue
					}
					if n == 1 {
						io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none")
						<-extra
						io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG")
						continue
					}
					io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo")
				}
			}()
		}
	}()
	c := testClient()
	url := "http://" + l.Addr().String() + "/"
	resp, err := c.do(context.Background(), &httpRequest{method: "GET", url: url}, 10)
	if err != nil || string(resp.body) != "one" {
		t.Fatalf("%v %v", resp, err)
	}
	close(extra)
	// Wait until the unsolicited reply sits in the idle connection's receive queue.
	c.mu.Lock()
	idle := c.idle[l.Addr().String()]
	c.mu.Unlock()
	if len(idle) != 1 {
		t.Fatalf("%d idle connections, want 1", len(idle))
	}
	rc, err := idle[0].pc.nc.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for queued := 0; queued == 0; {
		rc.Control(func(fd uintptr) { queued, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
		if queued == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	resp, err = c.do(context.Background(), &httpRequest{method: "GET", url: url}, 10)
	if err != nil || string(resp.body) != "two" {
		t.Fatalf("got %v %v, want \"two\"", resp, err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// A 101 reply switched the connection to another protocol: it is not reused.
func TestHTTPClientSwitchingProtocolsNotReused(t *testing.T) {
	s := newRawServer(t, func(int, string) (string, bool) {
		return "HTTP/1.1 101 Switching Protocols\r\n\r\n", false
	})
	c := testClient()
	for range 2 {
		resp, err := c.do(context.Background(), &httpRequest{method: "GET", url: s.url("/")}, 10)
		if err != nil || resp.status != 101 {
			t.Fatalf("%v %v", resp, err)
		}
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("%d connections for two requests, want 2", n)
	}
}

// Trailer fields count against the same limit as the header: a server that sends them
// without end gets an error, not a client waiting for its deadline.
func TestHTTPClientEndlessTrailer(t *testing.T) {
	s := newRawServer(t, func(int, string) (string, bool) {
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n" +
			strings.Repeat("X-Trailer: 0123456789\r\n", maxResponseHeader/20), false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := testClient().do(ctx, &httpRequest{method: "GET", url: s.url("/")}, 100)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "trailer exceeds") {
		t.Fatalf("got %v (ctx %v), want the trailer limit", err, ctx.Err())
	}
}
