package imdsd

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stead-os/stead/integration/fakecloud"
)

// TestFakeClouds fetches every well-known key of every cloud integration/fakecloud emulates,
// configured as its hwdb entry says (rebased onto a loopback server), and compares with what
// the cloud is expected to answer: token flows, extra headers, URL suffixes and the
// privileged source port rule all have to be right.
func TestFakeClouds(t *testing.T) {
	for _, p := range fakecloud.Providers() {
		t.Run(p.Vendor, func(t *testing.T) {
			srv, err := fakecloud.New(p.Vendor, fakecloud.WithPrivilegedPortCheck(os.Getuid() == 0))
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(srv.Handler())
			defer ts.Close()
			defer srv.Close()
			info := srv.Info()
			ep := info.Endpoint.Rebase(ts.URL)
			s := newTestService(t, "", func(o *Options) {
				l := &o.Endpoint
				for _, kv := range [][2]string{
					{"vendor", p.Vendor}, {"token_url", ep.TokenURL}, {"refresh_header_name", ep.RefreshHeaderName},
					{"data_url", ep.DataURL}, {"data_url_suffix", ep.DataURLSuffix}, {"token_header_name", ep.TokenHeaderName},
				} {
					if err := l.Set(kv[0], kv[1]); err != nil {
						t.Fatal(err)
					}
				}
				for _, h := range ep.ExtraHeaders {
					if err := l.Set("extra_header", h); err != nil {
						t.Fatal(err)
					}
				}
				for _, keys := range []map[string]string{info.Keys, info.ExtraKeys} {
					for name, key := range keys {
						w, err := ParseWellKnown(name, false)
						if err == nil {
							err = l.SetKey(w, key)
						}
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
					}
				}
			})
			for _, keys := range []map[string]string{info.Keys, info.ExtraKeys} {
				for name := range keys {
					data, _, err := s.Get(context.Background(), GetParams{WellKnown: ptr(name)})
					want, found := info.Expected[name]
					switch {
					case !found && name == "userdata_base":
						// Clients append a name to this one; the bare directory may
						// answer anything but a value (GCE redirects it, which is not
						// followed, as upstream does not).
						if err == nil {
							t.Errorf("%s: %q, want an error", name, data)
						}
					case !found:
						if !errors.Is(err, ErrKeyNotFound) {
							t.Errorf("%s: %q, %v; want KeyNotFound", name, data, err)
						}
					case err != nil || string(data) != want:
						t.Errorf("%s: %q, %v; want %q", name, data, err, want)
					}
				}
			}
			if ep.TokenURL != "" {
				if n := srv.RequestsByMethod("PUT", pathOf(ep.TokenURL)); n != 1 {
					t.Errorf("%d token requests, want 1", n)
				}
			}
		})
	}
}

func pathOf(u string) string {
	r := httptest.NewRequest("GET", u, nil)
	return r.URL.Path
}
