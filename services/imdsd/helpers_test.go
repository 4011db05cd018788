package imdsd

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fastTiming keeps every timer short so that retries and timeouts take milliseconds.
var fastTiming = Timing{
	Timeout:      2 * time.Second,
	TimeoutScan:  2 * time.Second,
	RetryInitial: time.Millisecond,
	RetryMax:     4 * time.Millisecond,
	Retries:      10,
}

// testLogger discards unless IMDS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("IMDS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// noEnv isolates a test from the process environment.
func noEnv(string) (string, bool) { return "", false }

// loopback is the host's loopback interface, the only one host-side tests send through.
func loopback(t testing.TB) Link {
	t.Helper()
	ifc, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	return Link{Index: ifc.Index, Name: ifc.Name}
}

// newTestService builds a service for the metadata server at dataURL (an httptest server on
// 127.0.0.1), sending through loopback only: bound to it and marked when running as root,
// unbound otherwise. setup may adjust the options first.
func newTestService(t testing.TB, dataURL string, setup func(*Options)) *Service {
	t.Helper()
	o := Options{
		Root:       t.TempDir(),
		Version:    "test",
		Timing:     fastTiming,
		RuntimeDir: t.TempDir(),
		Getenv:     noEnv,
		Log:        testLogger(),
	}
	if dataURL != "" {
		if err := o.Endpoint.Set("data_url", dataURL); err != nil {
			t.Fatal(err)
		}
		o.Endpoint.Set("vendor", "test")
	}
	if os.Getuid() != 0 {
		var none uint32
		o.FirewallMark = &none
	}
	if setup != nil {
		setup(&o)
	}
	t.Setenv("SYSTEMD_PROC_CMDLINE", "")
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	s, err := New(o, true)
	if err != nil {
		t.Fatal(err)
	}
	adoptLoopback(t, s)
	return s
}

// adoptLoopback points the interface hooks at loopback.
func adoptLoopback(t testing.TB, s *Service) {
	lo := loopback(t)
	s.links = func() ([]Link, error) { return []Link{lo}, nil }
	s.watch = func(context.Context) (<-chan struct{}, error) { return make(chan struct{}), nil }
	s.bind = os.Getuid() == 0
}

// fakeIMDS is a scriptable metadata server on 127.0.0.1.
type fakeIMDS struct {
	*httptest.Server
	mu       sync.Mutex
	values   map[string]string
	puts     atomic.Int64
	gets     atomic.Int64
	token    string
	ttls     []string
	tokens   []string                                          // token header of each GET
	handler  func(w http.ResponseWriter, r *http.Request) bool // true: handled
	tokenHdr string
}

func newFakeIMDS(t testing.TB) *fakeIMDS {
	f := &fakeIMDS{values: map[string]string{"/hostname": "piff"}, token: "tok-1", tokenHdr: "X-Tok"}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeIMDS) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && r.URL.Path == "/token" {
		f.puts.Add(1)
		f.mu.Lock()
		f.ttls = append(f.ttls, r.Header.Get("X-Ttl"))
		tok := f.token
		f.mu.Unlock()
		io.WriteString(w, tok)
		return
	}
	f.gets.Add(1)
	f.mu.Lock()
	f.tokens = append(f.tokens, r.Header.Get(f.tokenHdr))
	h := f.handler
	v, ok := f.values[r.URL.Path]
	f.mu.Unlock()
	if h != nil && h(w, r) {
		return
	}
	if !ok {
		http.Error(w, "not here", http.StatusNotFound)
		return
	}
	io.WriteString(w, v)
}

func (f *fakeIMDS) set(fn func(f *fakeIMDS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func ptr[T any](v T) *T { return &v }
