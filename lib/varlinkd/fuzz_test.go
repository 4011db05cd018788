package varlinkd_test

import (
	"context"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// FuzzServeConn feeds arbitrary bytes to a connection: the server must neither panic nor
// hang, and must still answer a well-formed Ping on a fresh connection afterwards.
func FuzzServeConn(f *testing.F) {
	for _, seed := range []string{
		`{"method":"io.systemd.service.Ping","parameters":{}}` + "\x00",
		`{"method":"io.stead.Example.Echo","parameters":{"text":"x","count":2}}` + "\x00",
		`{"method":"io.stead.Example.Count","parameters":{"n":3},"more":true}` + "\x00",
		`{"method":"io.stead.Example.Types","parameters":{"flag":true,"ratio":1,"name":"","mode":"slow","list":[],"labels":{},"blob":{},"pairs":[{"key":"k"}]}}` + "\x00",
		`{"method":"io.stead.Example.Echo","parameters":{"text":"x"},"oneway":true,"more":true}` + "\x00",
		`{"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":"io.stead.Example"}}` + "\x00",
		"\x00\x00{}\x00[]\x00null\x00",
	} {
		f.Add([]byte(seed))
	}
	srv := newServer(nil, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		// A unix socket pair (the daemons' path, with fd passing) and a plain net.Conn.
		for _, pair := range []func() (net.Conn, net.Conn){unixPair(t), net.Pipe} {
			client, server := pair()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			done := make(chan struct{})
			go func() {
				srv.ServeConn(ctx, server)
				close(done)
			}()
			go io.Copy(io.Discard, client)
			client.Write(data)
			client.Close()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("ServeConn did not return after the peer closed")
			}
			cancel()
		}
	})
}

// unixPair returns a function making connected unix stream sockets.
func unixPair(t *testing.T) func() (net.Conn, net.Conn) {
	return func() (net.Conn, net.Conn) {
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
		return conn(fds[0]), conn(fds[1])
	}
}
