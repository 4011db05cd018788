package varlinkd_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"testing"
)

// BenchmarkPing compares a Ping round trip through lib/varlinkd with a bare echo server that
// parses and re-encodes the same NUL-terminated JSON over the same kind of socket: the ratio
// is what validation, dispatch and the library cost per call.
func BenchmarkPing(b *testing.B) {
	req := []byte(`{"method":"io.systemd.service.Ping","parameters":{}}` + "\x00")
	b.Run("varlinkd", func(b *testing.B) {
		_, sock := start(b, nil, nil)
		benchRoundTrips(b, sock, req)
	})
	b.Run("raw-echo", func(b *testing.B) {
		sock := filepath.Join(b.TempDir(), "echo")
		l, err := net.Listen("unix", sock)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		go serveRawEcho(l)
		benchRoundTrips(b, sock, req)
	})
	b.Run("client-call", func(b *testing.B) {
		_, sock := start(b, nil, nil)
		c := dial(b, sock)
		ctx := context.Background()
		b.ResetTimer()
		for b.Loop() {
			if err := c.Call(ctx, "io.systemd.service.Ping", nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPingWithIdle is BenchmarkPing's varlinkd case with 1,000 other connections open
// and idle, as a daemon under the connection limits holds them.
func BenchmarkPingWithIdle(b *testing.B) {
	req := []byte(`{"method":"io.systemd.service.Ping","parameters":{}}` + "\x00")
	_, sock := start(b, nil, nil)
	for range 1000 {
		c, err := net.Dial("unix", sock)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
	}
	benchRoundTrips(b, sock, req)
}

func benchRoundTrips(b *testing.B, sock string, req []byte) {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	b.ResetTimer()
	for b.Loop() {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := r.ReadBytes(0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// serveRawEcho answers every NUL-terminated JSON message with an empty reply.
func serveRawEcho(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				msg, err := r.ReadBytes(0)
				if err != nil {
					return
				}
				var m map[string]any
				if json.Unmarshal(msg[:len(msg)-1], &m) != nil {
					return
				}
				out, _ := json.Marshal(map[string]any{"parameters": map[string]any{}})
				if _, err := c.Write(append(out, 0)); err != nil {
					return
				}
			}
		}()
	}
}
