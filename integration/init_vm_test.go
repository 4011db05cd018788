//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm"
	"github.com/stead-os/stead/integration/vm/suite"
	"github.com/stead-os/stead/lib/api/iosystemdunit"
)

const imdsSocketPath = "/run/systemd/io.systemd.InstanceMetadata"

// initVMUnits are the test's own units beside the stead suite's (integration/vm/suite: the
// agent, units/, networkd): a oneshot (brings lo up), a simple service, a socket-activated
// service, a crashing service with a start limit and a unit with a syntax error, all pulled
// in by default.target with stead's imdsd socket and networkd.
var initVMUnits = map[string]string{
	"default.target": `[Unit]
Description=Default target of the VM test system
Wants=stead-vm-agent.service systemd-imdsd.socket systemd-networkd-varlink.socket systemd-networkd.service lo-up.service sleeper.service echo.socket crash.service bad.service
After=stead-vm-agent.service systemd-imdsd.socket systemd-networkd-varlink.socket systemd-networkd.service lo-up.service sleeper.service echo.socket
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

type initVMUnitReply = iosystemdunit.Unit

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

// initVMWaitState polls until name is in state (or d has passed) and returns the last reply.
func initVMWaitState(t *testing.T, m *vm.VM, name, state string, d time.Duration) initVMUnitReply {
	t.Helper()
	var r initVMUnitReply
	harness.Poll(d, func() bool {
		r = initVMUnit(t, m, name)
		return r.Runtime.ActiveState == state
	})
	return r
}

// TestInitVMBoot boots stead's init as the real PID 1 (the kernel runs /init directly) with
// the stead suite (integration/vm/suite: units/, imdsd, networkd, steadctl when it exists,
// the agent started from a unit) and the test's own units; it checks units, socket
// activation (ours and stead's imdsd socket), upstream varlinkctl against
// io.systemd.Manager, orphan reaping, a restart loop up to the start limit and a bad unit
// file, then powers off through SIGRTMIN+4 with a straggler that ignores SIGTERM.
func TestInitVMBoot(t *testing.T) {
	files, err := suite.Files(harness.RepoRoot(), func(pkg string) (string, error) { return harness.Binary(t, pkg), nil })
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range initVMUnits {
		files["/etc/systemd/system/"+name] = vm.File{Data: []byte(content)}
	}
	// Upstream's varlinkctl with its libraries and loader, when the upstream root is there
	// (only this subtest is skipped otherwise).
	var up *harness.Upstream
	t.Run("UpstreamRoot", func(t *testing.T) { up = harness.NeedUpstream(t) })
	if up != nil {
		vf, err := vm.DynamicFiles(up.Dir, suite.UpstreamVarlinkctl)
		if err != nil {
			t.Fatalf("upstream varlinkctl: %v", err)
		}
		for p, f := range vf {
			files[p] = f
		}
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
		if n := strings.Count(list, "\n") + 1; n < len(initVMUnits)+3 {
			t.Errorf("List --more: %d units, want at least %d:\n%s", n, len(initVMUnits)+3, list)
		}
		out := m.MustRun(t, "/init", "--call", "io.systemd.Manager.Describe")
		if !strings.Contains(out, `"Version"`) {
			t.Errorf("Describe: %s", out)
		}
	})
	t.Run("SteadUnits", func(t *testing.T) {
		// units/ as a distribution installs it, under /usr/lib/systemd/system.
		for name, want := range map[string]string{
			"systemd-imdsd.socket":     "active",
			"systemd-imdsd.service":    "inactive", // until the first client
			"systemd-networkd.service": "active",
		} {
			if r := initVMUnit(t, m, name); r.Runtime.ActiveState != want || r.Runtime.LoadState != "loaded" {
				t.Errorf("%s: %+v, want loaded and %s", name, r.Runtime, want)
			}
		}
		if got := m.MustRun(t, "readlink", "/run/varlink/registry/io.systemd.InstanceMetadata"); got != imdsSocketPath {
			t.Errorf("registry symlink (Symlinks=) → %q", got)
		}
		// The first client starts imdsd (Type=notify) on the socket the unit made.
		info := m.MustRun(t, "/init", "--call", "org.varlink.service.GetInfo", "--address=unix:"+imdsSocketPath)
		if !strings.Contains(info, `"io.systemd.InstanceMetadata"`) {
			t.Errorf("GetInfo on the imdsd socket: %s", info)
		}
		if r := initVMWaitState(t, m, "systemd-imdsd.service", "active", 20*time.Second); r.Runtime.ActiveState != "active" {
			t.Errorf("systemd-imdsd.service after a client: %+v", r.Runtime)
		}
		info = m.MustRun(t, "/init", "--call", "org.varlink.service.GetInfo", "--address=unix:/run/systemd/netif/io.systemd.Network")
		if !strings.Contains(info, `"io.systemd.Network"`) {
			t.Errorf("GetInfo on networkd's socket: %s", info)
		}
	})
	t.Run("UpstreamVarlinkctl", func(t *testing.T) {
		if up == nil {
			harness.Require(t, "no upstream systemd root (see the UpstreamRoot subtest)", "debootstrap")
		}
		varlinkctl := func(args ...string) string {
			t.Helper()
			r, err := m.Exec(ctx, vm.Command{Argv: append([]string{suite.UpstreamVarlinkctl}, args...),
				Env: []string{"SYSTEMD_COLORS=0", "SYSTEMD_PAGER=cat"}})
			if err != nil {
				t.Fatal(err)
			}
			if r.ExitCode != 0 {
				t.Fatalf("varlinkctl %q: %v\n%s", args, r, r.Stdout)
			}
			return string(r.Stdout)
		}
		reloads := func() int {
			t.Helper()
			var d struct {
				Runtime struct {
					Version     string
					ReloadCount *int
				} `json:"runtime"`
			}
			out := varlinkctl("call", "/run/systemd/io.systemd.Manager", "io.systemd.Manager.Describe", "{}")
			if err := json.Unmarshal([]byte(out), &d); err != nil || d.Runtime.ReloadCount == nil || d.Runtime.Version == "" {
				t.Fatalf("Describe: %v: %s", err, out)
			}
			return *d.Runtime.ReloadCount
		}
		if v := varlinkctl("--version"); !strings.Contains(v, "systemd 262") {
			t.Errorf("varlinkctl --version: %s", v)
		}
		before := reloads()
		varlinkctl("call", "/run/systemd/io.systemd.Manager", "io.systemd.Manager.Reload", "{}")
		if after := reloads(); after != before+1 {
			t.Errorf("ReloadCount %d after a Reload, was %d", after, before)
		}
		if l := varlinkctl("list-interfaces", imdsSocketPath); !strings.Contains(l, "io.systemd.InstanceMetadata") {
			t.Errorf("varlinkctl list-interfaces on imdsd: %s", l)
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
		harness.Poll(10*time.Second, func() bool {
			b, err := m.GetFile(ctx, "/run/echo.env")
			env = strings.TrimSpace(string(b))
			return err == nil && len(b) > 0
		})
		mm := regexp.MustCompile(`^pid=(\d+) listen_pid=(\d+) fds=1$`).FindStringSubmatch(env)
		if mm == nil || mm[1] != mm[2] {
			t.Errorf("echo.service environment: %q", env)
		}
	})
	// As PID 1 every service runs in its own cgroup under system.slice: the socket-activated
	// echo.service's main process is there, and only its processes are.
	t.Run("Cgroups", func(t *testing.T) {
		b, err := m.GetFile(ctx, "/run/echo.env")
		mm := regexp.MustCompile(`pid=(\d+)`).FindSubmatch(b)
		if err != nil || mm == nil {
			t.Fatalf("echo.service's pid: %v %q", err, b)
		}
		pid := string(mm[1])
		if got := m.MustRun(t, "cat", "/proc/"+pid+"/cgroup"); strings.TrimSpace(got) != "0::/system.slice/echo.service" {
			t.Errorf("echo.service (pid %s) is in cgroup %q", pid, got)
		}
		procs := strings.Fields(m.MustRun(t, "cat", "/sys/fs/cgroup/system.slice/echo.service/cgroup.procs"))
		if len(procs) != 1 || procs[0] != pid {
			t.Errorf("echo.service's cgroup holds %v, want only %s", procs, pid)
		}
		if got := strings.TrimSpace(m.MustRun(t, "sh", "-c", "cat /proc/self/cgroup")); got == "0::/system.slice/echo.service" {
			t.Errorf("the agent's command shares echo.service's cgroup")
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
	t.Run("Steadctl", func(t *testing.T) {
		if _, ok := files["/usr/bin/steadctl"]; !ok {
			t.Skip("cmd/steadctl is not in this checkout")
		}
		// The control CLI over io.systemd.Manager/io.systemd.Unit, as an administrator uses it.
		var rows []struct{ Unit, Load, Active, Sub string }
		out := m.MustRun(t, "steadctl", "list-units", "--json=short")
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("list-units --json: %v: %s", err, out)
		}
		state := map[string]string{}
		for _, r := range rows {
			state[r.Unit] = r.Load + "/" + r.Active
		}
		for _, u := range []string{"default.target", "systemd-imdsd.socket", "systemd-imdsd.service",
			"systemd-networkd.service", "stead-vm-agent.service", "sleeper.service"} {
			if state[u] != "loaded/active" {
				t.Errorf("list-units: %s is %q, want loaded/active", u, state[u])
			}
		}
		table := m.MustRun(t, "steadctl", "list-units")
		if !regexp.MustCompile(`(?m)^\S*\s*systemd-imdsd\.socket\s+loaded\s+active\s`).MatchString(table) {
			t.Errorf("list-units table lacks the imdsd socket as loaded active:\n%s", table)
		}
		isActive := func(units ...string) (string, int) {
			t.Helper()
			r, err := m.Run(ctx, append([]string{"steadctl", "is-active"}, units...)...)
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(r.Stdout)), r.ExitCode
		}
		if out, code := isActive("systemd-imdsd.socket", "sleeper"); out != "active\nactive" || code != 0 {
			t.Errorf("is-active systemd-imdsd.socket sleeper: %q, exit %d", out, code)
		}
		if out, code := isActive("crash.service"); out != "failed" || code != 3 {
			t.Errorf("is-active crash.service: %q, exit %d, want failed, 3", out, code)
		}
		if got := m.MustRun(t, "steadctl", "show", "-p", "ActiveState", "echo.socket"); got != "ActiveState=active" {
			t.Errorf("show -p ActiveState echo.socket: %q", got)
		}
		// Job control: stop and start a service through the CLI.
		m.MustRun(t, "steadctl", "stop", "sleeper.service")
		if out, code := isActive("sleeper.service"); out != "inactive" || code != 3 {
			t.Errorf("after stop: %q, exit %d", out, code)
		}
		m.MustRun(t, "steadctl", "start", "sleeper.service")
		if r := initVMWaitState(t, m, "sleeper.service", "active", 20*time.Second); r.Runtime.ActiveState != "active" {
			t.Errorf("after start: %+v", r.Runtime)
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

	// A straggler outside every unit that ignores SIGTERM: it leaves the agent's cgroup for
	// the root one (echo 0: the writing process itself), so stopping the agent's unit does
	// not reach it; shutdown's final kill must.
	m.MustRun(t, "sh", "-c", "(echo 0 >/sys/fs/cgroup/cgroup.procs; trap '' TERM; while :; do sleep 1; done) </dev/null >/dev/null 2>&1 &")
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
	// (The last stop of sleeper.service: the Steadctl subtest stopped and started it once.)
	target := strings.LastIndex(con, "unit=default.target from=active to=inactive")
	sleeper := strings.LastIndex(con, "unit=sleeper.service from=deactivating to=inactive")
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

// TestInitVMDemo runs integration/demo and checks the tour of the suite it boots in the VM:
// the cloud story of an EC2 first boot (vendor, credentials with firstboot.hostname and its
// value, host name, lockdown, PCR 12), the units and their states, each Varlink socket under
// /run/systemd with its interfaces, and the poweroff. (TestVarlinkDemo checks the host part.)
func TestInitVMDemo(t *testing.T) {
	vm.Prereqs(t)
	cmd := exec.Command(filepath.Join(harness.RepoRoot(), "integration", "demo"))
	cmd.Env = append(os.Environ(), "STEAD_DEMO_BIN="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("integration/demo: %v\n%s", err, out)
	}
	tour := string(out)
	if i := strings.Index(tour, "━━ The stead suite in a VM"); i >= 0 {
		tour = tour[i:]
	} else {
		t.Fatalf("no VM tour in the demo's output:\n%s", out)
	}
	if strings.Contains(tour, "VM tour skipped") {
		t.Fatalf("the VM tour was skipped although the prerequisites are here:\n%s", tour)
	}
	if mm := regexp.MustCompile(`default\.target reached at guest uptime \S+s`).FindString(tour); mm != "" {
		t.Log(mm)
	}
	for _, re := range []string{
		`default\.target reached at guest uptime \S+s`,
		`(?m)^\s*systemd-imdsd\.socket\s+loaded\s+active\s+listening`,
		`(?m)^\s*systemd-networkd\.service\s+loaded\s+active\s+running`,
		`● /run/systemd/io\.systemd\.Manager — init `,
		`(?m)^\s*io\.systemd\.Manager\s+Describe, .*Reload`,
		`(?m)^\s*io\.systemd\.Unit\s+List`,
		`● /run/systemd/io\.systemd\.InstanceMetadata — imdsd `,
		`(?m)^\s*io\.systemd\.InstanceMetadata\s+Get, GetVendorInfo`,
		`● /run/systemd/netif/io\.systemd\.Network — networkd `,
		`(?m)^\s*systemd-imdsd\.service\s+loaded\s+active\s+running`, // started by its socket
		`powered off \(SIGRTMIN\+4`,
		// The cloud story (integration/cmd/stead-demo/vmcloud.go).
		`vendor from DMI\s+bios_vendor="Amazon EC2" → hwdb → imds: Vendor: amazon-ec2`,
		`(?m)^\s+firstboot\.hostname\s+"stead-demo-instance"$`,
		`(?m)^\s+demo\.motd\s+"Welcome to a stead cloud instance"$`,
		`hostname applied\s+\$ hostname → stead-demo-instance `,
		`root via imdsd\s+\$ imds --cache=no -K hostname → stead-demo-instance\n`,
		`nobody direct\s+.*Permission denied`,
		`PCR 12 \(sha256\)\s+[0-9a-f]{64}\n\s+equals the replay`,
	} {
		if !regexp.MustCompile(re).MatchString(tour) {
			t.Errorf("the VM tour lacks %s:\n%s", re, tour)
		}
	}
}
