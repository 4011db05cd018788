package fakecloud

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Server is one fake metadata service. Its methods are safe for concurrent use.
type Server struct {
	prov *provider

	mu        sync.Mutex
	inst      Instance
	faults    []*activeFault
	counts    map[string]int // "METHOD path" → requests
	total     int
	log       []Request
	tokens    map[string]time.Time // token → expiry
	closed    bool
	done      chan struct{}
	httpSrv   *http.Server
	listeners []net.Listener

	now            func() time.Time
	logger         *slog.Logger
	tokensOptional bool
	privileged     bool
}

// Option configures a Server at construction.
type Option func(*Server)

// WithInstance lets f adjust the provider's DefaultInstance.
func WithInstance(f func(*Instance)) Option { return func(s *Server) { f(&s.inst) } }

// WithHostname sets Instance.Hostname.
func WithHostname(name string) Option { return func(s *Server) { s.inst.Hostname = name } }

// WithUserData sets Instance.UserData (nil: no user data).
func WithUserData(data []byte) Option {
	return func(s *Server) { s.inst.UserData = append([]byte(nil), data...) }
}

// WithLogger logs every request (method, path, status, fault) to l at Info level.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.logger = l } }

// WithClock replaces time.Now for token expiry, so tests can move time forward.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithTokensOptional lets data requests without a token header through on clouds with a
// token flow (EC2's IMDSv1 "http-tokens optional", Alibaba's normal mode). A token that is
// sent must still be valid. The default is tokens required.
func WithTokensOptional(optional bool) Option {
	return func(s *Server) { s.tokensOptional = optional }
}

// WithPrivilegedPortCheck turns the check that user-data requests come from a source port
// below 1024 (Scaleway) on or off. It defaults to ProviderInfo.PrivilegedPort. Turn it off
// when clients connect through a relay such as socat, which picks ephemeral ports.
func WithPrivilegedPortCheck(on bool) Option { return func(s *Server) { s.privileged = on } }

// New returns a Server emulating provider (a vendor id from Providers, e.g. "amazon-ec2").
func New(provider string, opts ...Option) (*Server, error) {
	p, ok := providers[provider]
	if !ok {
		return nil, fmt.Errorf("fakecloud: unknown provider %q (known: %v)", provider, providerOrder)
	}
	in, _ := DefaultInstance(provider)
	s := &Server{
		prov:       p,
		inst:       in,
		counts:     map[string]int{},
		tokens:     map[string]time.Time{},
		done:       make(chan struct{}),
		now:        time.Now,
		privileged: p.info.PrivilegedPort,
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Vendor returns the provider's vendor id.
func (s *Server) Vendor() string { return s.prov.info.Vendor }

// Info returns the provider's table entry with Expected computed for the current instance.
func (s *Server) Info() ProviderInfo {
	in := s.Instance()
	return s.prov.infoFor(&in)
}

// Instance returns a copy of the instance data being served.
func (s *Server) Instance() Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inst.Clone()
}

// UpdateInstance changes the served instance data at run time.
func (s *Server) UpdateInstance(f func(*Instance)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.inst)
}

// Handler returns the Server as an http.Handler, e.g. for httptest.NewServer. Close still
// releases hanging requests and makes further ones fail.
func (s *Server) Handler() http.Handler { return s }

// Serve answers requests on l until Close; it returns http.ErrServerClosed after Close. It
// may be called for several listeners (e.g. an IPv4 and an IPv6 address).
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return http.ErrServerClosed
	}
	if s.httpSrv == nil {
		s.httpSrv = &http.Server{
			Handler:           s,
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          s.errorLog(),
		}
	}
	srv := s.httpSrv
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	return srv.Serve(l)
}

func (s *Server) errorLog() *log.Logger {
	if s.logger == nil {
		return log.New(io.Discard, "", 0)
	}
	return slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug)
}

// Close stops Serve, closes its listeners and connections, and releases hanging requests
// (their connections are closed without an answer). Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	srv := s.httpSrv
	s.mu.Unlock()
	if srv != nil {
		return srv.Close()
	}
	return nil
}

// Request is one logged request.
type Request struct {
	Time       time.Time   `json:"time"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	RawQuery   string      `json:"query,omitempty"`
	Header     http.Header `json:"header,omitempty"`
	RemoteAddr string      `json:"remote"`
	Status     int         `json:"status"` // 0 when the connection was reset, hung or cut
	Fault      FaultMode   `json:"fault,omitempty"`
}

const (
	maxLog    = 4096
	maxCounts = 4096
	otherKey  = "* (other paths)"
)

// ServeHTTP answers one request as the emulated cloud would, after applying faults.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	s.count(r)
	rec := &statusWriter{ResponseWriter: w}
	fault := s.serveFaulted(rec, r)
	if !rec.hijacked && rec.status == 0 {
		rec.status = http.StatusOK // a handler that wrote nothing answers 200
	}
	entry := Request{
		Time: start, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), RemoteAddr: r.RemoteAddr, Status: rec.status, Fault: fault,
	}
	if rec.hijacked {
		entry.Status = 0
	}
	s.mu.Lock()
	if len(s.log) >= maxLog {
		s.log = slices.Delete(s.log, 0, len(s.log)-maxLog+1)
	}
	s.log = append(s.log, entry)
	s.mu.Unlock()
	if s.logger != nil {
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", entry.Status,
			"remote", r.RemoteAddr}
		if r.URL.RawQuery != "" {
			attrs = append(attrs, "query", r.URL.RawQuery)
		}
		if fault != "" {
			attrs = append(attrs, "fault", string(fault))
		}
		s.logger.Info("request", attrs...)
	}
}

func (s *Server) count(r *http.Request) {
	key := r.Method + " " + r.URL.Path
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	if _, ok := s.counts[key]; !ok && len(s.counts) >= maxCounts {
		key = otherKey
	}
	s.counts[key]++
}

// Requests returns how many requests for path (URL path, without query) arrived, any method,
// faulted or not, since the start or the last ResetRequests.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.counts {
		if _, p, _ := cut(k); p == path {
			n += v
		}
	}
	return n
}

// RequestsByMethod returns how many requests with method for path arrived.
func (s *Server) RequestsByMethod(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method+" "+path]
}

// TotalRequests returns the number of requests that arrived.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// RequestCounts returns a copy of the counters keyed "METHOD /path".
func (s *Server) RequestCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// RequestLog returns the most recent requests (at most 4096), oldest first.
func (s *Server) RequestLog() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// ResetRequests clears the counters and the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
	s.total = 0
	s.log = nil
}

func cut(key string) (method, path string, ok bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == ' ' {
			return key[:i], key[i+1:], true
		}
	}
	return "", key, false
}

// statusWriter remembers the status written and whether the connection was taken over.
type statusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// hijack takes over the connection. It fails for writers without one (tests' recorders).
func (w *statusWriter) hijack() (net.Conn, error) {
	conn, _, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, err
	}
	w.hijacked = true
	return conn, nil
}
