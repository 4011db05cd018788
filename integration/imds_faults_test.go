//go:build integration

package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/fakecloud"
)

// TestIMDSFaults drives our imdsd (short test timers) against EC2's fake cloud misbehaving.
func TestIMDSFaults(t *testing.T) {
	const reqTimeout = 2 * time.Second
	tp := newIMDSTopo(t, "amazon-ec2")
	root := imdsRoot(t, t.TempDir(), tp.Prov)
	sock, _ := tp.startOurIMDSD(t, root, nil, "--retry-initial=10ms", "--retry-max=100ms",
		"--request-timeout="+reqTimeout.String(), "--scan-timeout=3s")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialIMDS(t, ctx, sock)
	hostKey := "/latest" + tp.Prov.Keys[fakecloud.KeyHostname]
	want := tp.Prov.Expected[fakecloud.KeyHostname]
	get := func() getResult {
		return imdsGet(t, ctx, c, map[string]any{"wellKnown": "hostname", "cache": false})
	}
	if r := get(); r.Err != "" || r.Data != want {
		t.Fatalf("first Get: %s", r)
	}

	t.Run("503x5", func(t *testing.T) {
		tp.Srv.ResetRequests()
		tp.Srv.SetFault(fakecloud.Fault{Mode: fakecloud.FaultStatus, Status: 503, Path: hostKey, Count: 5})
		defer tp.Srv.ClearFaults()
		if r := get(); r.Err != "" || r.Data != want {
			t.Errorf("Get after five 503s: %s, want %q", r, want)
		}
		if n := tp.Srv.RequestsByMethod("GET", hostKey); n != 6 {
			t.Errorf("%d GETs of %s, want 6 (5 × 503, then 200)", n, hostKey)
		}
	})

	t.Run("token-expiry", func(t *testing.T) {
		tp.Srv.ResetRequests()
		tp.Srv.ExpireTokens()
		// The cached token is now refused with 401: one new token, then the value.
		r := imdsGet(t, ctx, c, map[string]any{"wellKnown": "region", "cache": false})
		if want := tp.Prov.Expected[fakecloud.KeyRegion]; r.Err != "" || r.Data != want {
			t.Errorf("Get after token expiry: %s, want %q", r, want)
		}
		if n := tp.Srv.RequestsByMethod("PUT", "/latest/api/token"); n != 1 {
			t.Errorf("%d token PUTs after expiry, want exactly 1; requests: %v", n, tp.Srv.RequestCounts())
		}
	})

	t.Run("oversize", func(t *testing.T) {
		tp.Srv.SetFault(fakecloud.Fault{Mode: fakecloud.FaultOversize, Path: hostKey, Count: 1})
		defer tp.Srv.ClearFaults()
		r := get()
		if r.Err == "" {
			t.Errorf("Get of a %d-byte body succeeded (%d bytes)", fakecloud.DefaultOversize, len(r.Data))
		} else {
			t.Logf("Get of a 5 MiB body: %s", r.Err)
		}
		if name, err := imdsCall(ctx, c, "io.systemd.service.Ping", nil, nil); err != nil || name != "" {
			t.Errorf("Ping after oversize on the same connection: %s %v", name, err)
		}
		c2 := dialIMDS(t, ctx, sock)
		if name, err := imdsCall(ctx, c2, "io.systemd.service.Ping", nil, nil); err != nil || name != "" {
			t.Errorf("Ping on a new connection: %s %v", name, err)
		}
		if r := get(); r.Err != "" || r.Data != want {
			t.Errorf("Get after oversize: %s", r)
		}
	})

	t.Run("hang", func(t *testing.T) {
		tp.Srv.SetFault(fakecloud.Fault{Mode: fakecloud.FaultHang, Path: hostKey})
		defer tp.Srv.ClearFaults()
		start := time.Now()
		r := get()
		el := time.Since(start)
		if r.Err != imdsIface+".Timeout" {
			t.Errorf("Get against a hanging server: %s, want Timeout", r)
		}
		t.Logf("Timeout after %v (request timeout %v)", el.Round(time.Millisecond), reqTimeout)
		// Generous bound: the timer, not the 40 s default, must have fired.
		if el < reqTimeout/2 || el > 4*reqTimeout {
			t.Errorf("Timeout after %v, want about %v", el, reqTimeout)
		}
		tp.Srv.ClearFaults()
		if r := get(); r.Err != "" || r.Data != want {
			t.Errorf("Get once the server answers again: %s", r)
		}
	})
}
