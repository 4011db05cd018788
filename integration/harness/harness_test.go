package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/notify"
)

// The helper daemon: this test binary run again with STEAD_HARNESS_HELPER set.
func TestHelperDaemon(t *testing.T) {
	mode := os.Getenv("STEAD_HARNESS_HELPER")
	if mode == "" {
		return
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Println("helper up")
	switch mode {
	case "exit":
		fmt.Println("giving up")
		os.Exit(3)
	case "silent":
		<-term
		os.Exit(0)
	case "lifecycle":
		notify.Status("starting")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := notify.Barrier(ctx); err != nil {
			fmt.Println("barrier:", err)
			os.Exit(1)
		}
		cancel()
		notify.Ready()
		notify.Reloading()
		notify.Ready()
		<-term
		notify.Stopping()
		os.Exit(0)
	}
}

func helper(mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDaemon$")
	cmd.Env = append(os.Environ(), "STEAD_HARNESS_HELPER="+mode, "NOTIFY_SOCKET=/nonexistent/parent")
	return cmd
}

func TestWaitReadyAndNotifications(t *testing.T) {
	d := StartDaemon(t, helper("lifecycle"), WaitReady())
	if p := d.NotifySocketPath(); len(p) >= 108 || !strings.HasPrefix(filepath.Base(filepath.Dir(p)), "stead-notify-") {
		t.Errorf("notify socket %q", p)
	}
	m := d.WaitNotified(t, "READY=1", 2, 10*time.Second)
	if m.PID != d.Cmd.Process.Pid {
		t.Errorf("READY=1 from pid %d, want %d", m.PID, d.Cmd.Process.Pid)
	}
	d.Stop()
	msgs := d.Notifications()
	var got []string
	for _, m := range msgs {
		if m.Has("BARRIER=1") {
			if m.FDs != 1 {
				t.Errorf("BARRIER=1 with %d fds", m.FDs)
			}
			got = append(got, "BARRIER=1")
			continue
		}
		if m.Has("RELOADING=1") {
			if v, ok := m.Get("MONOTONIC_USEC"); !ok || v == "" {
				t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", m.Text)
			}
			got = append(got, "RELOADING=1")
			continue
		}
		got = append(got, m.Text)
	}
	if want := "STATUS=starting BARRIER=1 READY=1 RELOADING=1 READY=1 STOPPING=1"; strings.Join(got, " ") != want {
		t.Errorf("notifications %q, want %s", got, want)
	}
	if n := d.NotifyCount("READY=1"); n != 2 {
		t.Errorf("NotifyCount(READY=1) = %d", n)
	}
}

func TestNotifySocketRecordsOnly(t *testing.T) {
	d := StartDaemon(t, helper("silent"), NotifySocket())
	Eventually(t, "the helper's output", 10*time.Second, func() bool { return strings.Contains(d.Out.String(), "helper up") })
	if n := d.Notifications(); len(n) != 0 {
		t.Errorf("notifications from a silent daemon: %v", n)
	}
	if env := d.Cmd.Env; strings.Count(strings.Join(env, "\n"), "NOTIFY_SOCKET=") != 1 {
		t.Errorf("NOTIFY_SOCKET not replaced: %q", env)
	}
}

// fakeTB records what a harness function reports; Fatal and Skip end its goroutine.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	msgs     []string
	failed   bool
	skipped  bool
	cleanups []func()
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Logf(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, fmt.Sprintf(format, a...))
}
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.Logf(format, a...)
	f.mu.Lock()
	f.failed = true
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Fatal(a ...any)   { f.Fatalf("%s", fmt.Sprint(a...)) }
func (f *fakeTB) Skip(a ...any)    { f.Logf("%s", fmt.Sprint(a...)); f.skipped = true; runtime.Goexit() }
func (f *fakeTB) Failed() bool     { f.mu.Lock(); defer f.mu.Unlock(); return f.failed }
func (f *fakeTB) Cleanup(c func()) { f.cleanups = append(f.cleanups, c) }

// run calls body as a test would and then its cleanups; it returns everything reported.
func (f *fakeTB) run(body func(testing.TB)) string {
	done := make(chan struct{})
	go func() { defer close(done); body(f) }()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	return strings.Join(f.msgs, "\n")
}

func TestWaitReadyFailures(t *testing.T) {
	f := &fakeTB{TB: t}
	out := f.run(func(tb testing.TB) { StartDaemon(tb, helper("exit"), WaitReady()) })
	if !f.failed || !strings.Contains(out, "not ready: exited (exit status 3)") || !strings.Contains(out, "giving up") {
		t.Errorf("a daemon exiting before READY=1: failed %v\n%s", f.failed, out)
	}
	f = &fakeTB{TB: t}
	start := time.Now()
	out = f.run(func(tb testing.TB) { StartDaemon(tb, helper("silent"), WaitReadyWithin(300*time.Millisecond)) })
	if !f.failed || !strings.Contains(out, "0× READY=1 after 300ms") || !strings.Contains(out, "helper up") {
		t.Errorf("a daemon that never gets ready: failed %v\n%s", f.failed, out)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the silent daemon took %v to fail and stop", el)
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, "the third call", 5*time.Second, func() bool { n++; return n == 3 })
	f := &fakeTB{TB: t}
	var b SyncBuffer
	b.Write([]byte("the log"))
	start := time.Now()
	out := f.run(func(tb testing.TB) {
		Eventually(tb, "nothing", 200*time.Millisecond, func() bool { return false }, Output("daemon log", &b))
	})
	if el := time.Since(start); el < 200*time.Millisecond || el > 2*time.Second {
		t.Errorf("Eventually gave up after %v", el)
	}
	if !f.failed || out != "timed out after 200ms waiting for nothing\ndaemon log:\nthe log" {
		t.Errorf("Eventually's failure: %q", out)
	}
	if Poll(50*time.Millisecond, func() bool { return false }) {
		t.Error("Poll of false reported true")
	}
}

func TestRequire(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		f := &fakeTB{TB: t}
		out := f.run(func(tb testing.TB) { NeedCommand(tb, "stead-no-such-program", "stead-pkg") })
		want := "missing prerequisite: stead-no-such-program is not installed (Debian: apt-get install stead-pkg)"
		if !strings.HasPrefix(out, want) || f.failed != (ci == "true") || f.skipped == (ci == "true") {
			t.Errorf("CI=%q: failed %v skipped %v: %q", ci, f.failed, f.skipped, out)
		}
	}
}

func TestWriteFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a/b/c")
	WriteFile(t, p, "x", 0o600)
	WriteFile(t, p, "yz", 0o755)
	st, err := os.Stat(p)
	if b, _ := os.ReadFile(p); err != nil || string(b) != "yz" || st.Mode().Perm() != 0o755 {
		t.Errorf("%q %v %v", b, st.Mode(), err)
	}
}
