package fakecloud

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
)

// hetzner needs no headers, which keeps the fault tests short.
const plain = "hetzner-cloud"

func hostnameURL(ep Endpoint) string { return ep.URL("/hostname") }

func TestFaultStatusThenNormal(t *testing.T) {
	for _, status := range []int{503, 429} {
		s, ep := start(t, plain)
		if err := s.SetFault(Fault{Mode: FaultStatus, Status: status, Count: 3}); err != nil {
			t.Fatal(err)
		}
		var got []int
		for range 5 {
			resp, _ := do(t, nil, "GET", hostnameURL(ep))
			got = append(got, resp.StatusCode)
		}
		want := []int{status, status, status, 200, 200}
		if !equalInts(got, want) {
			t.Errorf("statuses %v, want %v", got, want)
		}
		if n := s.Requests("/hetzner/v1/metadata/hostname"); n != 5 {
			t.Errorf("Requests = %d, want 5", n)
		}
		if f := s.Faults(); len(f) != 0 {
			t.Errorf("fault left after its count: %v", f)
		}
	}
}

func TestFaultStatusDefaultAndFilters(t *testing.T) {
	s, ep := start(t, "amazon-ec2")
	// Only token PUTs fail, with the default 503, forever.
	if err := s.SetFault(Fault{Mode: FaultStatus, Method: "put"}); err != nil {
		t.Fatal(err)
	}
	resp, _ := do(t, nil, "PUT", ep.TokenURL, ep.RefreshHeaderName, "60")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("token PUT = %d %v", resp.StatusCode, resp.Header)
	}
	if f := s.Faults(); len(f) != 1 || f[0].Method != "PUT" || f[0].Status != 503 {
		t.Errorf("Faults = %+v", f)
	}
	resp, _ = do(t, nil, "GET", ep.URL("/meta-data/hostname"))
	if resp.StatusCode != 401 {
		t.Errorf("GET under a PUT-only fault = %d, want 401 (no token)", resp.StatusCode)
	}
	// Prefix paths.
	s.ClearFaults()
	if err := s.SetFault(Fault{Mode: FaultStatus, Status: 500, Path: "/latest/meta-data/*"}); err != nil {
		t.Fatal(err)
	}
	tok := token(t, ep.TokenURL, ep.RefreshHeaderName, "60")
	for path, want := range map[string]int{"/meta-data/placement/region": 500, "/user-data": 200} {
		resp, _ := do(t, nil, "GET", ep.URL(path), ep.TokenHeaderName, tok)
		if resp.StatusCode != want {
			t.Errorf("%s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestFaultValidation(t *testing.T) {
	s, _ := start(t, plain)
	for _, f := range []Fault{
		{Mode: "bogus"},
		{Mode: FaultLatency},
		{Mode: FaultStatus, Status: 99},
		{Mode: FaultStatus, Count: -1},
		{Mode: FaultOversize, Size: -5},
	} {
		if err := s.SetFault(f); err == nil {
			t.Errorf("SetFault(%+v) accepted", f)
		}
	}
	if err := s.SetFault(Fault{Mode: FaultOversize}); err != nil {
		t.Fatal(err)
	}
	if f := s.Faults(); len(f) != 1 || f[0].Size != DefaultOversize {
		t.Errorf("Faults = %+v", f)
	}
	if err := s.SetFault(Fault{}); err != nil || len(s.Faults()) != 0 {
		t.Errorf("zero fault did not clear: %v %v", err, s.Faults())
	}
}

func TestFaultLatency(t *testing.T) {
	s, ep := start(t, plain)
	if err := s.SetFault(Fault{Mode: FaultLatency, Delay: 150 * time.Millisecond, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddFault(Fault{Mode: FaultLatency, Delay: 100 * time.Millisecond, Path: "/nowhere"}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	resp, body := do(t, nil, "GET", hostnameURL(ep))
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("answered after %v, want ≥ 150ms", d)
	}
	if resp.StatusCode != 200 || body != s.Instance().Hostname {
		t.Errorf("delayed answer %d %q", resp.StatusCode, body)
	}
	if f := s.Faults(); len(f) != 1 || f[0].Path != "/nowhere" {
		t.Errorf("Faults = %+v", f)
	}
	log := s.RequestLog()
	if len(log) != 1 || log[0].Fault != FaultLatency || log[0].Status != 200 {
		t.Errorf("log = %+v", log)
	}
}

func TestFaultReset(t *testing.T) {
	s, ep := start(t, plain)
	if err := s.SetFault(Fault{Mode: FaultReset, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := freshClient(5 * time.Second).Get(hostnameURL(ep))
	if err == nil {
		t.Fatal("no error from a reset connection")
	}
	t.Logf("client saw: %v", err)
	resp, _ := do(t, nil, "GET", hostnameURL(ep))
	if resp.StatusCode != 200 {
		t.Errorf("after the reset: %d", resp.StatusCode)
	}
	if log := s.RequestLog(); log[0].Status != 0 || log[0].Fault != FaultReset {
		t.Errorf("log = %+v", log[0])
	}
}

func TestFaultHang(t *testing.T) {
	s, ep := start(t, plain)
	if err := s.SetFault(Fault{Mode: FaultHang}); err != nil {
		t.Fatal(err)
	}
	_, err := freshClient(300 * time.Millisecond).Get(hostnameURL(ep))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("client error %v, want a timeout", err)
	}
	// A hanging request without client timeout is released, unanswered, by Close.
	done := make(chan error, 1)
	go func() {
		_, err := freshClient(0).Get(hostnameURL(ep))
		done <- err
	}()
	harness.Eventually(t, "the hanging request at the server", 10*time.Second, func() bool { return s.Requests("/hetzner/v1/metadata/hostname") >= 2 })
	time.Sleep(20 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("hanging request got an answer after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the hanging request")
	}
}

func TestFaultTruncate(t *testing.T) {
	s, ep := start(t, plain)
	if err := s.SetFault(Fault{Mode: FaultTruncate, Path: "/hetzner/v1/userdata"}); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{base(ep) + "/hetzner/v1/userdata", ep.URL("/nope")} {
		resp, err := freshClient(5 * time.Second).Get(url)
		if strings.HasSuffix(url, "/nope") {
			if err != nil || resp.StatusCode != 404 {
				t.Errorf("unfaulted path: %v %v", resp, err)
			} else {
				resp.Body.Close()
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("reading a truncated body: %v, want unexpected EOF", err)
		}
		if resp.ContentLength <= int64(len(body)) || !strings.HasPrefix(string(s.Instance().UserData), string(body)) {
			t.Errorf("Content-Length %d, got %d bytes %q", resp.ContentLength, len(body), body)
		}
	}
	// A short body (here: empty) is announced longer than it is.
	s.UpdateInstance(func(in *Instance) { in.UserData = []byte("x") })
	resp, err := freshClient(5 * time.Second).Get(base(ep) + "/hetzner/v1/userdata")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short body: %v", err)
	}
}

func TestFaultOversize(t *testing.T) {
	s, ep := start(t, plain)
	if err := s.SetFault(Fault{Mode: FaultOversize, Path: "/hetzner/v1/userdata", Count: 1}); err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, nil, "GET", base(ep)+"/hetzner/v1/userdata")
	if resp.StatusCode != 200 || len(body) != DefaultOversize || len(body) <= 4<<20 {
		t.Errorf("oversize: %d, %d bytes", resp.StatusCode, len(body))
	}
	_, body = do(t, nil, "GET", base(ep)+"/hetzner/v1/userdata")
	if body != string(s.Instance().UserData) {
		t.Errorf("after the oversize answer: %q", body)
	}
}

// TestCounters checks the assertions tests make on a client: exactly one token PUT, a 404
// fetched once.
func TestCounters(t *testing.T) {
	s, ep := start(t, "amazon-ec2", WithInstance(func(in *Instance) { in.PublicIPv6 = "" }))
	c := newIMDSClient(ep, nil)
	for range 3 {
		if st, _, _ := c.get("/meta-data/hostname"); st != 200 {
			t.Fatalf("hostname: %d", st)
		}
	}
	if st, _, _ := c.get("/meta-data/ipv6"); st != 404 {
		t.Fatalf("ipv6: %d, want 404", st)
	}
	if n := s.RequestsByMethod("PUT", "/latest/api/token"); n != 1 {
		t.Errorf("token PUTs = %d", n)
	}
	if n := s.RequestsByMethod("GET", "/latest/meta-data/hostname"); n != 3 {
		t.Errorf("hostname GETs = %d", n)
	}
	if n := s.Requests("/latest/meta-data/ipv6"); n != 1 {
		t.Errorf("ipv6 requests = %d", n)
	}
	if n := s.TotalRequests(); n != 5 {
		t.Errorf("total = %d", n)
	}
	counts := s.RequestCounts()
	if counts["GET /latest/meta-data/hostname"] != 3 || len(counts) != 3 {
		t.Errorf("counts = %v", counts)
	}
	log := s.RequestLog()
	if len(log) != 5 || log[0].Method != "PUT" || log[0].Header.Get("X-aws-ec2-metadata-token-ttl-seconds") != "900" || log[4].Status != 404 {
		t.Errorf("log = %+v", log)
	}
	s.ResetRequests()
	if s.TotalRequests() != 0 || len(s.RequestCounts()) != 0 || len(s.RequestLog()) != 0 {
		t.Error("ResetRequests left data")
	}
}

func TestServeAndClose(t *testing.T) {
	s, err := New("google-gcp")
	if err != nil {
		t.Fatal(err)
	}
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- s.Serve(l1) }()
	go func() { errs <- s.Serve(l2) }()
	for _, l := range []net.Listener{l1, l2} {
		resp, body := do(t, nil, "GET", "http://"+l.Addr().String()+"/computeMetadata/v1/instance/hostname", "Metadata-Flavor", "Google")
		if resp.StatusCode != 200 || body != "google-gcp-test-host" {
			t.Errorf("%s: %d %q", l.Addr(), resp.StatusCode, body)
		}
	}
	if err := s.SetFault(Fault{Mode: FaultHang}); err != nil {
		t.Fatal(err)
	}
	hung := make(chan error, 1)
	go func() {
		_, err := freshClient(0).Get("http://" + l1.Addr().String() + "/")
		hung <- err
	}()
	harness.Eventually(t, "three requests at the server", 10*time.Second, func() bool { return s.TotalRequests() >= 3 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	}
	if err := <-hung; err == nil {
		t.Error("hanging request answered")
	}
	if err := s.Serve(l1); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := net.Dial("tcp", l1.Addr().String()); err == nil {
		t.Error("listener still open after Close")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
