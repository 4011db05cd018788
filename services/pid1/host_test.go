package pid1

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/notify"
	"github.com/stead-os/stead/lib/varlinkd"
)

// TestMain doubles as the exec shim and as helper services, so the
// manager under test can run this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "--exec-shim":
			err := ExecShim(os.Args[2:])
			fmt.Fprintln(os.Stderr, "exec-shim:", err)
			os.Exit(203)
		case "-helper=notify":
			fmt.Println("notify helper starting")
			time.Sleep(200 * time.Millisecond) // still activating meanwhile
			if _, err := notify.Status("warming up"); err != nil {
				os.Exit(4)
			}
			if _, err := notify.Ready(); err != nil {
				os.Exit(5)
			}
			waitTerm()
			os.Exit(0)
		case "-helper=socket":
			serveSocket()
			os.Exit(0)
		case "-helper=fdstore":
			sendManyFDs()
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

func waitTerm() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	<-c
}

// serveSocket checks the activation variables and answers each connection
// with what it found.
func serveSocket() {
	pidOK := os.Getenv("LISTEN_PID") == fmt.Sprint(os.Getpid())
	msg := fmt.Sprintf("pid-ok=%v fds=%s names=%s\n", pidOK, os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES"))
	f := os.NewFile(3, "listen")
	l, err := net.FileListener(f)
	if err != nil {
		fmt.Println("no listener:", err)
		os.Exit(6)
	}
	go waitTermExit()
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(7)
		}
		_, _ = c.Write([]byte(msg))
		c.Close()
	}
}

func waitTermExit() {
	waitTerm()
	os.Exit(0)
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitState(t *testing.T, m *Manager, name string, ok func(UnitStatus) bool, what string) UnitStatus {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		ch := m.Changed()
		s, err := m.Status(name)
		if err != nil {
			t.Fatal(err)
		}
		if ok(s) {
			return s
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%s: waiting for %s, have %+v", name, what, s)
		}
	}
}

func TestHostModeServices(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.MkdirTemp("", "pid1") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	marker := filepath.Join(root, "oneshot-ran")
	writeUnit(t, root, "default.target", `[Unit]
Description=Default
Wants=oneshot.service simple.service notify.service crash.service echo.socket
After=oneshot.service notify.service
`)
	writeUnit(t, root, "oneshot.service", fmt.Sprintf(`[Service]
Type=oneshot
RemainAfterExit=yes
Environment=WORD=hello
ExecStart=/bin/sh -c "echo $WORD from %%n; touch %s"
ExecStart=-/bin/false
ExecStop=/bin/sh -c "touch %s-stopped"
`, marker, marker))
	writeUnit(t, root, "simple.service", "[Service]\nExecStart=/bin/sleep 600\nRuntimeDirectory=simple\n")
	writeUnit(t, root, "notify.service", fmt.Sprintf("[Service]\nType=notify\nExecStart=%s -helper=notify\n", self))
	writeUnit(t, root, "crash.service", `[Unit]
StartLimitIntervalSec=1min
StartLimitBurst=3
[Service]
ExecStart=/bin/sh -c "echo crashing; exit 3"
Restart=on-failure
RestartSec=50ms
`)
	writeUnit(t, root, "echo.socket", "[Socket]\nListenStream=/run/echo.sock\nFileDescriptorName=echo\n")
	writeUnit(t, root, "echo.service", fmt.Sprintf("[Service]\nExecStart=%s -helper=socket\n", self))
	writeUnit(t, root, "bad.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
	writeUnit(t, root, "needsbad.service", "[Unit]\nRequires=bad.service\nAfter=bad.service\n[Service]\nExecStart=/bin/sleep 600\n")

	out := &lockedBuf{}
	m, err := New(Config{Root: root, Host: true, Logger: quietLogger(), Output: out, ShimArgv: []string{self, "--exec-shim"}, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, nil) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(40 * time.Second):
			t.Error("manager did not stop")
		}
	}()

	waitState(t, m, "default.target", func(s UnitStatus) bool { return s.ActiveState == StateActive }, "active")
	// After= ordering: oneshot and notify were up before the target.
	if s, _ := m.Status("oneshot.service"); s.ActiveState != StateActive || s.SubState != "exited" {
		t.Errorf("oneshot: %+v", s)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("oneshot did not run: %v", err)
	}
	if s, _ := m.Status("notify.service"); s.ActiveState != StateActive || s.StatusText != "warming up" || s.MainPID == 0 {
		t.Errorf("notify: %+v", s)
	}
	s := waitState(t, m, "simple.service", func(s UnitStatus) bool { return s.ActiveState == StateActive }, "active")
	if s.SubState != "running" || s.MainPID == 0 {
		t.Errorf("simple: %+v", s)
	}
	if _, err := os.Stat(filepath.Join(root, "run/simple")); err != nil {
		t.Errorf("RuntimeDirectory: %v", err)
	}
	s = waitState(t, m, "crash.service", func(s UnitStatus) bool { return s.ActiveState == StateFailed }, "failed")
	if s.Result != "start-limit-hit" || s.NRestarts != 3 {
		t.Errorf("crash: %+v", s)
	}

	// Socket activation: the service starts on the first connection.
	if s, _ := m.Status("echo.service"); s.ActiveState != StateInactive {
		t.Errorf("echo.service started early: %+v", s)
	}
	waitState(t, m, "echo.socket", func(s UnitStatus) bool { return s.ActiveState == StateActive }, "listening")
	c, err := net.Dial("unix", filepath.Join(root, "run/echo.sock"))
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := "pid-ok=true fds=1 names=echo\n"; line != want {
		t.Errorf("socket service said %q, want %q", line, want)
	}
	waitState(t, m, "echo.service", func(s UnitStatus) bool { return s.ActiveState == StateActive }, "active")

	// Requires= on a unit that fails fails the dependent job.
	j, err := m.Enqueue("needsbad.service", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	if r := waitJob(t, j); r != ResultDependency {
		t.Errorf("needsbad job: %s", r)
	}
	if s, _ := m.Status("bad.service"); s.ActiveState != StateFailed || s.Result != "exit-code" {
		t.Errorf("bad: %+v", s)
	}

	// Stop and restart jobs.
	j, _ = m.Enqueue("simple.service", JobRestart)
	if r := waitJob(t, j); r != ResultDone {
		t.Errorf("restart: %s", r)
	}
	s2, _ := m.Status("simple.service")
	if s2.ActiveState != StateActive || s2.MainPID == s.MainPID {
		t.Errorf("after restart: %+v (before pid %d)", s2, s.MainPID)
	}
	j, _ = m.Enqueue("notify.service", JobStop)
	if r := waitJob(t, j); r != ResultDone {
		t.Errorf("stop: %s", r)
	}
	if s, _ := m.Status("notify.service"); s.ActiveState != StateInactive {
		t.Errorf("notify after stop: %+v", s)
	}

	// io.systemd.Manager.
	vc, err := varlinkd.Dial(ctx, "unix:"+filepath.Join(root, SocketPath))
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	var desc struct {
		Context ManagerContext             `json:"context"`
		Runtime map[string]json.RawMessage `json:"runtime"`
	}
	if err := vc.Call(ctx, "io.systemd.Manager.Describe", nil, &desc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ReloadCount", "SoftRebootsCount", "KExecsCount", "NNames", "SystemState", "Version"} {
		if _, ok := desc.Runtime[k]; !ok {
			t.Errorf("Describe runtime lacks %s: %v", k, desc.Runtime)
		}
	}
	if string(desc.Runtime["ReloadCount"]) != "0" || string(desc.Runtime["SystemState"]) != `"degraded"` {
		t.Errorf("ReloadCount %s SystemState %s", desc.Runtime["ReloadCount"], desc.Runtime["SystemState"])
	}
	writeUnit(t, root, "simple.service", "[Unit]\nDescription=changed\n[Service]\nExecStart=/bin/sleep 600\n")
	if err := vc.Call(ctx, "io.systemd.Manager.Reload", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := vc.Call(ctx, "io.systemd.Manager.Describe", nil, &desc); err != nil {
		t.Fatal(err)
	}
	if string(desc.Runtime["ReloadCount"]) != "1" {
		t.Errorf("ReloadCount after Reload = %s", desc.Runtime["ReloadCount"])
	}
	m.mu.Lock()
	d := m.units["simple.service"].u.Unit.Description
	m.mu.Unlock()
	if d != "changed" {
		t.Errorf("reload did not re-read simple.service: %q", d)
	}

	// io.systemd.Unit.List, on the same socket.
	var one struct {
		Context UnitContext `json:"context"`
		Runtime UnitRuntime `json:"runtime"`
	}
	if err := vc.Call(ctx, "io.systemd.Unit.List", map[string]any{"name": "oneshot.service"}, &one); err != nil {
		t.Fatal(err)
	}
	if one.Context.ID != "oneshot.service" || one.Context.Type != "service" || one.Runtime.ActiveState != "active" || one.Runtime.SubState != "exited" {
		t.Errorf("List oneshot: %+v", one)
	}
	err = vc.Call(ctx, "io.systemd.Unit.List", map[string]any{"name": "nope.service"}, &one)
	if varlinkd.ErrorName(err) != "io.systemd.Unit.NoSuchUnit" {
		t.Errorf("List nope: %v", err)
	}
	var names []string
	err = vc.Stream(ctx, "io.systemd.Unit.List", map[string]any{}, func(reply json.RawMessage) error {
		var r struct {
			Context UnitContext `json:"context"`
		}
		if err := json.Unmarshal(reply, &r); err != nil {
			return err
		}
		names = append(names, r.Context.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Sorted by name; units only referred to (slices, targets, mounts of paths) are listed
	// too, as upstream lists them.
	if len(names) < 8 || !sort.StringsAreSorted(names) || !slices.Contains(names, "bad.service") {
		t.Errorf("List with more: %v", names)
	}

	j, _ = m.Enqueue("oneshot.service", JobStop)
	if r := waitJob(t, j); r != ResultDone {
		t.Errorf("stop oneshot: %s", r)
	}
	if _, err := os.Stat(marker + "-stopped"); err != nil {
		t.Errorf("ExecStop of a RemainAfterExit oneshot did not run: %v", err)
	}

	o := out.String()
	for _, want := range []string{"oneshot.service: hello from oneshot.service\n", "crash.service: crashing\n", "notify.service: notify helper starting\n"} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
}
