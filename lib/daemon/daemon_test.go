package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	steadlog "github.com/stead-os/stead/lib/log"
	"github.com/stead-os/stead/lib/varlinkd"
)

const testSocket = "/run/test/io.stead.Test"

// notifications is a NOTIFY_SOCKET for one test: it records what arrives.
type notifications struct {
	conn *net.UnixConn
	done chan struct{}

	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T) *notifications {
	t.Helper()
	dir, err := os.MkdirTemp("", "daemon-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifications{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(n.done)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-n.done })
	t.Setenv("NOTIFY_SOCKET", p)
	return n
}

func (n *notifications) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

// count is how many messages carry assignment as one of their lines.
func (n *notifications) count(assignment string) int {
	c := 0
	for _, m := range n.all() {
		if hasLine(m, assignment) {
			c++
		}
	}
	return c
}

func hasLine(msg, line string) bool {
	for _, l := range strings.Split(msg, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// waitCount waits until count(assignment) reaches want.
func (n *notifications) waitCount(t *testing.T, assignment string, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); n.count(assignment) < want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d× %s, want %d; messages %q", n.count(assignment), assignment, want, n.all())
		}
	}
}

// fakeService is a Service whose start can be held back and whose reloads are counted.
type fakeService struct {
	hold    chan struct{} // Run calls ready only once this is closed (nil: at once)
	fail    chan struct{} // closing it makes Run return runErr
	runErr  error
	reloads atomic.Int32
	cause   chan error // receives context.Cause(ctx) when Run stops
}

func (f *fakeService) Run(ctx context.Context, ready func()) error {
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			f.cause <- context.Cause(ctx)
			return nil
		}
	}
	ready()
	select {
	case <-f.fail:
		return f.runErr
	case <-ctx.Done():
	}
	f.cause <- context.Cause(ctx)
	return nil
}

func (f *fakeService) Reload(context.Context) error {
	f.reloads.Add(1)
	return nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// running is one Daemon.Run in the background.
type running struct {
	d      *Daemon
	svc    *fakeService
	root   string
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, spec Spec, svc *fakeService) *running {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "test"
	}
	if spec.Root == "" {
		spec.Root = t.TempDir()
	}
	spec.Log = quiet()
	svc.cause = make(chan error, 1)
	r := &running{d: New(spec), svc: svc, root: spec.Root, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.d.Run(ctx, svc, Socket{Path: testSocket}) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

func (r *running) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-r.d.Ready():
	case err := <-r.done:
		r.done <- err
		t.Fatalf("Run ended before ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready after 10 s")
	}
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after 10 s")
		return nil
	}
}

func (r *running) dial(t *testing.T) *varlinkd.Client {
	t.Helper()
	c, err := varlinkd.Dial(context.Background(), "unix:"+filepath.Join(r.root, testSocket))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// READY=1 goes out once, after both the socket serves and the service said it is ready.
func TestReadyOnce(t *testing.T) {
	n := listenNotify(t)
	svc := &fakeService{hold: make(chan struct{})}
	r := start(t, Spec{}, svc)
	sock := filepath.Join(r.root, testSocket)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socket never appeared")
		}
	}
	time.Sleep(50 * time.Millisecond)
	if c := n.count("READY=1"); c != 0 {
		t.Fatalf("READY=1 sent %d× before the service was ready", c)
	}
	close(svc.hold)
	r.waitReady(t)
	n.waitCount(t, "READY=1", 1)
	r.dial(t) // the socket serves
	time.Sleep(50 * time.Millisecond)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	n.waitCount(t, "STOPPING=1", 1)
	if c := n.count("READY=1"); c != 1 {
		t.Errorf("READY=1 sent %d×, want once: %q", c, n.all())
	}
	msgs := n.all()
	if !hasLine(msgs[len(msgs)-1], "STOPPING=1") {
		t.Errorf("STOPPING=1 is not the last message: %q", msgs)
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("socket left behind")
	}
}

// A reload, over Varlink, through Daemon.Reload or on SIGHUP, is RELOADING=1 with
// MONOTONIC_USEC, Service.Reload, then READY=1.
func TestReloadNotifies(t *testing.T) {
	n := listenNotify(t)
	svc := &fakeService{}
	r := start(t, Spec{}, svc)
	r.waitReady(t)
	n.waitCount(t, "READY=1", 1)

	before := monotonicNow(t)
	if err := r.dial(t).Call(context.Background(), "io.systemd.service.Reload", nil, nil); err != nil {
		t.Fatal(err)
	}
	n.waitCount(t, "READY=1", 2)
	if err := r.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	n.waitCount(t, "READY=1", 3)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	n.waitCount(t, "READY=1", 4)
	if got := svc.reloads.Load(); got != 3 {
		t.Errorf("%d reloads, want 3", got)
	}

	msgs := n.all()
	if len(msgs) != 7 {
		t.Fatalf("messages %q, want READY and three RELOADING/READY pairs", msgs)
	}
	for i := 1; i < 7; i += 2 {
		if !hasLine(msgs[i], "RELOADING=1") || !hasLine(msgs[i+1], "READY=1") {
			t.Errorf("message %d, %d: %q, %q; want RELOADING=1 then READY=1", i, i+1, msgs[i], msgs[i+1])
		}
		usec, err := strconv.ParseUint(value(msgs[i], "MONOTONIC_USEC"), 10, 64)
		if err != nil || usec < before || usec > monotonicNow(t) {
			t.Errorf("MONOTONIC_USEC in %q: not a CLOCK_MONOTONIC time after %d", msgs[i], before)
		}
	}
}

func value(msg, key string) string {
	for _, l := range strings.Split(msg, "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return v
		}
	}
	return ""
}

func monotonicNow(t *testing.T) uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3
}

// A socket that cannot be made fails Run without READY=1, and the service is stopped.
func TestSocketFailure(t *testing.T) {
	n := listenNotify(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "run"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	svc := &fakeService{}
	svc.cause = make(chan error, 1)
	d := New(Spec{Name: "test", Root: root, Log: quiet()})
	code := d.ExitCode(d.Run(context.Background(), svc, Socket{Path: testSocket}))
	if code != ExitFailure {
		t.Errorf("exit code %d, want %d", code, ExitFailure)
	}
	select {
	case <-svc.cause:
	case <-time.After(time.Second):
		t.Error("the service was not stopped")
	}
	time.Sleep(50 * time.Millisecond)
	if msgs := n.all(); len(msgs) != 0 {
		t.Errorf("notifications %q, want none", msgs)
	}
}

// A failing service fails Run (exit 1); STOPPING=1 follows READY=1.
func TestServiceFailure(t *testing.T) {
	n := listenNotify(t)
	svc := &fakeService{runErr: errors.New("broken"), fail: make(chan struct{})}
	r := start(t, Spec{}, svc)
	r.waitReady(t)
	close(svc.fail)
	var err error
	select {
	case err = <-r.done:
		r.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if err == nil || err.Error() != "broken" || r.d.ExitCode(err) != ExitFailure {
		t.Errorf("Run: %v, want broken (exit 1)", err)
	}
	n.waitCount(t, "STOPPING=1", 1)
}

// SIGTERM stops the daemon cleanly; the restart signal stops it with the restart cause.
func TestSignals(t *testing.T) {
	for _, c := range []struct {
		name  string
		sig   syscall.Signal
		cause error
	}{
		{"SIGTERM", syscall.SIGTERM, context.Canceled},
		{"SIGUSR2", syscall.SIGUSR2, ErrRestart},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := listenNotify(t)
			svc := &fakeService{}
			r := start(t, Spec{RestartSignal: syscall.SIGUSR2}, svc)
			r.waitReady(t)
			syscall.Kill(os.Getpid(), c.sig)
			select {
			case err := <-r.done:
				r.done <- err
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			if got := <-svc.cause; !errors.Is(got, c.cause) {
				t.Errorf("cause %v, want %v", got, c.cause)
			}
			n.waitCount(t, "STOPPING=1", 1)
		})
	}
}

// WATCHDOG=1 goes out at half of WATCHDOG_USEC, and not when WATCHDOG_PID names another
// process.
func TestWatchdog(t *testing.T) {
	for _, c := range []struct {
		name string
		pid  string
		want bool
	}{{"ours", strconv.Itoa(os.Getpid()), true}, {"unset", "", true}, {"other", "1", false}} {
		t.Run(c.name, func(t *testing.T) {
			n := listenNotify(t)
			t.Setenv("WATCHDOG_USEC", "100000")
			if c.pid != "" {
				t.Setenv("WATCHDOG_PID", c.pid)
			} else {
				t.Setenv("WATCHDOG_PID", "")
				os.Unsetenv("WATCHDOG_PID")
			}
			r := start(t, Spec{}, &fakeService{})
			r.waitReady(t)
			time.Sleep(400 * time.Millisecond)
			got := n.count("WATCHDOG=1")
			if c.want && got < 4 {
				t.Errorf("%d× WATCHDOG=1 in 400 ms at a 100 ms interval, want at least 4", got)
			}
			if !c.want && got != 0 {
				t.Errorf("%d× WATCHDOG=1 for another pid", got)
			}
		})
	}
}

// io.systemd.service.SetLogLevel changes lib/log's live level; the server reports Info.
func TestVarlinkHooks(t *testing.T) {
	defer steadlog.LevelVar().Set(steadlog.LevelVar().Level())
	r := start(t, Spec{Name: "testd", Version: "9"}, &fakeService{})
	r.waitReady(t)
	c := r.dial(t)
	if err := c.Call(context.Background(), "io.systemd.service.SetLogLevel", map[string]any{"level": 7}, nil); err != nil {
		t.Fatal(err)
	}
	if l := steadlog.LevelVar().Level(); l != slog.LevelDebug {
		t.Errorf("level %v after SetLogLevel 7", l)
	}
	var info struct{ Vendor, Product, Version, URL string }
	if err := c.Call(context.Background(), "org.varlink.service.GetInfo", nil, &info); err != nil {
		t.Fatal(err)
	}
	if info.Vendor != Vendor || info.Product != "testd" || info.Version != "9" || info.URL != URL {
		t.Errorf("GetInfo: %+v", info)
	}
}
