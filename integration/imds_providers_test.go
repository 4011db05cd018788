//go:build integration

package integration

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/fakecloud"
)

// TestIMDSProviders runs our imdsd against the fake cloud of every provider, detected from
// DMI + hwdb under --root, and checks the well-known values through Varlink and, once
// cmd/imds exists, through the imds client (printing and --import).
func TestIMDSProviders(t *testing.T) {
	ourIMDS(t) // build before the subtests run in parallel
	for _, prov := range fakecloud.Providers() {
		t.Run(prov.Vendor, func(t *testing.T) {
			t.Parallel()
			tp := newIMDSTopo(t, prov.Vendor)
			root := imdsRoot(t, t.TempDir(), prov)
			sock, _ := tp.startOurIMDSD(t, root, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := dialIMDS(t, ctx, sock)

			var vi struct {
				Vendor  *string `json:"vendor"`
				DataURL *string `json:"dataUrl"`
			}
			if name, err := imdsCall(ctx, c, imdsIface+".GetVendorInfo", nil, &vi); err != nil || name != "" {
				t.Fatalf("GetVendorInfo: %s %v", name, err)
			}
			if vi.Vendor == nil || *vi.Vendor != prov.Vendor || vi.DataURL == nil || *vi.DataURL != prov.Endpoint.DataURL {
				t.Fatalf("GetVendorInfo: vendor %v data URL %v; want %s %s (DMI+hwdb detection)",
					deref(vi.Vendor), deref(vi.DataURL), prov.Vendor, prov.Endpoint.DataURL)
			}
			for _, name := range fakecloud.WellKnownKeys() {
				if _, ok := prov.Keys[name]; !ok {
					continue
				}
				want, ok := prov.Expected[name]
				r := imdsGet(t, ctx, c, map[string]any{"wellKnown": name})
				switch {
				case ok && (r.Err != "" || r.Data != want):
					t.Errorf("Get %s = %s, want %q", name, r, want)
				case !ok && name != fakecloud.KeyUserDataBase && r.Err != imdsIface+".KeyNotFound":
					t.Errorf("Get %s = %s, want KeyNotFound", name, r)
				case ok && r.Iface == 0:
					t.Errorf("Get %s: no interface in the reply", name)
				}
			}
			if _, ok := prov.Keys[fakecloud.KeyUserDataBase]; ok {
				r := imdsGet(t, ctx, c, map[string]any{"wellKnown": "userdata_base", "key": "/systemd-userdata"})
				if want := string(fakecloud.DefaultUserData(prov.Vendor)); r.Err != "" || r.Data != want {
					t.Errorf("Get userdata_base + /systemd-userdata = %s, want %q", r, want)
				}
			}

			if n := tp.Srv.TotalRequests(); n == 0 {
				t.Errorf("the fake cloud saw no request")
			}
			bin := ourIMDS(t)
			if bin == "" {
				t.Log("cmd/imds does not exist yet: checked through Varlink only")
				return
			}
			run := func(args ...string) (string, error) {
				cmd := tp.Inst.Command(bin, append([]string{"--root=" + root}, args...)...)
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Logf("imds %v: %v\n%s", args, err, stderr.String())
				}
				return string(out), err
			}
			for _, name := range []string{"hostname", "region", "zone", "ssh_key"} {
				want, ok := prov.Expected[name]
				if _, has := prov.Keys[name]; !has || !ok {
					continue
				}
				out, err := run("-K", strings.ReplaceAll(name, "_", "-"))
				if err != nil || out != want {
					t.Errorf("imds -K %s = %q, %v; want %q", name, out, err, want)
				}
			}
			if out, err := run("--userdata"); err != nil || out != string(fakecloud.DefaultUserData(prov.Vendor)) {
				t.Errorf("imds --userdata = %q, %v", out, err)
			}
			if out, err := run(); err != nil || (prov.Expected["hostname"] != "" && !strings.Contains(out, prov.Expected["hostname"])) {
				t.Errorf("imds (summary) = %q, %v; want the hostname in it", out, err)
			}
			if _, err := run("--import"); err != nil {
				t.Errorf("imds --import: %v", err)
			}
			got := readCreds(t, filepath.Join(root, "run/credstore"))
			want := expectedCreds(prov)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("imds --import wrote %v, want %v", got, want)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
