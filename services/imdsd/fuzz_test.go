package imdsd

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/kcmdline"
	"github.com/stead-os/stead/lib/varlinkd"
)

// FuzzGetParams drives Get's validation and preparation with arbitrary parameters; the
// endpoint has no data URL that could be reached, so nothing goes to the network.
func FuzzGetParams(f *testing.F) {
	f.Add("/hostname", "", int64(0), int64(-1), int64(-1), uint8(0))
	f.Add("/x", "userdata_base", int64(1), int64(0), int64(0), uint8(3))
	f.Add("x", "hostname", int64(-1), int64(-5), int64(1<<33), uint8(7))
	f.Add("/\x01", "ipv4-public", int64(1<<40), int64(1<<62), int64(-1), uint8(1))
	s, err := New(Options{Root: f.TempDir(), Getenv: noEnv, Log: testLogger()}, false)
	if err != nil {
		f.Fatal(err)
	}
	s.ep.DataURL = "http://127.0.0.1:1" // prepared, never fetched
	s.ep.Keys[Hostname] = "/h"
	s.ep.Keys[UserdataBase] = "/u"
	f.Fuzz(func(t *testing.T, key, wk string, iface, refresh, mark int64, set uint8) {
		var p GetParams
		if set&1 != 0 {
			p.Key = &key
		}
		if set&2 != 0 || wk != "" {
			p.WellKnown = &wk
		}
		if set&4 != 0 {
			p.Interface = &iface
		}
		if refresh >= -1 {
			p.RefreshUSec = &refresh
		}
		if mark >= -1 {
			p.FirewallMark = &mark
		}
		w, err := p.validate()
		if err != nil {
			var ip *InvalidParameterError
			if !errors.As(err, &ip) {
				t.Fatalf("validate: %v", err)
			}
			return
		}
		s.opts.Interface = ""
		r, err := s.prepare(w, p)
		if err != nil {
			if !errors.Is(err, ErrWellKnownKeyUnset) {
				t.Fatalf("prepare: %v", err)
			}
			return
		}
		if !ValidKey(r.key) {
			t.Fatalf("prepared an invalid key %q from %+v", r.key, p)
		}
		if r.refresh < MinRefresh {
			t.Fatalf("refresh %v below the minimum", r.refresh)
		}
	})
}

// FuzzVarlinkGet sends arbitrary Get parameters through the Varlink server: validation against
// the IDL, then the method's own checks. The peer is unknown (a pipe), so valid calls end in
// PermissionDenied; nothing reaches the network. Every reply must be a Varlink message and the
// server must not hang.
func FuzzVarlinkGet(f *testing.F) {
	for _, seed := range []string{
		`{"key":"/hostname"}`, `{"wellKnown":"hostname"}`, `{"wellKnown":"ipv4-public"}`, `{}`,
		`{"key":"/a","interface":0,"refreshUSec":-1,"firewallMark":4294967296}`, `{"key":1}`,
		`{"key":"/x","wait":"yes"}`, `null`, `[]`, `{"key":"/\u0000"}`,
	} {
		f.Add(seed)
	}
	s, err := New(Options{Root: f.TempDir(), Getenv: noEnv, Log: testLogger()}, false)
	if err != nil {
		f.Fatal(err)
	}
	srv, err := varlinkd.New(varlinkd.Info{Vendor: "stead", Product: "imdsd-fuzz", Version: "1", URL: "x"}, varlinkd.Hooks{})
	if err != nil {
		f.Fatal(err)
	}
	if err := srv.Register(s.Dispatcher()); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, params string) {
		msg, _ := json.Marshal(map[string]json.RawMessage{
			"method":     json.RawMessage(`"io.systemd.InstanceMetadata.Get"`),
			"parameters": json.RawMessage(params),
		})
		if !json.Valid([]byte(params)) {
			msg = []byte(`{"method":"io.systemd.InstanceMetadata.Get","parameters":` + params + `}`)
		}
		client, server := net.Pipe()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			srv.ServeConn(ctx, server)
			close(done)
		}()
		replies := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(client)
			replies <- string(b)
		}()
		client.Write(append(msg, 0))
		time.Sleep(time.Millisecond)
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("ServeConn did not return")
		}
		for _, r := range strings.Split(strings.TrimSuffix(<-replies, "\x00"), "\x00") {
			if r != "" && !json.Valid([]byte(r)) {
				t.Fatalf("reply %q is not JSON", r)
			}
		}
	})
}

// FuzzEndpointSettings feeds arbitrary text to every endpoint setting, --well-known-key= and
// the header parser.
func FuzzEndpointSettings(f *testing.F) {
	f.Add("extra_header", "Metadata: true")
	f.Add("data_url", "http://169.254.169.254/latest")
	f.Add("address_ipv6", "fd00:ec2::254")
	f.Add("well-known-key", "ipv4-public:/meta-data/public-ipv4")
	f.Add("token_header_name", "X-aws-ec2-metadata-token")
	f.Fuzz(func(t *testing.T, name, value string) {
		var l Layer
		if name == "well-known-key" {
			if l.SetWellKnownKey(value) == nil {
				for _, k := range l.ep.Keys {
					if k != "" && !ValidKey(k) {
						t.Fatalf("accepted key %q", k)
					}
				}
			}
			return
		}
		if err := l.Set(name, value); err != nil {
			return
		}
		var ep Endpoint
		l.applyTo(&ep)
		for _, h := range ep.ExtraHeaders {
			n, v, err := splitHeader(h)
			if err != nil || !isToken(n) || strings.ContainsAny(v, "\r\n") {
				t.Fatalf("accepted header %q → %q %q %v", h, n, v, err)
			}
		}
		if ep.AddressIPv4.IsValid() && !ep.AddressIPv4.Is4() {
			t.Fatalf("IPv4 address %v", ep.AddressIPv4)
		}
		if ep.AddressIPv6.IsValid() && !ep.AddressIPv6.Is6() {
			t.Fatalf("IPv6 address %v", ep.AddressIPv6)
		}
		// Whatever was accepted renders without failing.
		_ = networkConfig(&ep, NetworkLocked)
		_ = rrRecords(&ep)
		_ = wellKnownObject(&ep)
	})
}

// FuzzKernelCommandLine parses arbitrary kernel command lines into endpoint settings.
func FuzzKernelCommandLine(f *testing.F) {
	f.Add(`systemd.imds.vendor=a systemd.imds.data-url=http://x "systemd.imds.extra_header=A: b" systemd.imds.key.hostname=/h systemd.imds.network=locked`)
	f.Add(`systemd.imds.address_ipv4= systemd.imds.token_url systemd.imds.key.base=/b`)
	f.Fuzz(func(t *testing.T, cmdline string) {
		l, mode, _ := kernelLayer(kcmdline.Parse(cmdline))
		if mode != "" {
			if _, err := ParseNetworkMode(string(mode)); err != nil {
				t.Fatalf("mode %q", mode)
			}
		}
		var ep Endpoint
		l.applyTo(&ep)
		if ep.Keys[Base] != "" {
			t.Fatal("base key set from the kernel command line")
		}
	})
}
