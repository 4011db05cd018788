package imdsd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func get(t testing.TB, s *Service, p GetParams) ([]byte, error) {
	t.Helper()
	data, _, err := s.Get(context.Background(), p)
	return data, err
}

func TestGetPlain(t *testing.T) {
	f := newFakeIMDS(t)
	s := newTestService(t, f.URL, nil)
	data, idx, err := s.Get(context.Background(), GetParams{Key: ptr("/hostname")})
	if err != nil || string(data) != "piff" {
		t.Fatalf("Get = %q, %v", data, err)
	}
	if idx != loopback(t).Index {
		t.Errorf("interface %d, want loopback's %d", idx, loopback(t).Index)
	}
}

func tokenService(t testing.TB, f *fakeIMDS, extra func(*Options)) *Service {
	return newTestService(t, f.URL, func(o *Options) {
		o.Endpoint.Set("token_url", f.URL+"/token")
		o.Endpoint.Set("token_header_name", "X-Tok")
		o.Endpoint.Set("refresh_header_name", "X-Ttl")
		o.Endpoint.Set("extra_header", "Metadata: true")
		if extra != nil {
			extra(o)
		}
	})
}

func TestTokenOnePutForManyGets(t *testing.T) {
	f := newFakeIMDS(t)
	var sawExtra atomic.Bool
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		sawExtra.Store(r.Header.Get("Metadata") == "true")
		return false
	}
	s := tokenService(t, f, nil)
	var now atomic.Int64
	now.Store(int64(time.Hour))
	s.now = func() time.Duration { return time.Duration(now.Add(int64(2 * time.Second))) }
	if _, err := get(t, s, GetParams{Key: ptr("/hostname")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		// Values are refetched each time (1 s refresh, and the clock is frozen past it), the
		// token is not.
		if _, err := get(t, s, GetParams{Key: ptr("/hostname"), RefreshUSec: ptr(int64(1))}); err != nil {
			t.Fatal(err)
		}
	}
	// Concurrent requests share the token too.
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			get(t, s, GetParams{Key: ptr("/hostname"), RefreshUSec: ptr(int64(1))})
		}()
	}
	wg.Wait()
	if n := f.puts.Load(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
	if f.ttls[0] != "900" {
		t.Errorf("TTL header %q, want 900 (15 min)", f.ttls[0])
	}
	for _, tok := range f.tokens {
		if tok != "tok-1" {
			t.Fatalf("data request with token %q", tok)
		}
	}
	if !sawExtra.Load() {
		t.Error("extra header missing")
	}
}

func TestTokenTTLIsCeilOfRefresh(t *testing.T) {
	f := newFakeIMDS(t)
	s := tokenService(t, f, func(o *Options) { o.Refresh = 1500 * time.Millisecond })
	if _, err := get(t, s, GetParams{Key: ptr("/hostname")}); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, s, GetParams{Key: ptr("/x"), RefreshUSec: ptr(int64(2_100_000)), Cache: ptr(false)}); !errors.Is(err, ErrKeyNotFound) {
		t.Fatal(err)
	}
	if strings.Join(f.ttls, ",") != "2,3" {
		t.Errorf("TTL headers %v, want [2 3]", f.ttls)
	}
}

func TestTokenRefetchedAfter401(t *testing.T) {
	f := newFakeIMDS(t)
	rejected := 0
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("X-Tok") == "tok-1" {
			rejected++
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		return false
	}
	s := tokenService(t, f, nil)
	f.set(func(f *fakeIMDS) { f.token = "tok-1" })
	if _, err := get(t, s, GetParams{Key: ptr("/hostname")}); err == nil {
		t.Fatal("a token always rejected must fail eventually")
	}
	if f.puts.Load() < 2 {
		t.Errorf("%d token requests after 401s, want a new one per retry", f.puts.Load())
	}
	f.set(func(f *fakeIMDS) { f.token = "tok-2" })
	before := f.puts.Load()
	data, err := get(t, s, GetParams{Key: ptr("/hostname"), Cache: ptr(false)})
	if err != nil || string(data) != "piff" {
		t.Fatalf("Get = %q, %v", data, err)
	}
	if f.puts.Load() != before+1 {
		t.Errorf("token requests %d → %d, want one more", before, f.puts.Load())
	}
	if _, err := os.Stat(filepath.Join(s.cache.dir, "cache", "lo", "token")); err != nil {
		t.Errorf("token file: %v", err)
	}
}

func TestRetries(t *testing.T) {
	for _, code := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		f := newFakeIMDS(t)
		fails := 5
		f.handler = func(w http.ResponseWriter, r *http.Request) bool {
			if fails > 0 {
				fails--
				w.WriteHeader(code)
				return true
			}
			return false
		}
		s := newTestService(t, f.URL, nil)
		data, err := get(t, s, GetParams{Key: ptr("/hostname")})
		if err != nil || string(data) != "piff" {
			t.Fatalf("%d ×5 then 200: %q, %v", code, data, err)
		}
		if n := f.gets.Load(); n != 6 {
			t.Errorf("%d: %d requests, want 6", code, n)
		}
	}
}

func TestRetriesExhausted(t *testing.T) {
	f := newFakeIMDS(t)
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	s := newTestService(t, f.URL, func(o *Options) { o.Timing.Retries = 3 })
	_, err := get(t, s, GetParams{Key: ptr("/hostname")})
	if !errors.Is(err, unix.EUCLEAN) {
		t.Errorf("err = %v, want EUCLEAN", err)
	}
	if n := f.gets.Load(); n != 4 {
		t.Errorf("%d requests, want 1 + 3 retries", n)
	}
}

func TestRetryBackoff(t *testing.T) {
	f := newFakeIMDS(t)
	var times []time.Time
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		times = append(times, time.Now())
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	s := newTestService(t, f.URL, func(o *Options) {
		o.Timing.RetryInitial = 20 * time.Millisecond
		o.Timing.RetryMax = 80 * time.Millisecond
		o.Timing.Retries = 5
	})
	get(t, s, GetParams{Key: ptr("/hostname")})
	want := []time.Duration{20, 40, 80, 80, 80}
	if len(times) != 6 {
		t.Fatalf("%d requests, want 6", len(times))
	}
	for i, w := range want {
		gap := times[i+1].Sub(times[i])
		if gap < w*time.Millisecond {
			t.Errorf("pause %d: %v, want at least %v ms", i, gap, w)
		}
	}
}

func TestConnectionFailuresRetried(t *testing.T) {
	// A port nobody listens on: refused, retried, then given up.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	s := newTestService(t, "http://"+addr, func(o *Options) { o.Timing.Retries = 2 })
	if _, err := get(t, s, GetParams{Key: ptr("/x")}); !errors.Is(err, unix.EUCLEAN) {
		t.Errorf("refused: %v, want EUCLEAN after retries", err)
	}

	// A server that hangs up without answering twice, then answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for i := 0; ; i++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if i < 2 {
				c.Close()
				continue
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				c.Read(buf)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			}()
		}
	}()
	s = newTestService(t, "http://"+l.Addr().String(), nil)
	data, err := get(t, s, GetParams{Key: ptr("/x")})
	if err != nil || string(data) != "ok" {
		t.Errorf("after empty replies: %q, %v", data, err)
	}
}

func TestStatusMapping(t *testing.T) {
	f := newFakeIMDS(t)
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/forbidden":
			w.WriteHeader(http.StatusForbidden)
		case "/error":
			w.WriteHeader(http.StatusInternalServerError)
		case "/redirect":
			http.Redirect(w, r, "/hostname", http.StatusFound)
		case "/unauthorized":
			w.WriteHeader(http.StatusUnauthorized)
		case "/empty":
			w.WriteHeader(http.StatusOK)
		default:
			return false
		}
		return true
	}
	s := newTestService(t, f.URL, nil)
	for _, tc := range []struct {
		key  string
		want error
	}{
		{"/forbidden", ErrNotAvailable},
		{"/nothere", ErrKeyNotFound},
		{"/error", unix.EIO},
		{"/redirect", unix.EIO},
		{"/unauthorized", unix.EIO}, // no token URL: nothing to refresh
	} {
		if _, err := get(t, s, GetParams{Key: ptr(tc.key)}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.key, err, tc.want)
		}
	}
	if data, err := get(t, s, GetParams{Key: ptr("/empty")}); err != nil || len(data) != 0 {
		t.Errorf("empty 200: %q, %v", data, err)
	}
}

func TestNegativeCache(t *testing.T) {
	f := newFakeIMDS(t)
	forbidden := 0
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/forbidden" {
			forbidden++
			w.WriteHeader(http.StatusForbidden)
			return true
		}
		return false
	}
	s := newTestService(t, f.URL, nil)
	for i := 0; i < 3; i++ {
		if _, err := get(t, s, GetParams{Key: ptr("/nothere")}); !errors.Is(err, ErrKeyNotFound) {
			t.Fatal(err)
		}
	}
	if n := f.gets.Load(); n != 1 {
		t.Errorf("404 asked %d times, want once (negative cache)", n)
	}
	get(t, s, GetParams{Key: ptr("/nothere"), Cache: ptr(false)})
	if n := f.gets.Load(); n != 2 {
		t.Errorf("cache=false did not ask again (%d requests)", n)
	}
	get(t, s, GetParams{Key: ptr("/forbidden")})
	get(t, s, GetParams{Key: ptr("/forbidden")})
	if forbidden != 2 {
		t.Errorf("403 asked %d times, want every time (not cached)", forbidden)
	}
}

func TestCacheRefresh(t *testing.T) {
	f := newFakeIMDS(t)
	s := newTestService(t, f.URL, nil)
	now := time.Hour
	s.now = func() time.Duration { return now }
	get(t, s, GetParams{Key: ptr("/hostname")})
	now += 500 * time.Millisecond
	get(t, s, GetParams{Key: ptr("/hostname"), RefreshUSec: ptr(int64(1))}) // raised to 1 s: still fresh
	if n := f.gets.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	now += time.Second
	get(t, s, GetParams{Key: ptr("/hostname"), RefreshUSec: ptr(int64(1))})
	if n := f.gets.Load(); n != 2 {
		t.Errorf("stale value not refetched: %d requests", n)
	}
	now += 10 * time.Minute
	get(t, s, GetParams{Key: ptr("/hostname")}) // default refresh 15 min
	if n := f.gets.Load(); n != 2 {
		t.Errorf("fresh value refetched: %d requests", n)
	}
}

func TestBodyLimit(t *testing.T) {
	f := newFakeIMDS(t)
	big := bytes.Repeat([]byte("a"), MaxBody)
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/exact":
			w.Write(big)
		case "/over":
			w.Write(append(big, 'b'))
		case "/over-chunked":
			w.Header().Set("Transfer-Encoding", "chunked")
			w.(http.Flusher).Flush()
			w.Write(big)
			w.Write([]byte("b"))
		default:
			return false
		}
		return true
	}
	s := newTestService(t, f.URL, nil)
	if data, err := get(t, s, GetParams{Key: ptr("/exact")}); err != nil || len(data) != MaxBody {
		t.Errorf("4 MiB: %d bytes, %v", len(data), err)
	}
	for _, k := range []string{"/over", "/over-chunked"} {
		if _, err := get(t, s, GetParams{Key: ptr(k)}); !errors.Is(err, unix.E2BIG) {
			t.Errorf("%s: %v, want E2BIG", k, err)
		}
	}
	if data, err := get(t, s, GetParams{Key: ptr("/hostname")}); err != nil || string(data) != "piff" {
		t.Errorf("after oversized replies: %q, %v", data, err)
	}
}

func TestHangTimesOut(t *testing.T) {
	f := newFakeIMDS(t)
	release := make(chan struct{})
	defer close(release)
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	}
	s := newTestService(t, f.URL, func(o *Options) {
		o.Timing.Timeout = 300 * time.Millisecond
		o.Timing.TimeoutScan = 400 * time.Millisecond
	})
	for _, p := range []GetParams{
		{Key: ptr("/hang")}, // scans the interfaces: TimeoutScan
		{Key: ptr("/hang"), Interface: ptr(int64(loopback(t).Index))}, // known interface: Timeout
	} {
		start := time.Now()
		_, err := get(t, s, p)
		took := time.Since(start)
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("err = %v, want ErrTimeout", err)
		}
		if took > 5*time.Second {
			t.Errorf("took %v", took)
		}
	}
}

func TestCacheSurvivesRestart(t *testing.T) {
	f := newFakeIMDS(t)
	s := tokenService(t, f, nil)
	get(t, s, GetParams{Key: ptr("/hostname")})
	get(t, s, GetParams{Key: ptr("/nothere")})
	if f.gets.Load() != 2 || f.puts.Load() != 1 {
		t.Fatalf("first run: %d GETs, %d PUTs", f.gets.Load(), f.puts.Load())
	}
	// A new service on the same runtime directory, as after a restart.
	s2 := tokenService(t, f, func(o *Options) { o.RuntimeDir = s.cache.dir })
	if data, err := get(t, s2, GetParams{Key: ptr("/hostname")}); err != nil || string(data) != "piff" {
		t.Fatalf("after restart: %q, %v", data, err)
	}
	if _, err := get(t, s2, GetParams{Key: ptr("/nothere")}); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("negative entry after restart: %v", err)
	}
	if f.gets.Load() != 2 {
		t.Errorf("restarted service asked again: %d GETs", f.gets.Load())
	}
	// The token survives as well.
	get(t, s2, GetParams{Key: ptr("/other"), Cache: ptr(true)})
	if f.puts.Load() != 1 {
		t.Errorf("restarted service fetched a new token (%d PUTs)", f.puts.Load())
	}
	err := filepath.Walk(filepath.Join(s.cache.dir, "cache"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
	if fi, err := os.Stat(filepath.Join(s.cache.dir, "cache", "lo")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache directory: %v %v, want mode 0700", fi.Mode(), err)
	}
	if s.cache.pinned() != "lo" {
		t.Errorf("pinned interface %q, want lo", s.cache.pinned())
	}
	// Another endpoint does not see these answers.
	f2 := newFakeIMDS(t)
	s3 := newTestService(t, f2.URL, func(o *Options) { o.RuntimeDir = s.cache.dir })
	get(t, s3, GetParams{Key: ptr("/hostname")})
	if f2.gets.Load() != 1 {
		t.Error("answer of another endpoint served from cache")
	}
}

func TestWellKnownKeysAndSupport(t *testing.T) {
	f := newFakeIMDS(t)
	f.values["/meta/hostname"] = "h"
	f.values["/ud/custom"] = "u"
	f.values["/ud"] = "all"
	s := newTestService(t, f.URL, func(o *Options) {
		o.Endpoint.SetWellKnownKey("hostname:/meta/hostname")
		o.Endpoint.SetWellKnownKey("userdata-base:/ud")
	})
	for _, tc := range []struct {
		p    GetParams
		want string
		err  error
	}{
		{GetParams{WellKnown: ptr("hostname")}, "h", nil},
		{GetParams{WellKnown: ptr("userdata_base"), Key: ptr("/custom")}, "u", nil},
		{GetParams{WellKnown: ptr("userdata_base")}, "all", nil},
		{GetParams{WellKnown: ptr("base"), Key: ptr("/ud")}, "all", nil},
		{GetParams{WellKnown: ptr("base")}, "", ErrWellKnownKeyUnset},
		{GetParams{WellKnown: ptr("region")}, "", ErrWellKnownKeyUnset},
		{GetParams{WellKnown: ptr("hostname"), Key: ptr("/x")}, "", &InvalidParameterError{"key"}},
		{GetParams{}, "", &InvalidParameterError{"key"}},
	} {
		data, err := get(t, s, tc.p)
		var ip, wantIP *InvalidParameterError
		switch {
		case errors.As(tc.err, &wantIP):
			if !errors.As(err, &ip) || ip.Parameter != wantIP.Parameter {
				t.Errorf("%+v: %v, want %v", tc.p, err, tc.err)
			}
		case tc.err != nil:
			if !errors.Is(err, tc.err) {
				t.Errorf("%+v: %v, want %v", tc.p, err, tc.err)
			}
		case err != nil || string(data) != tc.want:
			t.Errorf("%+v: %q, %v; want %q", tc.p, data, err, tc.want)
		}
	}

	for _, setup := range []func(o *Options){
		func(o *Options) { o.Endpoint.Set("data_url", "") },
		func(o *Options) { o.Endpoint.Set("token_url", "http://127.0.0.1:1/t") },
		func(o *Options) { o.Endpoint.Set("token_header_name", "X") },
	} {
		s := newTestService(t, f.URL, setup)
		if _, err := get(t, s, GetParams{Key: ptr("/hostname")}); !errors.Is(err, ErrNotSupported) {
			t.Errorf("incomplete endpoint: %v, want ErrNotSupported", err)
		}
	}
}

func TestKeyValidation(t *testing.T) {
	s := newTestService(t, "http://127.0.0.1:1", nil)
	for _, tc := range []struct {
		p     GetParams
		param string
	}{
		{GetParams{Key: ptr("x")}, "key"},
		{GetParams{Key: ptr("")}, "key"},
		{GetParams{Key: ptr("/a\x01")}, "key"},
		{GetParams{Key: ptr("/a\x7f")}, "key"},
		{GetParams{Key: ptr("/ä")}, "key"},
		{GetParams{Key: ptr("/x"), WellKnown: ptr("hostname")}, "key"},
		{GetParams{Key: ptr("/x"), WellKnown: ptr("ipv4-public")}, "wellKnown"},
		{GetParams{Key: ptr("/x"), Interface: ptr(int64(0))}, "interface"},
		{GetParams{Key: ptr("/x"), Interface: ptr(int64(-1))}, "interface"},
		{GetParams{Key: ptr("/x"), Interface: ptr(int64(1 << 40))}, "interface"},
		{GetParams{Key: ptr("/x"), RefreshUSec: ptr(int64(-5))}, "refreshUSec"},
		{GetParams{Key: ptr("/x"), FirewallMark: ptr(int64(-1))}, "firewallMark"},
		{GetParams{Key: ptr("/x"), FirewallMark: ptr(int64(1 << 32))}, "firewallMark"},
	} {
		_, err := get(t, s, tc.p)
		var ip *InvalidParameterError
		if !errors.As(err, &ip) || ip.Parameter != tc.param {
			t.Errorf("%+v: %v, want InvalidParameter %s", tc.p, err, tc.param)
		}
	}
	// Accepted: a space is printable ASCII; refresh 0 is raised to 1 s; mark 0 means none.
	for _, p := range []GetParams{
		{Key: ptr("/a b"), RefreshUSec: ptr(int64(0)), FirewallMark: ptr(int64(0))},
	} {
		if _, err := p.validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

func TestScanWaitsForAnInterface(t *testing.T) {
	f := newFakeIMDS(t)
	s := newTestService(t, f.URL, func(o *Options) { o.Timing.TimeoutScan = 300 * time.Millisecond })
	lo := loopback(t)
	var mu sync.Mutex
	var have []Link
	s.links = func() ([]Link, error) {
		mu.Lock()
		defer mu.Unlock()
		return have, nil
	}
	ev := make(chan struct{}, 1)
	s.watch = func(context.Context) (<-chan struct{}, error) { return ev, nil }

	// No interface at all: wait until the deadline, wait=true or not.
	if _, err := get(t, s, GetParams{Key: ptr("/hostname")}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("no interface: %v, want ErrTimeout", err)
	}
	s.timing.TimeoutScan = 5 * time.Second
	go func() {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		have = []Link{lo}
		mu.Unlock()
		ev <- struct{}{}
	}()
	data, idx, err := s.Get(context.Background(), GetParams{Key: ptr("/hostname"), Wait: ptr(true)})
	if err != nil || string(data) != "piff" || idx != lo.Index {
		t.Fatalf("after the interface appeared: %q %d %v", data, idx, err)
	}
}

func TestScanFirstSuccessWinsAndPassThrough(t *testing.T) {
	f := newFakeIMDS(t)
	s := newTestService(t, f.URL, nil)
	s.bind = false // three fake interfaces, all reaching the server through loopback
	s.links = func() ([]Link, error) {
		return []Link{{Index: 101, Name: "fake1"}, {Index: 102, Name: "fake2"}, {Index: 103, Name: "fake3"}}, nil
	}
	data, idx, err := s.Get(context.Background(), GetParams{Key: ptr("/hostname")})
	if err != nil || string(data) != "piff" || idx < 101 || idx > 103 {
		t.Fatalf("scan: %q %d %v", data, idx, err)
	}
	pinned := s.cache.pinned()
	if pinned == "" {
		t.Fatal("no interface pinned after a success")
	}
	// The pinned interface is used from now on; it no longer exists, so the scan runs again.
	s.byName = func(name string) (Link, error) { return Link{}, errors.New("gone") }
	if _, _, err := s.Get(context.Background(), GetParams{Key: ptr("/nothere")}); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("404 during a scan: %v", err)
	}
	if n := f.gets.Load(); n > 3+3 {
		t.Errorf("%d requests", n)
	}
}

func TestSetupNetworkRequiresEndpoint(t *testing.T) {
	o := Options{Root: t.TempDir(), Getenv: noEnv, Log: testLogger()}
	t.Setenv("SYSTEMD_PROC_CMDLINE", "")
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	if code := SetupNetwork(o); code != ExitNotConfigured {
		t.Errorf("no endpoint: exit %d, want %d", code, ExitNotConfigured)
	}
	o.Endpoint.Set("vendor", "x")
	if code := SetupNetwork(o); code != ExitNotConfigured {
		t.Errorf("no data URL: exit %d, want %d", code, ExitNotConfigured)
	}
}

func TestQuery(t *testing.T) {
	f := newFakeIMDS(t)
	t.Setenv("SYSTEMD_PROC_CMDLINE", "")
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	var out bytes.Buffer
	o := Options{Root: t.TempDir(), Getenv: noEnv, Log: testLogger(), Key: "/hostname", Interface: "lo", Stdout: &out, Timing: fastTiming}
	o.Endpoint.Set("data_url", f.URL)
	if os.Getuid() != 0 {
		o.FirewallMark = ptr(uint32(0))
	}
	if code := Query(context.Background(), o); code != 0 || out.String() != "piff" {
		t.Errorf("Query: exit %d, output %q", code, out.String())
	}
	o.Key = "nokey"
	if code := Query(context.Background(), o); code != ExitFailure {
		t.Errorf("invalid key: exit %d", code)
	}
	o.Key, o.WellKnown = "", "hostname"
	if code := Query(context.Background(), o); code != ExitFailure {
		t.Errorf("unset well-known key: exit %d", code)
	}
	o.WellKnown = "ipv4_public"
	if code := Query(context.Background(), o); code != ExitFailure {
		t.Errorf("underscore name: exit %d", code)
	}
	o.Endpoint = Layer{}
	o.WellKnown = ""
	o.Key = "/hostname"
	if code := Query(context.Background(), o); code != ExitNotConfigured {
		t.Errorf("no endpoint: exit %d", code)
	}
}

func TestMemoryCacheBounded(t *testing.T) {
	c := newCache("", testLogger())
	big := bytes.Repeat([]byte("x"), 1<<20)
	for i := 0; i < 100; i++ {
		c.remember(fmt.Sprint(i), &entry{Key: fmt.Sprint(i), Data: big})
	}
	if c.memBytes > maxMemBytes || len(c.mem) > maxMemBytes/len(big) {
		t.Errorf("%d entries, %d bytes in memory", len(c.mem), c.memBytes)
	}
	sum := 0
	for _, e := range c.mem {
		sum += len(e.Data)
	}
	if sum != c.memBytes {
		t.Errorf("accounted %d bytes, hold %d", c.memBytes, sum)
	}
	for i := 0; i < 2*maxMemEntries; i++ {
		c.remember(fmt.Sprint("k", i), &entry{Data: []byte("v")})
	}
	if len(c.mem) > maxMemEntries {
		t.Errorf("%d entries", len(c.mem))
	}
}
