package fakecloud

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestControl(t *testing.T) {
	s, ep := start(t, plain)
	ctl := httptest.NewServer(s.ControlHandler())
	t.Cleanup(ctl.Close)
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, ctl.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if st, body := call("POST", "/_fault?mode=status&status=429&count=2&path=/hetzner/v1/metadata/hostname", ""); st != 200 || !strings.Contains(body, `"count": 2`) {
		t.Fatalf("set fault: %d %s", st, body)
	}
	var got []int
	for range 3 {
		resp, _ := do(t, nil, "GET", hostnameURL(ep))
		got = append(got, resp.StatusCode)
	}
	if !equalInts(got, []int{429, 429, 200}) {
		t.Errorf("statuses %v", got)
	}
	if st, body := call("GET", "/_requests?path=/hetzner/v1/metadata/hostname", ""); st != 200 || !strings.Contains(body, `"count": 3`) {
		t.Errorf("requests: %d %s", st, body)
	}
	if st, body := call("GET", "/_requests?path=/hetzner/v1/metadata/hostname&method=PUT", ""); st != 200 || !strings.Contains(body, `"count": 0`) {
		t.Errorf("requests by method: %d %s", st, body)
	}
	if st, body := call("GET", "/_requests", ""); st != 200 || !strings.Contains(body, `"GET /hetzner/v1/metadata/hostname": 3`) {
		t.Errorf("all requests: %d %s", st, body)
	}
	if st, body := call("GET", "/_log", ""); st != 200 || strings.Count(body, `"method": "GET"`) != 3 {
		t.Errorf("log: %d %s", st, body)
	}
	if st, _ := call("DELETE", "/_requests", ""); st != 200 || s.TotalRequests() != 0 {
		t.Errorf("reset: %d", st)
	}

	// Faults: add, list, clear; expire-tokens; errors.
	call("POST", "/_fault?mode=latency&delay=20", "")
	call("POST", "/_fault?mode=hang&path=/x&add=1", "")
	if f := s.Faults(); len(f) != 2 || f[0].Delay != 20*time.Millisecond || f[1].Mode != FaultHang {
		t.Errorf("faults %+v", f)
	}
	if st, body := call("GET", "/_fault", ""); st != 200 || !strings.Contains(body, `"mode": "hang"`) {
		t.Errorf("list: %d %s", st, body)
	}
	if st, _ := call("DELETE", "/_fault", ""); st != 200 || len(s.Faults()) != 0 {
		t.Errorf("clear: %d %v", st, s.Faults())
	}
	call("POST", "/_fault?mode=oversize&size=10", "")
	if st, _ := call("POST", "/_fault?mode=none", ""); st != 200 || len(s.Faults()) != 0 {
		t.Errorf("mode=none: %d %v", st, s.Faults())
	}
	for _, bad := range []string{"", "?mode=nonsense", "?mode=status&status=x", "?mode=latency", "?mode=latency&delay=soon", "?mode=oversize&size=big"} {
		if st, _ := call("POST", "/_fault"+bad, ""); st != 400 {
			t.Errorf("POST /_fault%s = %d, want 400", bad, st)
		}
	}
	if st, _ := call("GET", "/_nothing", ""); st != 404 {
		t.Errorf("unknown control path: %d", st)
	}

	// Instance and user data.
	if st, body := call("POST", "/_instance", `{"hostname":"renamed","region":"eu-west"}`); st != 200 || !strings.Contains(body, `"renamed"`) {
		t.Errorf("instance: %d %s", st, body)
	}
	if _, body := do(t, nil, "GET", hostnameURL(ep)); body != "renamed" {
		t.Errorf("hostname after POST /_instance: %q", body)
	}
	if in := s.Instance(); in.Region != "eu-west" || in.Zone != "fsn1-dc14" {
		t.Errorf("merge lost fields: %+v", in)
	}
	if st, _ := call("POST", "/_instance", `{"hostname":`); st != 400 {
		t.Errorf("bad JSON: %d", st)
	}
	call("PUT", "/_userdata", "#systemd-userdata\nnew\n")
	if _, body := do(t, nil, "GET", base(ep)+"/hetzner/v1/userdata"); body != "#systemd-userdata\nnew\n" {
		t.Errorf("user data after PUT: %q", body)
	}
	call("DELETE", "/_userdata", "")
	if resp, _ := do(t, nil, "GET", base(ep)+"/hetzner/v1/userdata"); resp.StatusCode != 404 {
		t.Errorf("user data after DELETE: %d", resp.StatusCode)
	}
	var info ProviderInfo
	_, body := call("GET", "/_provider", "")
	if err := json.Unmarshal([]byte(body), &info); err != nil || info.Vendor != plain || info.Expected[KeyHostname] != "renamed" {
		t.Errorf("provider: %v %+v", err, info)
	}
	var in Instance
	_, body = call("GET", "/_instance", "")
	if err := json.Unmarshal([]byte(body), &in); err != nil || in.Hostname != "renamed" {
		t.Errorf("instance: %v %+v", err, in)
	}
}

func TestParseFault(t *testing.T) {
	q, _ := url.ParseQuery("mode=latency&delay=1.5s&path=/a&method=get&count=4")
	f, err := ParseFault(q)
	if err != nil || f.Delay != 1500*time.Millisecond || f.Method != "GET" || f.Count != 4 || f.Path != "/a" {
		t.Errorf("ParseFault = %+v, %v", f, err)
	}
	q, _ = url.ParseQuery("mode=status")
	if f, err := ParseFault(q); err != nil || f.Status != 503 {
		t.Errorf("ParseFault(status) = %+v, %v", f, err)
	}
}
