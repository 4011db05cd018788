package imdsd

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stead-os/stead/lib/api/iosystemd"
	"github.com/stead-os/stead/lib/varlinkd"
	"golang.org/x/sys/unix"
)

// TestMain lets the test binary play helper processes: an unprivileged Varlink client, or the
// client side of the network namespace tests.
func TestMain(m *testing.M) {
	switch os.Getenv("IMDS_TEST_ROLE") {
	case "client":
		os.Exit(roleClient())
	case "netns-client":
		os.Exit(roleNetnsClient())
	case "netns-server":
		os.Exit(roleNetnsServer())
	case "query":
		o := Options{Root: os.Getenv("IMDS_TEST_ROOT"), Getenv: noEnv, Interface: "lo", Key: "/hostname"}
		o.Endpoint.Set("data_url", os.Getenv("IMDS_TEST_DATA_URL"))
		os.Exit(Main(context.Background(), o))
	}
	os.Exit(m.Run())
}

// roleClient calls Get and GetVendorInfo on $IMDS_TEST_SOCKET and prints the error names.
func roleClient() int {
	ctx := context.Background()
	c, err := varlinkd.Dial(ctx, os.Getenv("IMDS_TEST_SOCKET"))
	if err != nil {
		fmt.Print("dial: ", err)
		return 0
	}
	defer c.Close()
	err = c.Call(ctx, "io.systemd.InstanceMetadata.Get", map[string]any{"key": "/hostname"}, nil)
	fmt.Printf("Get=%s ", varlinkd.ErrorName(err))
	err = c.Call(ctx, "io.systemd.InstanceMetadata.GetVendorInfo", nil, nil)
	fmt.Printf("GetVendorInfo=%s", varlinkd.ErrorName(err))
	return 0
}

// startDaemon serves s under its root and returns the socket path.
func startDaemon(t testing.TB, s *Service) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return filepath.Join(s.opts.Root, SocketPath)
}

func dial(t testing.TB, sock string) *varlinkd.Client {
	t.Helper()
	c, err := varlinkd.Dial(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestVarlinkGet(t *testing.T) {
	f := newFakeIMDS(t)
	f.values["/bin"] = string([]byte{0, 1, 2, 0xff})
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/error" {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	}
	s := newTestService(t, f.URL, func(o *Options) { o.Endpoint.SetWellKnownKey("hostname:/hostname") })
	c := dial(t, startDaemon(t, s))
	ctx := context.Background()

	var out struct {
		Data      string `json:"data"`
		Interface *int64 `json:"interface"`
	}
	if err := c.Call(ctx, "io.systemd.InstanceMetadata.Get", map[string]any{"wellKnown": "hostname"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Data != base64.StdEncoding.EncodeToString([]byte("piff")) || out.Interface == nil || *out.Interface != int64(loopback(t).Index) {
		t.Errorf("Get = %+v", out)
	}
	if err := c.Call(ctx, "io.systemd.InstanceMetadata.Get", map[string]any{"key": "/bin"}, &out); err != nil {
		t.Fatal(err)
	}
	if b, _ := base64.StdEncoding.DecodeString(out.Data); string(b) != "\x00\x01\x02\xff" {
		t.Errorf("binary value: %q", b)
	}

	for _, tc := range []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{"key": "/nothere"}, "io.systemd.InstanceMetadata.KeyNotFound"},
		{map[string]any{"wellKnown": "region"}, "io.systemd.InstanceMetadata.WellKnownKeyUnset"},
		{map[string]any{"key": "nope"}, varlinkd.ErrInvalidParameter},
		{map[string]any{}, varlinkd.ErrInvalidParameter},
		{map[string]any{"wellKnown": "ipv4-public"}, varlinkd.ErrInvalidParameter},
		{map[string]any{"key": "/x", "bogus": 1}, varlinkd.ErrInvalidParameter},
		{map[string]any{"key": "/x", "interface": 0}, varlinkd.ErrInvalidParameter},
		{map[string]any{"key": "/error"}, iosystemd.ErrorSystem},
	} {
		err := c.Call(ctx, "io.systemd.InstanceMetadata.Get", tc.params, nil)
		if got := varlinkd.ErrorName(err); got != tc.want {
			t.Errorf("Get(%v): %v (%s), want %s", tc.params, err, got, tc.want)
		}
	}
	err := c.Call(ctx, "io.systemd.InstanceMetadata.Get", map[string]any{"key": "/error"}, nil)
	if !errors.Is(err, unix.EIO) {
		t.Errorf("HTTP 502: %v, want io.systemd.System EIO", err)
	}
	// The connection is still usable after all these errors.
	if err := c.Call(ctx, "io.systemd.InstanceMetadata.Get", map[string]any{"key": "/hostname"}, &out); err != nil {
		t.Error(err)
	}
}

func TestVarlinkGetVendorInfo(t *testing.T) {
	s := newTestService(t, "", func(o *Options) {
		for _, kv := range [][2]string{
			{"vendor", "amazon-ec2"}, {"token_url", "http://169.254.169.254/latest/api/token"},
			{"refresh_header_name", "X-aws-ec2-metadata-token-ttl-seconds"},
			{"data_url", "http://169.254.169.254/latest"}, {"token_header_name", "X-aws-ec2-metadata-token"},
			{"extra_header", "A: b"}, {"extra_header", "C:d"},
			{"address_ipv4", "169.254.169.254"}, {"address_ipv6", "fd00:ec2::254"},
		} {
			if err := o.Endpoint.Set(kv[0], kv[1]); err != nil {
				t.Fatal(err)
			}
		}
		o.Endpoint.SetWellKnownKey("userdata:/user-data")
		o.Endpoint.SetWellKnownKey("ipv4-public:/meta-data/public-ipv4")
		o.Endpoint.SetWellKnownKey("hostname:/meta-data/hostname")
	})
	c := dial(t, startDaemon(t, s))
	var raw json.RawMessage
	if err := c.Call(context.Background(), "io.systemd.InstanceMetadata.GetVendorInfo", nil, &raw); err != nil {
		t.Fatal(err)
	}
	want := `{"vendor":"amazon-ec2","tokenUrl":"http://169.254.169.254/latest/api/token",` +
		`"refreshHeaderName":"X-aws-ec2-metadata-token-ttl-seconds","dataUrl":"http://169.254.169.254/latest",` +
		`"tokenHeaderName":"X-aws-ec2-metadata-token","extraHeader":["A: b","C:d"],` +
		`"addressIPv4":[169,254,169,254],"addressIPv6":[253,0,14,194,0,0,0,0,0,0,0,0,0,0,2,84],` +
		`"wellKnown":{"hostname":"/meta-data/hostname","ipv4-public":"/meta-data/public-ipv4","userdata":"/user-data"}}`
	if string(raw) != want {
		t.Errorf("GetVendorInfo:\n got %s\nwant %s", raw, want)
	}

	// Only a data URL: every other field is left out.
	s = newTestService(t, "http://d", func(o *Options) { o.Endpoint = Layer{}; o.Endpoint.Set("data_url", "http://d") })
	c = dial(t, startDaemon(t, s))
	if err := c.Call(context.Background(), "io.systemd.InstanceMetadata.GetVendorInfo", nil, &raw); err != nil || string(raw) != `{"dataUrl":"http://d"}` {
		t.Errorf("minimal GetVendorInfo: %s, %v", raw, err)
	}

	// Nothing configured: NotSupported, for GetVendorInfo and Get alike.
	s = newTestService(t, "", nil)
	c = dial(t, startDaemon(t, s))
	for _, m := range []string{"GetVendorInfo", "Get"} {
		err := c.Call(context.Background(), "io.systemd.InstanceMetadata."+m, map[string]any{"key": "/x"}, nil)
		if m == "GetVendorInfo" {
			err = c.Call(context.Background(), "io.systemd.InstanceMetadata."+m, nil, nil)
		}
		if got := varlinkd.ErrorName(err); got != "io.systemd.InstanceMetadata.NotSupported" {
			t.Errorf("%s without configuration: %v", m, err)
		}
	}
}

func TestVarlinkPermissionDeniedForUnprivilegedPeer(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	f := newFakeIMDS(t)
	s := newTestService(t, f.URL, nil)
	sock := startDaemon(t, s)
	for d := filepath.Dir(sock); ; d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // let nobody reach the socket
		if d == s.opts.Root || d == "/" {
			break
		}
	}
	os.Chmod(filepath.Dir(s.opts.Root), 0o755)
	self := filepath.Join(s.opts.Root, "client")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(self, b, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(uid uint32) string {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), "IMDS_TEST_ROLE=client", "IMDS_TEST_SOCKET="+sock)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("client as uid %d: %v", uid, err)
		}
		return string(out)
	}
	if got, want := run(65534), "Get="+varlinkd.ErrPermissionDenied+" GetVendorInfo="; got != want {
		t.Errorf("uid 65534: %q, want %q", got, want)
	}
	if got, want := run(0), "Get= GetVendorInfo="; got != want {
		t.Errorf("root: %q, want %q", got, want)
	}
	if n := f.gets.Load(); n != 1 {
		t.Errorf("%d requests reached the metadata service, want 1 (root's)", n)
	}
}

// TestQueryUnprivileged runs the one-shot mode as an ordinary user: without CAP_NET_ADMIN the
// firewall mark cannot be set, which is reported, and without CAP_NET_BIND_SERVICE the source
// port is an ephemeral one; the request still succeeds.
func TestQueryUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	f := newFakeIMDS(t)
	var port string
	f.handler = func(w http.ResponseWriter, r *http.Request) bool {
		_, port, _ = net.SplitHostPort(r.RemoteAddr)
		return false
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	self := filepath.Join(dir, "query")
	b, _ := os.ReadFile(os.Args[0])
	os.WriteFile(self, b, 0o755)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "IMDS_TEST_ROLE=query", "IMDS_TEST_DATA_URL="+f.URL, "IMDS_TEST_ROOT="+dir,
		"SYSTEMD_PROC_CMDLINE=", "CREDENTIALS_DIRECTORY=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || string(out) != "piff" {
		t.Fatalf("query as nobody: %q, %v\n%s", out, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "CAP_NET_ADMIN") {
		t.Errorf("no warning about the firewall mark:\n%s", stderr.String())
	}
	if p, _ := strconv.Atoi(port); p < 1024 {
		t.Errorf("source port %s without CAP_NET_BIND_SERVICE", port)
	}
}

func TestVarlinkReload(t *testing.T) {
	f := newFakeIMDS(t)
	s := newTestService(t, "", nil)
	c := dial(t, startDaemon(t, s))
	ctx := context.Background()
	if err := c.Call(ctx, "io.systemd.InstanceMetadata.GetVendorInfo", nil, nil); varlinkd.ErrorName(err) != "io.systemd.InstanceMetadata.NotSupported" {
		t.Fatalf("before: %v", err)
	}
	t.Setenv("SYSTEMD_PROC_CMDLINE", "systemd.imds.vendor=k systemd.imds.data_url="+f.URL)
	if err := c.Call(ctx, "io.systemd.service.Reload", nil, nil); err != nil {
		t.Fatal(err)
	}
	var out struct{ Vendor string }
	if err := c.Call(ctx, "io.systemd.InstanceMetadata.GetVendorInfo", nil, &out); err != nil || out.Vendor != "k" {
		t.Errorf("after reload: %+v, %v", out, err)
	}
}
