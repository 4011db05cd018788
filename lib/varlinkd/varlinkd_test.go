package varlinkd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	iosteadexample "github.com/stead-os/stead/integration/varlinkexample"
	"github.com/stead-os/stead/lib/api/iosystemd"
	"github.com/stead-os/stead/lib/varlinkd"
	"golang.org/x/sys/unix"
)

const socketPath = "/run/stead/io.stead.Example"

// TestMain lets the test binary play the example server (for exec: and activation tests)
// or an unprivileged client (for permission tests).
func TestMain(m *testing.M) {
	switch os.Getenv("VARLINKD_TEST_ROLE") {
	case "server":
		srv := newServer(nil, nil)
		if err := srv.Run(context.Background(), varlinkd.Options{IdleExit: 300 * time.Millisecond}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case "client":
		c, err := varlinkd.Dial(context.Background(), os.Getenv("VARLINKD_TEST_ADDRESS"))
		if err == nil {
			var out struct{ Secret string }
			err = c.Call(context.Background(), "io.stead.Example.Secret", nil, &out)
		}
		if name := varlinkd.ErrorName(err); name != "" || err == nil {
			fmt.Print(name)
		} else {
			fmt.Print("unexpected: ", err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func newServer(level *slog.LevelVar, reload func(context.Context) error) *varlinkd.Server {
	srv, err := varlinkd.New(varlinkd.Info{Vendor: "stead", Product: "test", Version: "1", URL: "https://example.invalid"},
		varlinkd.Hooks{Level: level, Reload: reload})
	if err != nil {
		panic(err)
	}
	if err := srv.Register((&iosteadexample.Service{SecretText: "swordfish"}).Dispatcher()); err != nil {
		panic(err)
	}
	return srv
}

// start runs a server under a fresh root and returns the root and the socket's real path.
func start(t testing.TB, level *slog.LevelVar, reload func(context.Context) error) (root, sock string) {
	t.Helper()
	root = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- newServer(level, reload).Run(ctx, varlinkd.Options{Root: root, Socket: socketPath, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return root, filepath.Join(root, socketPath)
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

// rawCall writes one request and reads one NUL-terminated reply.
func rawCall(t testing.TB, c net.Conn, req string) map[string]any {
	t.Helper()
	if _, err := c.Write(append([]byte(req), 0)); err != nil {
		t.Fatal(err)
	}
	reply, err := readReply(c)
	if err != nil {
		t.Fatalf("%s: %v", req, err)
	}
	var m map[string]any
	if err := json.Unmarshal(reply, &m); err != nil {
		t.Fatalf("reply %q: %v", reply, err)
	}
	return m
}

func readReply(c net.Conn) ([]byte, error) {
	var out []byte
	b := make([]byte, 1)
	for {
		if _, err := c.Read(b); err != nil {
			return out, err
		}
		if b[0] == 0 {
			return out, nil
		}
		out = append(out, b[0])
	}
}

func TestPingInfoAndEnvironment(t *testing.T) {
	_, sock := start(t, nil, nil)
	c := dial(t, sock)
	ctx := context.Background()
	if err := c.Call(ctx, "io.systemd.service.Ping", nil, nil); err != nil {
		t.Fatal(err)
	}
	var vendor, product, version, url string
	var ifaces []string
	if err := c.GetInfo(ctx, &vendor, &product, &version, &url, &ifaces); err != nil {
		t.Fatal(err)
	}
	want := "io.stead.Example io.systemd io.systemd.service org.varlink.service"
	if vendor != "stead" || strings.Join(sorted(ifaces), " ") != want {
		t.Errorf("GetInfo = %q %q, want interfaces %q", vendor, ifaces, want)
	}
	var env struct{ Environment []string }
	if err := c.Call(ctx, "io.systemd.service.GetEnvironment", nil, &env); err != nil {
		t.Fatal(err)
	}
	if len(env.Environment) == 0 {
		t.Error("GetEnvironment returned nothing")
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestValidation(t *testing.T) {
	_, sock := start(t, nil, nil)
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	good := `"flag":true,"ratio":1.5,"name":"n","mode":"fast","list":[1,2],"labels":{"a":"b"},"blob":{"x":[1]}`
	tests := []struct {
		req       string
		wantError string
		wantParam string
	}{
		{`{"method":"io.stead.Example.Echo","parameters":{"text":"hi","bogus":1}}`, varlinkd.ErrInvalidParameter, "bogus"},
		{`{"method":"io.stead.Example.Echo","parameters":{}}`, varlinkd.ErrInvalidParameter, "text"},
		{`{"method":"io.stead.Example.Echo"}`, varlinkd.ErrInvalidParameter, "text"},
		{`{"method":"io.stead.Example.Echo","parameters":{"text":null}}`, varlinkd.ErrInvalidParameter, "text"},
		{`{"method":"io.stead.Example.Echo","parameters":{"text":5}}`, varlinkd.ErrInvalidParameter, "text"},
		{`{"method":"io.stead.Example.Echo","parameters":{"text":"a","count":"3"}}`, varlinkd.ErrInvalidParameter, "count"},
		{`{"method":"io.stead.Example.Echo","parameters":{"text":"a","count":1.5}}`, varlinkd.ErrInvalidParameter, "count"},
		{`{"method":"io.stead.Example.Echo","parameters":[1]}`, varlinkd.ErrInvalidParameter, "parameters"},
		{`{"method":"io.stead.Example.Types","parameters":{` + good + `}}`, "", ""},
		{`{"method":"io.stead.Example.Types","parameters":{` + good + `,"pair":{"key":"k"},"pairs":[{"key":"a","value":1}]}}`, "", ""},
		{`{"method":"io.stead.Example.Types","parameters":{` + strings.Replace(good, `"fast"`, `"medium"`, 1) + `}}`, varlinkd.ErrInvalidParameter, "mode"},
		{`{"method":"io.stead.Example.Types","parameters":{` + strings.Replace(good, `[1,2]`, `[1,"2"]`, 1) + `}}`, varlinkd.ErrInvalidParameter, "list"},
		{`{"method":"io.stead.Example.Types","parameters":{` + strings.Replace(good, `{"a":"b"}`, `{"a":1}`, 1) + `}}`, varlinkd.ErrInvalidParameter, "labels"},
		{`{"method":"io.stead.Example.Types","parameters":{` + strings.Replace(good, `{"x":[1]}`, `[1]`, 1) + `}}`, varlinkd.ErrInvalidParameter, "blob"},
		{`{"method":"io.stead.Example.Types","parameters":{` + strings.Replace(good, `true`, `"true"`, 1) + `}}`, varlinkd.ErrInvalidParameter, "flag"},
		{`{"method":"io.stead.Example.Types","parameters":{` + good + `,"pair":{"key":"k","extra":1}}}`, varlinkd.ErrInvalidParameter, "pair"},
		{`{"method":"io.stead.Example.Types","parameters":{` + good + `,"pairs":[{"value":1}]}}`, varlinkd.ErrInvalidParameter, "pairs"},
		{`{"method":"io.stead.Example.Count","parameters":{"n":2}}`, varlinkd.ErrExpectedMore, ""},
		{`{"method":"io.stead.Example.Nope","parameters":{}}`, varlinkd.ErrMethodNotFound, ""},
		{`{"method":"io.stead.Nope.Ping","parameters":{}}`, varlinkd.ErrInterfaceNotFound, ""},
		{`{"method":"nodots","parameters":{}}`, varlinkd.ErrInvalidParameter, "method"},
	}
	for _, tt := range tests {
		m := rawCall(t, conn, tt.req)
		got, _ := m["error"].(string)
		if got != tt.wantError {
			t.Errorf("%s: error %q, want %q (reply %v)", tt.req, got, tt.wantError, m)
			continue
		}
		params, _ := m["parameters"].(map[string]any)
		if tt.wantParam != "" && params["parameter"] != tt.wantParam {
			t.Errorf("%s: parameter %v, want %q", tt.req, params["parameter"], tt.wantParam)
		}
	}
	m := rawCall(t, conn, `{"method":"io.stead.Example.Nope"}`)
	if p, _ := m["parameters"].(map[string]any); p["method"] != "io.stead.Example.Nope" {
		t.Errorf("MethodNotFound must name the method fully: %v", m)
	}
}

func TestStreamAndErrors(t *testing.T) {
	_, sock := start(t, nil, nil)
	c := dial(t, sock)
	ctx := context.Background()
	var got []int64
	err := c.Stream(ctx, "io.stead.Example.Count", map[string]int{"n": 5}, func(raw json.RawMessage) error {
		var r struct{ I int64 }
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		got = append(got, r.I)
		return nil
	})
	if err != nil || fmt.Sprint(got) != "[1 2 3 4 5]" {
		t.Fatalf("Count stream = %v, %v", got, err)
	}
	err = c.Call(ctx, "io.stead.Example.Fail", map[string]int{"errno": int(unix.ENOENT)}, nil)
	if !errors.Is(err, unix.ENOENT) || varlinkd.ErrorName(err) != iosystemd.ErrorSystem {
		t.Errorf("Fail(errno=ENOENT) = %v, want io.systemd.System ENOENT", err)
	}
	err = c.Call(ctx, "io.stead.Example.Fail", nil, nil)
	if varlinkd.ErrorName(err) != "io.stead.Example.NotFound" {
		t.Errorf("Fail() = %v, want io.stead.Example.NotFound", err)
	}
	// The connection stays usable after errors.
	var echo struct{ Text string }
	if err := c.Call(ctx, "io.stead.Example.Echo", map[string]any{"text": "ab", "count": 2}, &echo); err != nil || echo.Text != "abab" {
		t.Errorf("Echo = %q, %v", echo.Text, err)
	}
}

func TestOnewayGetsNoReply(t *testing.T) {
	_, sock := start(t, nil, nil)
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte(`{"method":"io.stead.Example.Echo","parameters":{"text":"x"},"oneway":true}` + "\x00"))
	conn.Write([]byte(`{"method":"io.stead.Example.Echo","parameters":{"bad":1},"oneway":true}` + "\x00"))
	m := rawCall(t, conn, `{"method":"io.stead.Example.Echo","parameters":{"text":"second"}}`)
	if p, _ := m["parameters"].(map[string]any); p["text"] != "second" {
		t.Errorf("first reply after oneway calls = %v, want the second call's", m)
	}
}

func TestServiceControl(t *testing.T) {
	level := new(slog.LevelVar)
	reloads := make(chan struct{}, 1)
	_, sock := start(t, level, func(context.Context) error { reloads <- struct{}{}; return nil })
	c := dial(t, sock)
	ctx := context.Background()
	if err := c.Call(ctx, "io.systemd.service.SetLogLevel", map[string]int{"level": 7}, nil); err != nil {
		t.Fatal(err)
	}
	if level.Level() != slog.LevelDebug {
		t.Errorf("level = %v after SetLogLevel(7), want debug", level.Level())
	}
	var got struct{ Level int }
	if err := c.Call(ctx, "io.systemd.service.GetLogLevel", nil, &got); err != nil || got.Level != 7 {
		t.Errorf("GetLogLevel = %d, %v", got.Level, err)
	}
	err := c.Call(ctx, "io.systemd.service.SetLogLevel", map[string]int{"level": 9}, nil)
	if varlinkd.ErrorName(err) != varlinkd.ErrInvalidParameter {
		t.Errorf("SetLogLevel(9) = %v, want InvalidParameter", err)
	}
	if err := c.Call(ctx, "io.systemd.service.Reload", nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reloads:
	case <-time.After(5 * time.Second):
		t.Error("Reload did not run the hook")
	}
}

func TestGarbageAndOversizedCloseOnlyTheirConnection(t *testing.T) {
	_, sock := start(t, nil, nil)
	bystander := dial(t, sock)
	ctx := context.Background()

	garbage, _ := net.Dial("unix", sock)
	defer garbage.Close()
	garbage.Write([]byte("{\"method\": nonsense\x00"))
	if _, err := readReply(garbage); !errors.Is(err, io.EOF) {
		t.Errorf("garbage: connection still open (%v)", err)
	}

	big, _ := net.Dial("unix", sock)
	defer big.Close()
	go func() {
		chunk := bytes.Repeat([]byte("a"), 1<<20)
		big.Write([]byte(`{"method":"io.stead.Example.Echo","parameters":{"text":"`))
		for i := 0; i < 20; i++ {
			if _, err := big.Write(chunk); err != nil {
				return
			}
		}
	}()
	big.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := readReply(big); err == nil || os.IsTimeout(err) {
		t.Errorf("oversized message: connection not closed (%v)", err)
	}

	// A large message under the limit is fine.
	var echo struct{ Text string }
	text := strings.Repeat("b", 4<<20)
	if err := bystander.Call(ctx, "io.stead.Example.Echo", map[string]any{"text": text}, &echo); err != nil || echo.Text != text {
		t.Errorf("4 MiB echo failed: %v", err)
	}
}

func TestThousandConcurrentConnections(t *testing.T) {
	_, sock := start(t, nil, nil)
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	conns := make(chan *varlinkd.Client, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			c, err := varlinkd.Dial(ctx, sock)
			if err != nil {
				errs <- err
				return
			}
			conns <- c // held open until every call is done, so all are concurrent
			want := fmt.Sprintf("client-%d", i)
			var out struct{ Text string }
			if err := c.Call(ctx, "io.stead.Example.Echo", map[string]any{"text": want}, &out); err != nil {
				errs <- err
			} else if out.Text != want {
				errs <- fmt.Errorf("client %d got %q", i, out.Text)
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(conns)
	for c := range conns {
		c.Close()
	}
	failed := 0
	for err := range errs {
		if failed++; failed <= 3 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d clients failed", failed, n)
	}
}

func TestRegistryAndCleanup(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- newServer(nil, nil).Run(ctx, varlinkd.Options{Root: root, Socket: socketPath, Mode: 0o600, Ready: func() { close(ready) }})
	}()
	<-ready
	sock := filepath.Join(root, socketPath)
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, %v; want 0600", fi.Mode(), err)
	}
	link := filepath.Join(root, varlinkd.RegistryDir, "io.stead.Example")
	if resolved, err := filepath.EvalSymlinks(link); err != nil || resolved != sock {
		t.Errorf("registry link resolves to %q (%v), want %q", resolved, err, sock)
	}
	for _, private := range []string{"io.systemd", "io.systemd.service", "org.varlink.service"} {
		if _, err := os.Lstat(filepath.Join(root, varlinkd.RegistryDir, private)); err == nil {
			t.Errorf("registry lists %s", private)
		}
	}
	// A second server on the same path must refuse rather than steal the socket.
	err = newServer(nil, nil).Run(ctx, varlinkd.Options{Root: root, Socket: socketPath})
	if err == nil || !strings.Contains(err.Error(), "another server") {
		t.Errorf("second server: %v, want refusal", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{sock, link} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind after stop", p)
		}
	}
}

func TestExecAddress(t *testing.T) {
	ctx := context.Background()
	self, _ := os.Executable()
	t.Setenv("VARLINKD_TEST_ROLE", "server")
	c, err := varlinkd.Dial(ctx, "exec:"+self)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Text string }
	if err := c.Call(ctx, "io.stead.Example.Echo", map[string]any{"text": "via exec"}, &out); err != nil || out.Text != "via exec" {
		t.Errorf("Echo over exec: = %q, %v", out.Text, err)
	}
	if err := c.Call(ctx, "io.systemd.service.Ping", nil, nil); err != nil {
		t.Error(err)
	}
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if c.ProcessState() == nil || !c.ProcessState().Success() {
		t.Errorf("exec'd server did not exit cleanly after EOF: %v", c.ProcessState())
	}
	t.Logf("server exited %v after the client closed", time.Since(start))
}

func TestActivatedListenerExitsWhenIdle(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "activated")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lf, _ := l.File()
	self, _ := os.Executable()
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0"`, self)
	cmd.Env = append(os.Environ(), "VARLINKD_TEST_ROLE=server", "LISTEN_FDS=1", "LISTEN_FDNAMES=varlink")
	cmd.ExtraFiles = []*os.File{lf}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	for i := 0; i < 3; i++ { // sequential connections keep it alive past the idle time
		c := dial(t, sock)
		if err := c.Call(context.Background(), "io.systemd.service.Ping", nil, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
		c.Close()
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("server exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("socket-activated server did not exit when idle")
	}
}

func TestPermissionDeniedForUnprivilegedPeer(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	root, sock := start(t, nil, nil)
	for d := filepath.Dir(sock); d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // let nobody reach the socket
		if d == root {
			break
		}
	}
	os.Chmod(filepath.Dir(root), 0o755)
	// The test binary's own directory is private: run a copy the other user can execute.
	self := filepath.Join(root, "client")
	if err := copyFile(self, mustExecutable(t)); err != nil {
		t.Fatal(err)
	}
	run := func(uid uint32) string {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), "VARLINKD_TEST_ROLE=client", "VARLINKD_TEST_ADDRESS="+sock)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("client as uid %d: %v", uid, err)
		}
		return string(out)
	}
	if got := run(65534); got != varlinkd.ErrPermissionDenied {
		t.Errorf("uid 65534 calling Secret: %q, want %s", got, varlinkd.ErrPermissionDenied)
	}
	if got := run(0); got != "" {
		t.Errorf("root calling Secret: %q, want success", got)
	}
}

func mustExecutable(t *testing.T) string {
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func copyFile(dst, src string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

func TestReadyNotification(t *testing.T) {
	dir := t.TempDir()
	ns := filepath.Join(dir, "notify")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ns, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	t.Setenv("NOTIFY_SOCKET", ns)
	start(t, nil, nil)
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Errorf("notify socket got %q, %v; want READY=1", buf[:n], err)
	}
}

// Of several activation fds the one named "varlink" is served, and the activation variables
// do not leak into the environment; fds passed for another pid are ignored.
func TestActivationFDNames(t *testing.T) {
	dir := t.TempDir()
	listen := func(name string) (*net.UnixListener, *os.File) {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, name), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		f, _ := l.File()
		return l, f
	}
	_, other := listen("other")
	_, vl := listen("varlink")
	self := mustExecutable(t)
	run := func(pid string) *exec.Cmd {
		cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=${PID_OVERRIDE:-$$}; export LISTEN_PID; exec "$0"`, self)
		cmd.Env = append(os.Environ(), "VARLINKD_TEST_ROLE=server", "LISTEN_FDS=2", "LISTEN_FDNAMES=other:varlink",
			"PID_OVERRIDE="+pid)
		cmd.ExtraFiles = []*os.File{other, vl}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	cmd := run("")
	c := dial(t, filepath.Join(dir, "varlink"))
	var out struct{ Environment []string }
	if err := c.Call(context.Background(), "io.systemd.service.GetEnvironment", nil, &out); err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, e := range out.Environment {
		if strings.HasPrefix(e, "LISTEN_") {
			t.Errorf("activation variable left in the environment: %s", e)
		}
	}
	if len(out.Environment) == 0 {
		t.Error("empty environment")
	}
	if err := cmd.Wait(); err != nil { // idle exit
		t.Errorf("server: %v", err)
	}

	// Not for us: no activation, and without a socket path the server refuses to run.
	if err := run("1").Wait(); err == nil {
		t.Error("fds passed to pid 1 were used")
	}
}
