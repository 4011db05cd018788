package fakecloud

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzServe sends arbitrary methods, paths, queries and headers to every provider: nothing
// may panic, and every answer must be a valid status.
func FuzzServe(f *testing.F) {
	seeds := []struct {
		method, path, query, hname, hval string
	}{
		{"GET", "/latest/meta-data/hostname", "", "X-aws-ec2-metadata-token", "x"},
		{"PUT", "/latest/api/token", "", "X-aws-ec2-metadata-token-ttl-seconds", "21600"},
		{"GET", "/metadata/instance/network/interface/0/ipv4/ipAddress/0", "api-version=2025-04-07&format=text", "Metadata", "true"},
		{"GET", "/metadata/instance/compute/publicKeys/-1/keyData", "api-version=2021-01-01", "Metadata", "true"},
		{"GET", "/computeMetadata/v1/instance/network-interfaces/", "recursive=true&alt=json", "Metadata-Flavor", "Google"},
		{"GET", "/computeMetadata/v1//instance", "", "Metadata-Flavor", "Google"},
		{"GET", "/opc/v2/instance/metadata/user_data/", "", "Authorization", "Bearer Oracle"},
		{"GET", "/user_data/../conf", "format=json", "", ""},
		{"GET", "/hetzner/v1/metadata/public-keys/0", "", "", ""},
		{"GET", "/v1/interfaces/0/ipv6/address", "", "", ""},
		{"GET", "/openstack/2018-08-27/meta_data.json", "", "", ""},
		{"PUT", "/v1/token", "", "Metadata-Token-Expiry-Seconds", "-1"},
		{"GET", "/latest/meta-data/public-keys/0/", "", "", ""},
		{"HEAD", "/", "", "", ""},
		{"GET", "/\x00/%ff/\xff", "a=%zz", "X", "\x7f"},
	}
	for i, s := range seeds {
		f.Add(uint8(i), s.method, s.path, s.query, s.hname, s.hval)
	}
	servers := make([]*Server, 0, len(providerOrder))
	for _, name := range providerOrder {
		s, err := New(name, WithTokensOptional(true))
		if err != nil {
			f.Fatal(err)
		}
		servers = append(servers, s)
	}
	f.Fuzz(func(t *testing.T, which uint8, method, path, query, hname, hval string) {
		s := servers[int(which)%len(servers)]
		req := &http.Request{
			Method:     method,
			URL:        &url.URL{Path: path, RawQuery: query},
			Proto:      "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1,
			Header:     http.Header{},
			Host:       "169.254.169.254",
			RemoteAddr: "127.0.0.1:999",
		}
		if hname != "" {
			req.Header[hname] = []string{hval}
		}
		req = req.WithContext(context.Background())
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code < 100 || w.Code > 599 {
			t.Fatalf("%s %q: status %d", method, path, w.Code)
		}
	})
}

// FuzzParseFault feeds arbitrary control queries to the fault parser.
func FuzzParseFault(f *testing.F) {
	for _, q := range []string{"mode=status&status=503&count=3", "mode=latency&delay=1s",
		"mode=oversize&size=99999999999", "mode=hang&path=/x*&method=put", "mode=%zz"} {
		f.Add(q)
	}
	s, _ := New("scaleway")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, err := ParseFault(q)
		if err != nil {
			return
		}
		if err := s.SetFault(flt); err != nil {
			t.Fatalf("ParseFault accepted %q but SetFault refused it: %v", raw, err)
		}
		s.ClearFaults()
	})
}
