package varlinkd

import (
	"context"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// Connections waiting for their next request hold no read buffer: a few hundred idle
// clients that each made one call cost well under the 4 KiB a buffer would take apiece.
func TestIdleConnectionsHoldNoBuffer(t *testing.T) {
	srv, err := New(Info{Vendor: "stead", Product: "test", Version: "1", URL: "https://example.invalid"}, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 300
	ping := []byte(`{"method":"io.systemd.service.Ping","parameters":{}}` + "\x00")
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	// Every connection is served to its end before the test returns, so that a run (with
	// -count) does not measure the previous one's connections going away.
	var served sync.WaitGroup
	defer func() { cancel(); served.Wait() }()
	// open connects a client and makes one call.
	open := func() net.Conn {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		conn := func(fd int) net.Conn {
			f := os.NewFile(uintptr(fd), "socketpair")
			defer f.Close()
			c, err := net.FileConn(f)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		client, server := conn(fds[0]), conn(fds[1])
		served.Add(1)
		go func() { defer served.Done(); srv.ServeConn(ctx, server) }()
		if _, err := client.Write(ping); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		for got := 0; got == 0 || buf[got-1] != 0; {
			m, err := client.Read(buf[got:])
			if err != nil {
				t.Fatal(err)
			}
			got += m
		}
		return client
	}
	open().Close() // warms up the pools and the dispatch path
	before := heap()
	clients := make([]net.Conn, 0, n)
	for range n {
		clients = append(clients, open())
	}
	per := (heap() - before) / n
	for _, c := range clients {
		c.Close()
	}
	t.Logf("%d heap bytes per idle connection (both ends)", per)
	if per > 2048 {
		t.Errorf("an idle connection holds %d heap bytes, want < 2048 (no read buffer)", per)
	}
}
