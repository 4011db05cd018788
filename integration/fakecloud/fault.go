package fakecloud

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// FaultMode names a kind of misbehaviour.
type FaultMode string

const (
	// FaultLatency delays matching requests by Delay before answering them normally
	// (or as another fault says).
	FaultLatency FaultMode = "latency"
	// FaultStatus answers matching requests with Status (default 503) instead of data.
	FaultStatus FaultMode = "status"
	// FaultExpireTokens invalidates every token issued so far, at once: the next data
	// request with an old token gets 401, a fresh token works. It is an action, not a
	// standing fault: SetFault/AddFault apply it and keep nothing.
	FaultExpireTokens FaultMode = "expire-tokens"
	// FaultOversize answers 200 with a body of Size bytes (default 5 MiB).
	FaultOversize FaultMode = "oversize"
	// FaultTruncate sends the normal response with a Content-Length larger than the body
	// it sends, then closes the connection: the client sees an unexpected EOF.
	FaultTruncate FaultMode = "truncate"
	// FaultReset closes the connection with SO_LINGER 0 (a TCP RST) without answering.
	FaultReset FaultMode = "reset"
	// FaultHang reads the request and never answers, until the client gives up or the
	// Server is closed; then the connection is closed without an answer.
	FaultHang FaultMode = "hang"
)

// FaultModes lists the modes, for help texts.
func FaultModes() []FaultMode {
	return []FaultMode{FaultLatency, FaultStatus, FaultExpireTokens, FaultOversize,
		FaultTruncate, FaultReset, FaultHang}
}

// DefaultOversize is FaultOversize's body size unless Size says otherwise: above the 4 MiB
// a well-behaved client (upstream's imdsd) accepts.
const DefaultOversize = 5 << 20

const maxOversize = 1 << 30

// Fault describes one misbehaviour and the requests it affects.
type Fault struct {
	Mode FaultMode `json:"mode"`
	// Path limits the fault to one URL path (without query); a trailing "*" makes it a
	// prefix ("/latest/meta-data/*"); "" means every path, token requests included.
	Path string `json:"path,omitempty"`
	// Method limits the fault to one HTTP method ("PUT" for token requests); "" any.
	Method string `json:"method,omitempty"`
	// Count is how many matching requests the fault affects before it disappears; 0 means
	// all of them until cleared. In Faults it is the remaining count.
	Count int `json:"count,omitempty"`
	// Status is FaultStatus's HTTP status (default 503).
	Status int `json:"status,omitempty"`
	// Delay is FaultLatency's delay.
	Delay time.Duration `json:"delay,omitempty"`
	// Size is FaultOversize's body size (default DefaultOversize).
	Size int64 `json:"size,omitempty"`
}

type activeFault struct {
	Fault
	used int
}

func (f *Fault) normalize() error {
	f.Method = strings.ToUpper(f.Method)
	if f.Count < 0 {
		return fmt.Errorf("fakecloud: fault count %d is negative", f.Count)
	}
	switch f.Mode {
	case FaultLatency:
		if f.Delay <= 0 {
			return fmt.Errorf("fakecloud: latency fault needs a positive delay")
		}
	case FaultStatus:
		if f.Status == 0 {
			f.Status = http.StatusServiceUnavailable
		}
		if f.Status < 200 || f.Status > 599 {
			return fmt.Errorf("fakecloud: fault status %d out of range", f.Status)
		}
	case FaultOversize:
		if f.Size == 0 {
			f.Size = DefaultOversize
		}
		if f.Size < 0 || f.Size > maxOversize {
			return fmt.Errorf("fakecloud: oversize %d out of range (1..%d)", f.Size, maxOversize)
		}
	case FaultExpireTokens, FaultTruncate, FaultReset, FaultHang:
	default:
		return fmt.Errorf("fakecloud: unknown fault mode %q (known: %v)", f.Mode, FaultModes())
	}
	return nil
}

func (f *Fault) matches(r *http.Request) bool {
	if f.Method != "" && f.Method != r.Method {
		return false
	}
	if f.Path == "" {
		return true
	}
	if prefix, ok := strings.CutSuffix(f.Path, "*"); ok {
		return strings.HasPrefix(r.URL.Path, prefix)
	}
	return f.Path == r.URL.Path
}

// SetFault replaces all standing faults with f. A zero Fault (or Mode "none") clears them.
func (s *Server) SetFault(f Fault) error {
	if f.Mode == "" || f.Mode == "none" {
		s.ClearFaults()
		return nil
	}
	if err := f.normalize(); err != nil {
		return err
	}
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
	return s.addFault(f)
}

// AddFault adds f to the standing faults. Latency faults add up; of the other faults, the
// first one added that matches a request decides its answer.
func (s *Server) AddFault(f Fault) error {
	if err := f.normalize(); err != nil {
		return err
	}
	return s.addFault(f)
}

func (s *Server) addFault(f Fault) error {
	if f.Mode == FaultExpireTokens {
		s.ExpireTokens()
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &activeFault{Fault: f})
	return nil
}

// ClearFaults removes all standing faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Faults returns the standing faults, Count being what remains of a limited one.
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, len(s.faults))
	for i, f := range s.faults {
		out[i] = f.Fault
		if f.Count > 0 {
			out[i].Count = f.Count - f.used
		}
	}
	return out
}

// take returns the total latency and the answering fault for r, consuming counts.
func (s *Server) take(r *http.Request) (delay time.Duration, answer *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.faults[:0]
	for _, f := range s.faults {
		use := false
		if f.matches(r) {
			if f.Mode == FaultLatency {
				delay += f.Delay
				use = true
			} else if answer == nil {
				a := f.Fault
				answer = &a
				use = true
			}
		}
		if use {
			f.used++
		}
		if f.Count == 0 || f.used < f.Count {
			kept = append(kept, f)
		}
	}
	clear(s.faults[len(kept):])
	s.faults = kept
	return delay, answer
}

func (s *Server) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// serveFaulted answers r, applying the standing faults, and reports the fault that shaped
// the answer.
func (s *Server) serveFaulted(w *statusWriter, r *http.Request) FaultMode {
	if s.isClosed() {
		dropConn(w)
		return ""
	}
	delay, f := s.take(r)
	var mode FaultMode
	if delay > 0 {
		mode = FaultLatency
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return mode
		case <-s.done:
			t.Stop()
			dropConn(w)
			return mode
		}
	}
	if f == nil {
		s.serveProvider(w, r)
		return mode
	}
	switch f.Mode {
	case FaultStatus:
		if f.Status == http.StatusTooManyRequests || f.Status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, http.StatusText(f.Status), f.Status)
	case FaultOversize:
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(f.Size))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			chunk := bytes.Repeat([]byte("A"), 64<<10)
			for left := f.Size; left > 0; {
				n := min(left, int64(len(chunk)))
				if _, err := w.Write(chunk[:n]); err != nil {
					break
				}
				left -= n
			}
		}
	case FaultTruncate:
		s.serveTruncated(w, r)
	case FaultReset:
		conn, err := w.hijack()
		if err != nil {
			http.Error(w, "fakecloud: cannot reset this connection", http.StatusInternalServerError)
			break
		}
		resetConn(conn)
	case FaultHang:
		s.hang(w, r)
	}
	return f.Mode
}

// serveTruncated renders the normal answer, then sends its head with a Content-Length
// larger than the part of the body that follows, and closes the connection.
func (s *Server) serveTruncated(w *statusWriter, r *http.Request) {
	buf := &bufferWriter{header: http.Header{}}
	s.serveProvider(buf, r)
	body := buf.body.Bytes()
	declared, send := len(body), len(body)/2
	if len(body) < 2 {
		declared, send = len(body)+512, len(body)
	}
	conn, err := w.hijack()
	if err != nil {
		http.Error(w, "fakecloud: cannot truncate on this connection", http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	status := buf.status
	if status == 0 {
		status = http.StatusOK
	}
	h := buf.header.Clone()
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	h.Del("Connection")
	var head bytes.Buffer
	fmt.Fprintf(&head, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	h.Write(&head)
	fmt.Fprintf(&head, "Content-Length: %d\r\nConnection: close\r\n\r\n", declared)
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(head.Bytes()); err == nil && r.Method != http.MethodHead {
		conn.Write(body[:send])
	}
}

// hang keeps the request unanswered until the client leaves or the Server closes.
func (s *Server) hang(w *statusWriter, r *http.Request) {
	conn, err := w.hijack()
	if err != nil {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	gone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, conn) // returns when the client closes (or Close below)
		close(gone)
	}()
	go func() {
		select {
		case <-gone:
		case <-s.done:
		}
		conn.Close()
	}()
}

// dropConn closes the connection without an answer (503 where there is no connection).
func dropConn(w *statusWriter) {
	if conn, err := w.hijack(); err == nil {
		conn.Close()
		return
	}
	http.Error(w, "fakecloud: server closed", http.StatusServiceUnavailable)
}

// resetConn closes conn so that the peer sees a reset rather than an orderly end.
func resetConn(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// ExpireTokens invalidates every token issued so far (FaultExpireTokens).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// bufferWriter collects a response in memory.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
