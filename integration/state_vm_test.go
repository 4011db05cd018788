//go:build integration

package integration

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm"
	"github.com/stead-os/stead/integration/vm/suite"
)

const stateSvcGuest = "/usr/lib/stead/stead-testsvc"

// stateVMUnits are TestStateVM's units: state.service keeps three memfds and a listening
// socket in its store, preserved over everything (yes); no.service the same, dropped at any
// stop (no); onsuccess.service fails a second after each start, is restarted automatically
// twice and then hits its start limit (on-success: kept over the automatic restarts, dropped
// at the final failure).
var stateVMUnits = map[string]string{
	"default.target": `[Unit]
Wants=stead-vm-agent.service state.service
After=stead-vm-agent.service state.service
`,
	"state.service": "[Service]\nType=notify\nFileDescriptorStoreMax=8\nFileDescriptorStorePreserve=yes\n" +
		"ExecStart=" + stateSvcGuest + " state -report /run/state.report -listen /run/state.sock\n",
	"no.service": "[Service]\nType=notify\nFileDescriptorStoreMax=8\nFileDescriptorStorePreserve=no\n" +
		"ExecStart=" + stateSvcGuest + " state -report /run/no.report -listen /run/no.sock\n",
	"onsuccess.service": "[Unit]\nStartLimitIntervalSec=600\nStartLimitBurst=3\n[Service]\nType=notify\nFileDescriptorStoreMax=8\n" +
		"FileDescriptorStorePreserve=on-success\nRestart=on-failure\nRestartSec=200ms\n" +
		"ExecStart=" + stateSvcGuest + " state -report /run/onsuccess.report -listen /run/onsuccess.sock -exit-code 1 -exit-after 1s\n",
}

const stateAllBack = "names=one:two:three:listen data=one=first,two=second,three=third listen=true"

// TestStateVM boots stead's init as PID 1 with stead-testsvc's state service and checks, in
// that one VM: its three memfds and listening socket come back with their names and contents
// after a service restart, a daemon-reexec (upstream varlinkctl calling
// io.systemd.Manager.Reexecute, then SIGTERM to PID 1) and a soft-reboot (varlinkctl calling
// SoftReboot); a client
// connecting all through the restart and the re-execution is never refused, and the socket is
// the same one after the soft-reboot; services keep their pids over the re-execution;
// Describe (read with varlinkctl) counts the soft-reboot and resets ReloadCount; Preserve=no
// drops the store on restart; on-success keeps it over automatic restarts and drops it at the
// final failure.
func TestStateVM(t *testing.T) {
	up := harness.NeedUpstream(t)
	files, err := suite.Files(harness.RepoRoot(), func(pkg string) (string, error) { return harness.Binary(t, pkg), nil })
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range stateVMUnits {
		files["/etc/systemd/system/"+name] = vm.File{Data: []byte(content)}
	}
	files[stateSvcGuest] = vm.File{Source: harness.Binary(t, "integration/cmd/stead-testsvc"), Mode: 0o755}
	vf, err := vm.DynamicFiles(up.Dir, suite.UpstreamVarlinkctl)
	if err != nil {
		t.Fatalf("upstream varlinkctl: %v", err)
	}
	for p, f := range vf {
		files[p] = f
	}
	m := vm.Boot(t, vm.Options{Init: harness.Binary(t, "cmd/init"), Agent: vm.AgentByInit, Files: files,
		KernelCmdline: "stead.log_level=info"})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if err := m.WaitConsole(ctx, `msg="reached default.target"`); err != nil {
		t.Fatal(err)
	}
	run := func(argv ...string) string { t.Helper(); return m.MustRun(t, argv...) }
	prop := func(unit, p string) string { return run("steadctl", "show", unit, "-P", p) }
	lines := func(file string, n int) []string {
		t.Helper()
		var l []string
		harness.Poll(60*time.Second, func() bool {
			r, err := m.Run(ctx, "cat", file)
			l = strings.Split(strings.TrimSpace(string(r.Stdout)), "\n")
			return err == nil && r.ExitCode == 0 && len(l) >= n
		})
		if len(l) < n {
			t.Fatalf("%s: %d lines, want %d: %q", file, len(l), n, l)
		}
		return l
	}
	waitStore := func(unit, n string) {
		t.Helper()
		var got string
		harness.Poll(60*time.Second, func() bool { got = prop(unit, "NFileDescriptorStore"); return got == n })
		if got != n {
			t.Fatalf("%s: NFileDescriptorStore %s, want %s", unit, got, n)
		}
	}
	listenInode := func() string {
		t.Helper()
		for _, l := range strings.Split(run("steadctl", "list-fdstore", "--no-legend", "state.service"), "\n") {
			if f := strings.Fields(l); len(f) >= 4 && f[0] == "listen" {
				return f[3]
			}
		}
		t.Fatal("no listen fd in the store")
		return ""
	}
	varlinkctl := func(method string) string {
		t.Helper()
		return run(suite.UpstreamVarlinkctl, "call", "/run/systemd/io.systemd.Manager", "io.systemd.Manager."+method, "{}")
	}

	if l := lines("/run/state.report", 1); !strings.Contains(l[0], "names= data= listen=false") {
		t.Fatalf("first start: %q", l[0])
	}
	waitStore("state.service", "4")
	inode := listenInode()
	run("sh", "-c", stateSvcGuest+" probe -connect /run/state.sock -out /run/probe </dev/null >/dev/null 2>&1 &")

	// A service restart.
	run("steadctl", "restart", "state.service")
	if l := lines("/run/state.report", 2); !strings.Contains(l[1], stateAllBack) {
		t.Errorf("after a restart: %q", l[1])
	}

	// daemon-reexec through upstream varlinkctl.
	run("steadctl", "daemon-reload")
	pid := prop("state.service", "MainPID")
	varlinkctl("Reexecute")
	var desc string
	harness.Poll(60*time.Second, func() bool {
		r, err := m.Run(ctx, suite.UpstreamVarlinkctl, "call", "/run/systemd/io.systemd.Manager", "io.systemd.Manager.Describe", "{}")
		desc = string(r.Stdout)
		return err == nil && r.ExitCode == 0
	})
	// The serial console lags behind the Varlink answer: wait for the line.
	if !harness.Poll(30*time.Second, func() bool { return strings.Contains(m.Console(), "state of the previous incarnation restored") }) {
		t.Errorf("no re-execution on the console")
	}
	if got := run("cat", "/proc/1/cmdline"); !strings.Contains(got, "--deserialize=") {
		t.Errorf("PID 1 after the re-execution: %q", got)
	}
	if !regexp.MustCompile(`"ReloadCount"\s*:\s*0`).MatchString(desc) || !regexp.MustCompile(`"SoftRebootsCount"\s*:\s*0`).MatchString(desc) {
		t.Errorf("Describe after the re-execution:\n%s", desc)
	}
	if got := prop("state.service", "MainPID"); got != pid {
		t.Errorf("MainPID %s after the re-execution, %s before", got, pid)
	}
	waitStore("state.service", "4")
	// SIGTERM re-executes too, as upstream's PID 1.
	restored := strings.Count(m.Console(), "state of the previous incarnation restored")
	run("kill", "-TERM", "1")
	harness.Poll(60*time.Second, func() bool {
		return strings.Count(m.Console(), "state of the previous incarnation restored") > restored
	})
	if strings.Count(m.Console(), "state of the previous incarnation restored") <= restored {
		t.Error("SIGTERM did not re-execute PID 1")
	}
	harness.Poll(60*time.Second, func() bool {
		r, err := m.Run(ctx, "steadctl", "show", "state.service", "-P", "MainPID")
		return err == nil && strings.TrimSpace(string(r.Stdout)) == pid
	})
	if got := prop("state.service", "MainPID"); got != pid {
		t.Errorf("MainPID %s after SIGTERM, %s before", got, pid)
	}
	run("steadctl", "restart", "state.service")
	if l := lines("/run/state.report", 3); !strings.Contains(l[2], stateAllBack) {
		t.Errorf("after the re-execution and a restart: %q", l[2])
	}
	time.Sleep(time.Second)
	run("sh", "-c", "kill $(pidof stead-testsvc | tr ' ' '\\n' | while read p; do grep -q probe /proc/$p/cmdline && echo $p; done)")
	probe := run("cat", "/run/probe")
	if !regexp.MustCompile(`^ok=[1-9]\d* refused=0 `).MatchString(probe) {
		t.Errorf("the client during the restart and the re-execution: %s", probe)
	}
	t.Logf("client: %s", probe)

	// Preserve=no: a restart drops the store.
	run("steadctl", "start", "no.service")
	waitStore("no.service", "4")
	run("steadctl", "restart", "no.service")
	if l := lines("/run/no.report", 2); !strings.Contains(l[1], "names= data= listen=false") {
		t.Errorf("Preserve=no after a restart: %q", l[1])
	}

	// on-success: kept over the automatic restarts, dropped at the final failure.
	run("steadctl", "start", "onsuccess.service")
	if l := lines("/run/onsuccess.report", 3); !strings.Contains(l[1], stateAllBack) || !strings.Contains(l[2], stateAllBack) {
		t.Errorf("on-success over automatic restarts: %q", l)
	}
	var st string
	harness.Poll(60*time.Second, func() bool { st = prop("onsuccess.service", "ActiveState"); return st == "failed" })
	if st != "failed" || prop("onsuccess.service", "Result") != "start-limit-hit" {
		t.Errorf("onsuccess.service: %s %s", st, prop("onsuccess.service", "Result"))
	}
	waitStore("onsuccess.service", "0")

	// soft-reboot through upstream varlinkctl, from the background: the agent stops with
	// everything else.
	reached := strings.Count(m.Console(), `msg="reached default.target"`)
	run("sh", "-c", "(sleep 1; "+suite.UpstreamVarlinkctl+" call /run/systemd/io.systemd.Manager io.systemd.Manager.SoftReboot '{}') </dev/null >/dev/null 2>&1 &")
	harness.Poll(3*time.Minute, func() bool { return strings.Count(m.Console(), `msg="reached default.target"`) > reached })
	if strings.Count(m.Console(), `msg="reached default.target"`) <= reached {
		t.Fatal("default.target not reached again after the soft-reboot")
	}
	harness.Poll(2*time.Minute, func() bool {
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		defer acancel()
		r, err := m.Run(actx, "true")
		return err == nil && r.ExitCode == 0
	})
	desc = varlinkctl("Describe")
	if !regexp.MustCompile(`"SoftRebootsCount"\s*:\s*1`).MatchString(desc) {
		t.Errorf("Describe after the soft-reboot:\n%s", desc)
	}
	if l := lines("/run/state.report", 4); !strings.Contains(l[3], stateAllBack) {
		t.Errorf("after the soft-reboot: %q", l[3])
	}
	waitStore("state.service", "4")
	if got := listenInode(); got != inode {
		t.Errorf("listening socket inode %s after the soft-reboot, %s before", got, inode)
	}
	if r := run("sh", "-c", "echo | "+stateSvcGuest+" probe -connect /run/state.sock -out /run/probe2 & sleep 2; kill $!; cat /run/probe2"); !strings.HasPrefix(r, "ok=") || strings.HasPrefix(r, "ok=0") {
		t.Errorf("connecting after the soft-reboot: %s", r)
	}
}

// TestStateVMKexec boots stead's init as PID 1, makes an initramfs of the running system in
// the guest (busybox cpio of the root file system under its mounts, /dev/console included),
// names it and the harness's own Debian kernel in /etc/stead/kexec.conf and calls steadctl
// kexec: the kernel is loaded with kexec_file_load, every unit stops, and the same kernel
// boots again with our init — the console shows a second start, the guest agent answers
// again with a fresh uptime, and as the kernel has no Live Update Orchestrator, the store of
// the Preserve=yes service is dropped with a warning and KExecsCount stays 0.
func TestStateVMKexec(t *testing.T) {
	files, err := suite.Files(harness.RepoRoot(), func(pkg string) (string, error) { return harness.Binary(t, pkg), nil })
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range stateVMUnits {
		files["/etc/systemd/system/"+name] = vm.File{Data: []byte(content)}
	}
	files[stateSvcGuest] = vm.File{Source: harness.Binary(t, "integration/cmd/stead-testsvc"), Mode: 0o755}
	files["/etc/stead/kexec.conf"] = vm.File{Data: []byte("# the harness's kernel, the initramfs made by the test\nKernel=/run/kexec/vmlinuz\nInitrd=/run/kexec/initrd.cpio\n")}
	m := vm.Boot(t, vm.Options{Init: harness.Binary(t, "cmd/init"), Agent: vm.AgentByInit, Files: files, Memory: 1024,
		KernelCmdline: "stead.log_level=info"})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if err := m.WaitConsole(ctx, `msg="reached default.target"`); err != nil {
		t.Fatal(err)
	}
	k, err := vm.FindKernel() // there, as Boot succeeded
	if err != nil {
		t.Fatal(err)
	}
	vmlinuz, err := os.ReadFile(k.Vmlinuz)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.PutFile(ctx, "/run/kexec/vmlinuz", vmlinuz, 0o644); err != nil {
		t.Fatal(err)
	}
	// The root file system without its mounts: a non-recursive bind shows what lies under
	// /dev (the initramfs's console and null nodes).
	m.MustRun(t, "sh", "-c", "mkdir -p /run/kexec/root && mount --bind / /run/kexec/root && cd /run/kexec/root && find . | cpio -o -H newc > /run/kexec/initrd.cpio 2>/dev/null && cd / && umount /run/kexec/root")
	harness.Poll(60*time.Second, func() bool {
		return m.MustRun(t, "steadctl", "show", "state.service", "-P", "NFileDescriptorStore") == "4"
	})
	before := m.MustRun(t, "cut", "-d", " ", "-f", "1", "/proc/uptime")
	m.MustRun(t, "sh", "-c", "(sleep 1; steadctl kexec) </dev/null >/run/kexec/out 2>&1 &")
	if err := m.WaitConsole(ctx, "kexec kernel loaded"); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitConsole(ctx, "kexec without the Live Update Orchestrator: fd stores are dropped"); err != nil {
		t.Error(err)
	}
	harness.Poll(4*time.Minute, func() bool { return strings.Count(m.Console(), "stead init starting as PID 1") >= 2 })
	if n := strings.Count(m.Console(), "stead init starting as PID 1"); n < 2 {
		t.Fatalf("init started %d times: no second boot", n)
	}
	var after string
	harness.Poll(3*time.Minute, func() bool {
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		defer acancel()
		r, err := m.Run(actx, "cut", "-d", " ", "-f", "1", "/proc/uptime")
		after = strings.TrimSpace(string(r.Stdout))
		return err == nil && r.ExitCode == 0 && strings.Count(m.Console(), `msg="reached default.target"`) >= 2
	})
	b, a := parseFloat(before), parseFloat(after)
	if a <= 0 || a >= b+60 {
		t.Errorf("guest uptime %q after the kexec, %q before: no new boot seen through the agent", after, before)
	}
	desc := m.MustRun(t, "/init", "--call", "io.systemd.Manager.Describe")
	if !strings.Contains(desc, `"KExecsCount":0`) {
		t.Errorf("Describe after a kexec without LUO: %s", desc)
	}
	t.Logf("uptime before %s s, after the kexec %s s", before, after)
}

func parseFloat(s string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f
}

// TestStateVMNextRoot soft-reboots into a new root: a copy of the running system on a tmpfs
// mounted at /run/nextroot (with a marker file). After the soft-reboot / is that tmpfs, the
// marker is there, /run and the API file systems came along, the Preserve=yes service got its
// fds back and SoftRebootsCount is 1.
func TestStateVMNextRoot(t *testing.T) {
	files, err := suite.Files(harness.RepoRoot(), func(pkg string) (string, error) { return harness.Binary(t, pkg), nil })
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range stateVMUnits {
		files["/etc/systemd/system/"+name] = vm.File{Data: []byte(content)}
	}
	files[stateSvcGuest] = vm.File{Source: harness.Binary(t, "integration/cmd/stead-testsvc"), Mode: 0o755}
	m := vm.Boot(t, vm.Options{Init: harness.Binary(t, "cmd/init"), Agent: vm.AgentByInit, Files: files, Memory: 1024,
		KernelCmdline: "stead.log_level=info"})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if err := m.WaitConsole(ctx, `msg="reached default.target"`); err != nil {
		t.Fatal(err)
	}
	harness.Poll(60*time.Second, func() bool {
		return m.MustRun(t, "steadctl", "show", "state.service", "-P", "NFileDescriptorStore") == "4"
	})
	m.MustRun(t, "sh", "-c", "mkdir -p /run/nextroot /run/oldroot && mount -t tmpfs -o size=400m nextroot /run/nextroot && "+
		"mount --bind / /run/oldroot && cp -a /run/oldroot/. /run/nextroot/ && umount /run/oldroot && echo new > /run/nextroot/marker")
	reached := strings.Count(m.Console(), `msg="reached default.target"`)
	m.MustRun(t, "sh", "-c", "(sleep 1; steadctl soft-reboot) </dev/null >/dev/null 2>&1 &")
	harness.Poll(3*time.Minute, func() bool { return strings.Count(m.Console(), `msg="reached default.target"`) > reached })
	if err := m.WaitConsole(ctx, `msg="switched into the new root" root=/run/nextroot`); err != nil {
		t.Fatal(err)
	}
	var out string
	harness.Poll(2*time.Minute, func() bool {
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		defer acancel()
		r, err := m.Run(actx, "cat", "/marker")
		out = strings.TrimSpace(string(r.Stdout))
		return err == nil && r.ExitCode == 0
	})
	if out != "new" {
		t.Fatalf("/marker after the soft-reboot: %q", out)
	}
	if mounts := m.MustRun(t, "cat", "/proc/mounts"); !regexp.MustCompile(`(?m)^nextroot / tmpfs `).MatchString(mounts) {
		t.Errorf("/ is not the new root:\n%s", mounts)
	}
	for _, dir := range []string{"/proc", "/sys", "/dev", "/run"} {
		m.MustRun(t, "grep", "-q", "^[^ ]* "+dir+" ", "/proc/mounts")
	}
	if l := m.MustRun(t, "cat", "/run/state.report"); !strings.Contains(l, stateAllBack) {
		t.Errorf("state.service after the soft-reboot into the new root: %q", l)
	}
	if d := m.MustRun(t, "/init", "--call", "io.systemd.Manager.Describe"); !strings.Contains(d, `"SoftRebootsCount":1`) {
		t.Errorf("Describe: %s", d)
	}
}
