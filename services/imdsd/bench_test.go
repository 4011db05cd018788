package imdsd

import (
	"context"
	"testing"

	"github.com/stead-os/stead/lib/varlinkd"
)

// BenchmarkCachedGet measures Get answered from the cache through the Varlink socket: on one
// connection, with a new connection per call, and (for scale) io.systemd.service.Ping on one
// connection.
func BenchmarkCachedGet(b *testing.B) {
	f := newFakeIMDS(b)
	s := newTestService(b, f.URL, nil)
	sock := startDaemon(b, s)
	ctx := context.Background()
	params := map[string]any{"key": "/hostname"}
	var out struct{ Data string }
	prime := dial(b, sock)
	if err := prime.Call(ctx, "io.systemd.InstanceMetadata.Get", params, &out); err != nil {
		b.Fatal(err)
	}

	b.Run("one-connection", func(b *testing.B) {
		c := dial(b, sock)
		for b.Loop() {
			if err := c.Call(ctx, "io.systemd.InstanceMetadata.Get", params, &out); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
	b.Run("connection-per-call", func(b *testing.B) {
		for b.Loop() {
			c, err := varlinkd.Dial(ctx, sock)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Call(ctx, "io.systemd.InstanceMetadata.Get", params, &out); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
	b.Run("ping-one-connection", func(b *testing.B) {
		c := dial(b, sock)
		for b.Loop() {
			if err := c.Call(ctx, "io.systemd.service.Ping", nil, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
	if n := f.gets.Load(); n != 1 {
		b.Errorf("%d requests reached the metadata service, want 1", n)
	}
}
