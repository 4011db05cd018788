// Package fetchtest serves a directory over HTTP on 127.0.0.1 for tests of sysupdate's
// downloads: byte ranges, If-Range and strong ETags as a real web server has them (through
// net/http's ServeContent), counters of requests and body bytes per file, and injected
// connection drops in the middle of a body.
package fetchtest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Server serves the files of a directory (not listings). Paths given to its methods are
// relative to the directory, with or without a leading slash ("v1/SHA256SUMS").
type Server struct {
	dir string
	srv *httptest.Server

	mu       sync.Mutex
	served   map[string]int64
	requests map[string]int
	drops    map[string]int64
	noRanges bool
	noETags  bool
}

// New starts a server for dir on a loopback port; it stops when t ends.
func New(t testing.TB, dir string) *Server {
	t.Helper()
	s := &Server{
		dir:      dir,
		served:   map[string]int64{},
		requests: map[string]int{},
		drops:    map[string]int64{},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fetchtest: %v", err)
	}
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: s}}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the server's base URL, without a trailing slash: URL()+"/NAME" fetches dir/NAME.
func (s *Server) URL() string { return s.srv.URL }

func clean(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

// BytesServed counts the body bytes of file content (200 and 206 answers, not error pages)
// sent for path over all requests so far.
func (s *Server) BytesServed(p string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[clean(p)]
}

// Requests counts the requests for path so far.
func (s *Server) Requests(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[clean(p)]
}

// DropAfter makes the next request for path send n body bytes (after complete headers),
// then close the connection without finishing the body.
func (s *Server) DropAfter(p string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops[clean(p)] = n
}

// SetRanges turns byte-range support on (the default) or off; off, every GET is answered
// with the whole file and 200, as by a server that ignores Range.
func (s *Server) SetRanges(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noRanges = !on
}

// SetETags turns ETag headers on (the default) or off; off, Last-Modified is the only
// validator, with one-second resolution.
func (s *Server) SetETags(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noETags = !on
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := clean(r.URL.Path)
	s.mu.Lock()
	s.requests[name]++
	drop, dropping := s.drops[name]
	delete(s.drops, name)
	noRanges, noETags := s.noRanges, s.noETags
	s.mu.Unlock()

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, err := os.Open(filepath.Join(s.dir, filepath.FromSlash(name)))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	if !noETags {
		// Strong, and different whenever size or modification time change.
		w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, st.Size(), st.ModTime().UnixNano()))
	}
	if noRanges {
		r.Header.Del("Range")
		r.Header.Del("If-Range")
	}
	cw := &countingWriter{ResponseWriter: w, s: s, name: name, limit: -1}
	if dropping {
		cw.limit = drop
	}
	http.ServeContent(cw, r, "", st.ModTime(), f)
}

// errDropped ends ServeContent's copy after an injected drop.
var errDropped = errors.New("fetchtest: connection dropped")

// countingWriter counts body bytes and, with a limit, drops the connection after it.
type countingWriter struct {
	http.ResponseWriter
	s       *Server
	name    string
	limit   int64 // -1: none
	dropped bool
	status  int
}

func (w *countingWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.dropped {
		return 0, errDropped
	}
	if w.limit >= 0 && int64(len(p)) >= w.limit {
		p = p[:w.limit]
		n, _ := w.ResponseWriter.Write(p)
		w.count(n)
		w.drop()
		return n, errDropped
	}
	n, err := w.ResponseWriter.Write(p)
	w.count(n)
	if w.limit >= 0 {
		w.limit -= int64(n)
	}
	return n, err
}

func (w *countingWriter) count(n int) {
	if w.status != 0 && w.status != http.StatusOK && w.status != http.StatusPartialContent {
		return
	}
	w.s.mu.Lock()
	w.s.served[w.name] += int64(n)
	w.s.mu.Unlock()
}

// drop flushes what was written, then closes the TCP connection under the HTTP server.
func (w *countingWriter) drop() {
	w.dropped = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		panic("fetchtest: response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}
