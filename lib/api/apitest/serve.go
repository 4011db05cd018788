package apitest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stead-os/stead/lib/varlinkd"
)

// Serve runs a lib/varlinkd server with the dispatchers ds on the unix socket path (its
// directory is created) until the test ends, for tests of the typed clients and of the tools
// that use them. It returns the socket's Varlink address.
func Serve(t testing.TB, path string, ds ...varlinkd.Dispatcher) string {
	t.Helper()
	srv, err := varlinkd.New(varlinkd.Info{Vendor: "test", Product: "fake", Version: "1"}, varlinkd.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := srv.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, l, 0); close(done) }()
	t.Cleanup(func() { cancel(); l.Close(); <-done })
	return "unix:" + path
}

// Dial connects to address until the test ends.
func Dial(t testing.TB, address string) *varlinkd.Client {
	t.Helper()
	c, err := varlinkd.Dial(context.Background(), address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
