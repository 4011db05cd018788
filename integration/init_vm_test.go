//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm"
)

// initVMUnits is the test system: the agent, a oneshot (brings lo up), a simple service, a
// socket-activated service, a crashing service with a start limit and a unit with a syntax
// error, all pulled in by default.target.
var initVMUnits = map[string]string{
	"stead-vm-agent.service": vm.AgentUnit,
	"default.target": `[Unit]
Description=Default target of the VM test system
Wants=stead-vm-agent.service lo-up.service sleeper.service echo.socket crash.service bad.service
After=stead-vm-agent.service lo-up.service sleeper.service echo.socket
`,
	"lo-up.service": `[Unit]
Description=Bring the loopback up
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/busybox ip link set lo up
ExecStart=/bin/sh -c 'echo lo is up'
`,
	"sleeper.service": `[Unit]
Description=A simple service
[Service]
ExecStart=/bin/sh -c 'echo sleeper started; exec sleep 100000'
`,
	"echo.socket": `[Unit]
Description=Socket of echo.service
[Socket]
ListenStream=7777
`,
	"echo.service": `[Unit]
Description=A socket-activated service
[Service]
ExecStart=/bin/sh -c 'echo "pid=$$$$ listen_pid=$LISTEN_PID fds=$LISTEN_FDS" >/run/echo.env; exec sleep 100000'
`,
	"crash.service": `[Unit]
Description=A service that always fails
StartLimitIntervalSec=60
StartLimitBurst=3
[Service]
ExecStart=/bin/sh -c 'echo crash attempt; exit 3'
Restart=on-failure
RestartSec=300ms
`,
	"bad.service": `[Unit]
Description=A unit with a syntax error
this line has no equals sign
[Service]
ExecStart=/bin/sh -c 'echo bad started anyway; exec sleep 100000'
`,
}

type initVMUnitReply struct {
	Runtime struct {
		LoadState, ActiveState, SubState string
	} `json:"runtime"`
}

// initVMUnit asks our init (through `/init --call` in the guest) for a unit's state.
func initVMUnit(t *testing.T, m *vm.VM, name string) initVMUnitReply {
	t.Helper()
	out := m.MustRun(t, "/init", "--call", "io.systemd.Unit.List", `{"name":"`+name+`"}`)
	var r initVMUnitReply
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("List %s: %v: %q", name, err, out)
	}
	return r
}

// initVMWaitState polls until name is in state (or the deadline).
func initVMWaitState(t *testing.T, m *vm.VM, name, state string, d time.Duration) initVMUnitReply {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		r := initVMUnit(t, m, name)
		if r.Runtime.ActiveState == state || time.Now().After(deadline) {
			return r
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestInitVMBoot boots stead's init as the real PID 1 (the kernel runs /init directly) with
// the agent started from a unit, checks units, socket activation, orphan reaping, a restart
// loop up to the start limit and a bad unit file, then powers off through SIGRTMIN+4.
func TestInitVMBoot(t *testing.T) {
	files := map[string]vm.File{}
	for name, content := range initVMUnits {
		files["/etc/systemd/system/"+name] = vm.File{Data: []byte(content)}
	}
	m := vm.Boot(t, vm.Options{
		Init:  harness.Binary(t, "cmd/init"),
		Agent: vm.AgentByInit,
		Files: files,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Logf("boot (qemu start → agent answers): %v, guest uptime %v", m.BootTime(), m.GuestUptime())

	if err := m.WaitConsole(ctx, `msg="reached default.target"`); err != nil {
		t.Fatal(err)
	}
	if mm := regexp.MustCompile(`msg="reached default.target" uptime=(\S+)`).FindStringSubmatch(m.Console()); mm != nil {
		t.Logf("boot to default.target: guest uptime %s", mm[1])
	}

	t.Run("PID1", func(t *testing.T) {
		if got := m.MustRun(t, "cat", "/proc/1/cmdline"); got != "/init\x00" {
			t.Errorf("PID 1 is %q", got)
		}
		if got := m.MustRun(t, "sh", "-c", "cat /proc/$PPID/cmdline"); got != vm.AgentPath+"\x00" {
			t.Errorf("parent of the command: %q", got)
		}
		for _, dir := range []string{"/proc", "/sys", "/dev", "/run", "/sys/fs/cgroup"} {
			m.MustRun(t, "grep", "-q", "^[^ ]* "+dir+" ", "/proc/mounts")
		}
	})
	t.Run("Units", func(t *testing.T) {
		for name, want := range map[string]string{
			"default.target":         "active",
			"stead-vm-agent.service": "active",
			"lo-up.service":          "active",
			"sleeper.service":        "active",
			"echo.socket":            "active",
			"echo.service":           "inactive",
		} {
			if r := initVMUnit(t, m, name); r.Runtime.ActiveState != want {
				t.Errorf("%s: %+v, want %s", name, r.Runtime, want)
			}
		}
		list := m.MustRun(t, "/init", "--call", "io.systemd.Unit.List", "--more")
		if n := strings.Count(list, "\n") + 1; n < len(initVMUnits) {
			t.Errorf("List --more: %d units, want at least %d:\n%s", n, len(initVMUnits), list)
		}
		out := m.MustRun(t, "/init", "--call", "io.systemd.Manager.Describe")
		if !strings.Contains(out, `"Version"`) {
			t.Errorf("Describe: %s", out)
		}
	})
	t.Run("SocketActivation", func(t *testing.T) {
		// The service never accepts: the connection waits in the backlog, nc until its timeout.
		if _, err := m.Exec(ctx, vm.Command{Argv: []string{"sh", "-c", "echo hi | nc 127.0.0.1 7777"},
			Timeout: 3 * time.Second}); err != nil {
			t.Fatal(err)
		}
		if r := initVMWaitState(t, m, "echo.service", "active", 20*time.Second); r.Runtime.ActiveState != "active" {
			t.Fatalf("echo.service after a connection: %+v", r.Runtime)
		}
		env := ""
		for i := 0; i < 50; i++ {
			b, err := m.GetFile(ctx, "/run/echo.env")
			if err == nil && len(b) > 0 {
				env = strings.TrimSpace(string(b))
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		mm := regexp.MustCompile(`^pid=(\d+) listen_pid=(\d+) fds=1$`).FindStringSubmatch(env)
		if mm == nil || mm[1] != mm[2] {
			t.Errorf("echo.service environment: %q", env)
		}
	})
	t.Run("ReapOrphan", func(t *testing.T) {
		pid := m.MustRun(t, "sh", "-c", "sleep 1 </dev/null >/dev/null 2>&1 & echo $!")
		if _, err := strconv.Atoi(pid); err != nil {
			t.Fatalf("pid %q", pid)
		}
		// The shell exited: the sleep is an orphan, re-parented to PID 1.
		if st := m.MustRun(t, "sh", "-c", "cat /proc/"+pid+"/stat 2>/dev/null; true"); st != "" {
			if f := strings.Fields(st[strings.LastIndex(st, ")")+1:]); len(f) < 2 || f[1] != "1" {
				t.Errorf("orphan's stat: %q, want parent 1", st)
			}
		}
		time.Sleep(2500 * time.Millisecond)
		if st := m.MustRun(t, "sh", "-c", "cat /proc/"+pid+"/stat 2>/dev/null; true"); st != "" {
			t.Errorf("orphan not reaped: %q", st)
		}
		if z := m.MustRun(t, "sh", "-c", "grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null; true"); z != "" {
			t.Errorf("zombies: %s", z)
		}
	})
	t.Run("RestartUntilStartLimit", func(t *testing.T) {
		r := initVMWaitState(t, m, "crash.service", "failed", 30*time.Second)
		if r.Runtime.ActiveState != "failed" {
			t.Fatalf("crash.service: %+v", r.Runtime)
		}
		time.Sleep(time.Second) // no further restart
		if n := strings.Count(m.Console(), "crash.service: crash attempt"); n != 3 {
			t.Errorf("crash.service started %d times, want 3 (StartLimitBurst)", n)
		}
		if !strings.Contains(m.Console(), `msg="start request repeated too quickly" unit=crash.service`) {
			t.Error("no start limit message on the console")
		}
	})
	t.Run("BadUnitFile", func(t *testing.T) {
		if !strings.Contains(m.Console(), "/etc/systemd/system/bad.service:3") {
			t.Error("the syntax error is not reported with file:line on the console")
		}
		if r := initVMUnit(t, m, "bad.service"); r.Runtime.ActiveState != "active" {
			t.Errorf("bad.service: %+v (the bad line should only be skipped)", r.Runtime)
		}
	})

	// A straggler outside every unit that ignores SIGTERM (the agent runs commands in their
	// own process group, so stopping the agent's unit leaves it): shutdown must SIGKILL it.
	m.MustRun(t, "sh", "-c", "(trap '' TERM; while :; do sleep 1; done) </dev/null >/dev/null 2>&1 &")
	// Orderly poweroff: SIGRTMIN+4 (what systemctl poweroff sends PID 1), sent once this
	// command returned.
	m.MustRun(t, "sh", "-c", "(sleep 0.5; kill -38 1) >/dev/null 2>&1 &")
	start := time.Now()
	if err := m.Wait(ctx); err != nil {
		t.Errorf("qemu: %v", err)
	}
	t.Logf("poweroff took %v", time.Since(start))
	con := m.Console()
	for _, s := range []string{`msg="all units stopped" action=poweroff`, `msg="system poweroff"`} {
		if !strings.Contains(con, s) {
			t.Errorf("console lacks %q", s)
		}
	}
	if strings.Contains(con, "Kernel panic") {
		t.Error("kernel panic on the console")
	}
	for _, s := range []string{`msg="sending SIGTERM to remaining processes"`, `msg="sending SIGKILL to remaining processes"`} {
		if !strings.Contains(con, s) {
			t.Errorf("console lacks %q (the straggler)", s)
		}
	}
	// Stops run in reverse order: default.target (After= the services) goes down before them.
	target := strings.Index(con, "unit=default.target from=active to=inactive")
	sleeper := strings.Index(con, "unit=sleeper.service from=deactivating to=inactive")
	if target < 0 || sleeper < 0 || target > sleeper {
		t.Errorf("stop order: default.target at %d, sleeper.service at %d", target, sleeper)
	}
}

// TestInitVMPanicEmergencyShell: a Go panic in init (forced with stead.debug_panic on the
// kernel command line) drops to an emergency shell on the console instead of exiting, which
// would panic the kernel (and, with panic=-1, end qemu).
func TestInitVMPanicEmergencyShell(t *testing.T) {
	m := vm.Boot(t, vm.Options{
		Init:          harness.Binary(t, "cmd/init"),
		Agent:         vm.AgentNone,
		KernelCmdline: "stead.debug_panic",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := m.WaitConsole(ctx, "init: starting emergency shell /bin/sh"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Console(), "init: emergency: panic: stead.debug_panic") {
		t.Error("the panic is not reported on the console")
	}
	select {
	case <-m.Done():
		t.Fatal("qemu exited: PID 1 did not survive its panic")
	case <-time.After(3 * time.Second):
	}
	if strings.Contains(m.Console(), "Kernel panic") {
		t.Error("kernel panic on the console")
	}
	m.Stop()
}
