package imdsd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// httpClient speaks the part of HTTP/1.1 a metadata service needs: http:// URLs, GET and an
// empty PUT, keep-alive with a few idle connections per host, and Content-Length, chunked or
// close-delimited response bodies. It never follows redirects, uses no proxy and asks for no
// compression, as upstream's requests do.
//
// net/http did this before; it links TLS, HTTP/2, cookies and MIME besides, about 2 MB of
// code that stays resident in a daemon which only talks to a link-local address (see
// docs/imdsd.md, "Memory").
type httpClient struct {
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle     int           // idle connections kept per host
	idleTimeout time.Duration // an idle connection is closed after this long

	mu   sync.Mutex
	idle map[string][]*idleConn // by dial address
}

// idleConn is a kept-alive connection waiting for its next request.
type idleConn struct {
	pc    *persistConn
	timer *time.Timer // closes it after idleTimeout
}

// persistConn is one connection and its read buffer.
type persistConn struct {
	addr string
	nc   net.Conn
	lr   *limitedReader // caps the response header's size
	br   *bufio.Reader
}

// httpRequest is one request; header holds name/value pairs in order.
type httpRequest struct {
	method string
	url    string
	header [][2]string
	host   string // Host header; "" means the URL's host
}

// httpResponse is a status and its body, read whole (bodies are small and bounded).
type httpResponse struct {
	status int
	body   []byte
}

// Limits of a response.
const (
	maxResponseHeader = 64 << 10 // bytes of status line and header fields
	maxDiscard        = 64 << 10 // body bytes read and dropped to keep a connection of an error reply
)

// errBodyTooLarge is returned for a 2xx body longer than the caller's limit.
var errBodyTooLarge = errors.New("response body too large")

func newHTTPClientWith(dial func(context.Context, string, string) (net.Conn, error)) *httpClient {
	return &httpClient{dial: dial, maxIdle: 4, idleTimeout: 30 * time.Second, idle: map[string][]*idleConn{}}
}

// do sends req and reads the response. A 2xx body longer than limit is errBodyTooLarge; other
// bodies are dropped. A kept-alive connection the server closed meanwhile is retried once on
// a new one, as long as no byte of a response arrived.
func (c *httpClient) do(ctx context.Context, req *httpRequest, limit int64) (*httpResponse, error) {
	u, err := url.Parse(req.url)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("%s: only http:// URLs are supported", req.url)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: no host", req.url)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	host := req.host
	if host == "" {
		host = u.Host
	}
	head, err := requestHead(req.method, u.RequestURI(), host, req.header)
	if err != nil {
		return nil, err
	}
	for {
		pc, reused, err := c.conn(ctx, addr)
		if err != nil {
			return nil, err
		}
		resp, started, err := c.roundTrip(ctx, pc, head, limit)
		if err != nil && reused && !started && ctx.Err() == nil {
			continue // the server closed the idle connection; the next try dials if none is left
		}
		return resp, err
	}
}

// requestHead renders the request line and header fields, refusing anything that would
// split a line.
func requestHead(method, target, host string, header [][2]string) ([]byte, error) {
	if !validField(method) || !validField(target) || !validField(host) || strings.ContainsRune(target+host, ' ') {
		return nil, errors.New("invalid characters in the request line or host")
	}
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n")
	for _, h := range header {
		if !validHeaderName(h[0]) || !validField(h[1]) {
			return nil, fmt.Errorf("invalid header field %q", h[0])
		}
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	if method == "PUT" {
		b.WriteString("Content-Length: 0\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String()), nil
}

// validField reports a value that cannot end its line early.
func validField(s string) bool { return !strings.ContainsAny(s, "\r\n\x00") }

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// conn returns an idle connection to addr, or dials one.
func (c *httpClient) conn(ctx context.Context, addr string) (*persistConn, bool, error) {
	for {
		c.mu.Lock()
		l := c.idle[addr]
		if len(l) == 0 {
			c.mu.Unlock()
			break
		}
		ic := l[len(l)-1]
		c.idle[addr] = l[:len(l)-1]
		c.mu.Unlock()
		if !ic.timer.Stop() {
			continue // the idle timer fired and is closing it
		}
		if !idleUsable(ic.pc.nc) {
			ic.pc.nc.Close()
			continue
		}
		return ic.pc, true, nil
	}
	nc, err := c.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	lr := &limitedReader{r: nc}
	return &persistConn{addr: addr, nc: nc, lr: lr, br: bufio.NewReaderSize(lr, 4096)}, false, nil
}

// idleUsable looks at an idle connection without waiting: one the server closed meanwhile,
// or one with bytes nobody asked for (which would be taken for the next request's response),
// is not reused.
func idleUsable(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	usable := false
	err = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		usable = n <= 0 && (err == unix.EAGAIN || err == unix.EWOULDBLOCK)
	})
	return err == nil && usable
}

// put keeps pc for the next request, or closes it when enough are kept.
func (c *httpClient) put(pc *persistConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.idle[pc.addr]
	if len(l) >= c.maxIdle {
		pc.nc.Close()
		return
	}
	ic := &idleConn{pc: pc}
	ic.timer = time.AfterFunc(c.idleTimeout, func() { c.expire(ic) })
	c.idle[pc.addr] = append(l, ic)
}

// expire drops an idle connection whose time ran out.
func (c *httpClient) expire(ic *idleConn) {
	c.mu.Lock()
	l := c.idle[ic.pc.addr]
	for i, x := range l {
		if x == ic {
			c.idle[ic.pc.addr] = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	if len(c.idle[ic.pc.addr]) == 0 {
		delete(c.idle, ic.pc.addr)
	}
	c.mu.Unlock()
	ic.pc.nc.Close()
}

// closeIdle closes every idle connection.
func (c *httpClient) closeIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = map[string][]*idleConn{}
	c.mu.Unlock()
	for _, l := range idle {
		for _, ic := range l {
			if ic.timer.Stop() {
				ic.pc.nc.Close()
			}
		}
	}
}

// roundTrip writes head on pc and reads the response; started reports whether any of it
// arrived. pc is kept for reuse or closed.
func (c *httpClient) roundTrip(ctx context.Context, pc *persistConn, head []byte, limit int64) (resp *httpResponse, started bool, err error) {
	// The context's end interrupts a blocked read or write (and ctx.Err() is set by then,
	// which is how callers tell a timeout from a failure).
	pc.nc.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { pc.nc.SetDeadline(time.Unix(1, 0)) })
	keep := false
	defer func() {
		if !stop() || !keep {
			pc.nc.Close()
			return
		}
		c.put(pc)
	}()
	if _, err := pc.nc.Write(head); err != nil {
		return nil, false, err
	}
	pc.lr.n = maxResponseHeader
	tp := textproto.NewReader(pc.br)
	var status int
	var header textproto.MIMEHeader
	var close bool
	for {
		line, err := tp.ReadLine()
		if err != nil {
			if pc.br.Buffered() == 0 && line == "" && (errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET)) && !started {
				return nil, false, err
			}
			return nil, true, headerError(err)
		}
		started = true
		status, close, err = parseStatusLine(line)
		if err != nil {
			return nil, true, err
		}
		if header, err = tp.ReadMIMEHeader(); err != nil {
			return nil, true, headerError(err)
		}
		if status >= 100 && status < 200 && status != 101 {
			continue // informational: the real response follows
		}
		break
	}
	pc.lr.n = -1
	// HTTP/1.0 closes unless it says keep-alive; "close" closes whatever else is listed.
	if headerHasToken(header, "Connection", "keep-alive") {
		close = false
	}
	close = close || headerHasToken(header, "Connection", "close")
	want := limit
	if status < 200 || status > 299 {
		want = maxDiscard
	}
	body, complete, err := readResponseBody(pc.br, header, status, want)
	if err != nil {
		return nil, true, err
	}
	if status >= 200 && status <= 299 && !complete {
		return nil, true, errBodyTooLarge
	}
	// A connection with bytes beyond this response (a server answering twice, a body longer
	// than its Content-Length) would hand them to the next request as its response; 101
	// switched the connection to another protocol.
	keep = complete && !close && !framedByClose(header, status) && status != 101 && pc.br.Buffered() == 0
	return &httpResponse{status: status, body: body}, true, nil
}

// headerError makes a header over the size limit say so.
func headerError(err error) error {
	if errors.Is(err, errHeaderTooLarge) {
		return fmt.Errorf("response header exceeds %d bytes", maxResponseHeader)
	}
	return err
}

// parseStatusLine reads "HTTP/1.x NNN reason"; close is set for HTTP/1.0, which closes by
// default.
func parseStatusLine(line string) (status int, close bool, err error) {
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || (proto != "HTTP/1.1" && proto != "HTTP/1.0") {
		return 0, false, fmt.Errorf("malformed HTTP status line %q", line)
	}
	code, _, _ := strings.Cut(rest, " ")
	if len(code) != 3 {
		return 0, false, fmt.Errorf("malformed HTTP status code %q", code)
	}
	status, err = strconv.Atoi(code)
	if err != nil || status < 100 {
		return 0, false, fmt.Errorf("malformed HTTP status code %q", code)
	}
	return status, proto == "HTTP/1.0", nil
}

// headerHasToken reports whether a comma-separated header field lists token.
func headerHasToken(h textproto.MIMEHeader, name, token string) bool {
	for _, v := range h[name] {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// framedByClose reports a body that ends with the connection.
func framedByClose(h textproto.MIMEHeader, status int) bool {
	if noBody(status) {
		return false
	}
	return !isChunked(h) && h.Get("Content-Length") == ""
}

func noBody(status int) bool { return status == 204 || status == 304 || status < 200 }

func isChunked(h textproto.MIMEHeader) bool {
	te := h["Transfer-Encoding"]
	return len(te) > 0 && strings.EqualFold(strings.TrimSpace(te[len(te)-1]), "chunked")
}

// readResponseBody reads at most limit bytes of the body; complete is false when it was
// longer (the rest stays unread).
func readResponseBody(br *bufio.Reader, h textproto.MIMEHeader, status int, limit int64) (body []byte, complete bool, err error) {
	if noBody(status) {
		return nil, true, nil
	}
	var r io.Reader
	switch {
	case len(h["Transfer-Encoding"]) > 0:
		if !isChunked(h) {
			return nil, false, fmt.Errorf("unsupported transfer encoding %q", h["Transfer-Encoding"])
		}
		r = &chunkedReader{br: br}
	case len(h["Content-Length"]) > 0:
		n, err := parseContentLength(h["Content-Length"])
		if err != nil {
			return nil, false, err
		}
		if n > limit {
			return nil, false, nil
		}
		r = io.LimitReader(br, n)
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, false, unexpectedEOF(err)
		}
		return b, true, nil
	default:
		r = br
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, unexpectedEOF(err)
	}
	if int64(len(b)) > limit {
		return nil, false, nil
	}
	return b, true, nil
}

// parseContentLength accepts one value, or repeats of the same value.
func parseContentLength(vals []string) (int64, error) {
	var n int64 = -1
	for _, v := range vals {
		for f := range strings.SplitSeq(v, ",") {
			m, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil || m < 0 || (n >= 0 && m != n) {
				return 0, fmt.Errorf("invalid Content-Length %q", vals)
			}
			n = m
		}
	}
	return n, nil
}

// unexpectedEOF reports a body cut short as io.ErrUnexpectedEOF (a transient failure).
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// chunkedReader decodes a chunked body (RFC 9112 §7.1); extensions and trailers are skipped.
type chunkedReader struct {
	br   *bufio.Reader
	left int64 // bytes left in the current chunk
	done bool
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		if err := c.nextChunk(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		err = c.crlf()
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// nextChunk reads a chunk-size line; a zero size ends the body after the trailer section.
func (c *chunkedReader) nextChunk() error {
	line, err := c.line()
	if err != nil {
		return err
	}
	size, _, _ := strings.Cut(line, ";")
	n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("malformed chunk size %q", line)
	}
	if n > 0 {
		c.left = n
		return nil
	}
	for size := 0; ; { // trailer fields, up to the empty line, as bounded as the header
		l, err := c.line()
		if err != nil {
			return err
		}
		if l == "" {
			c.done = true
			return nil
		}
		if size += len(l) + 2; size > maxResponseHeader {
			return fmt.Errorf("response trailer exceeds %d bytes", maxResponseHeader)
		}
	}
}

// line reads one CRLF-terminated line of at most 4 KiB.
func (c *chunkedReader) line() (string, error) {
	b, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errors.New("chunk header line too long")
	}
	if err != nil {
		return "", unexpectedEOF(err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func (c *chunkedReader) crlf() error {
	l, err := c.line()
	if err != nil {
		return err
	}
	if l != "" {
		return errors.New("chunk not followed by CRLF")
	}
	return nil
}

// errHeaderTooLarge ends a response header longer than maxResponseHeader.
var errHeaderTooLarge = errors.New("response header too large")

// limitedReader caps how much is read from r while n ≥ 0; n < 0 lifts the cap.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
