//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"golang.org/x/sys/unix"
)

// oomdFakeGroup makes a fake cgroup under root with the memory files oomd reads, and
// cgroup.procs listing pids.
func oomdFakeGroup(t *testing.T, root, cg, avg10 string, pids ...int) string {
	t.Helper()
	d := filepath.Join(root, "sys/fs/cgroup", cg)
	var procs strings.Builder
	for _, p := range pids {
		fmt.Fprintf(&procs, "%d\n", p)
	}
	harness.WriteFile(t, filepath.Join(d, "cgroup.procs"), procs.String(), 0o644)
	harness.WriteFile(t, filepath.Join(d, "memory.current"), "1048576\n", 0o644)
	harness.WriteFile(t, filepath.Join(d, "memory.swap.current"), "0\n", 0o644)
	harness.WriteFile(t, filepath.Join(d, "memory.stat"), "anon 1\npgscan 10\n", 0o644)
	harness.WriteFile(t, filepath.Join(d, "memory.pressure"),
		"some avg10="+avg10+" avg60=0.00 avg300=0.00 total=1\nfull avg10="+avg10+" avg60=0.00 avg300=0.00 total=1\n", 0o644)
	return d
}

// oomdSleeps starts n sleep processes; the channel of each closes when it exits.
func oomdSleeps(t *testing.T, n int) ([]int, []chan struct{}) {
	var pids []int
	var dead []chan struct{}
	for range n {
		c := exec.Command("sleep", "600")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		ch := make(chan struct{})
		go func() { c.Wait(); close(ch) }()
		t.Cleanup(func() { c.Process.Kill(); <-ch })
		pids = append(pids, c.Process.Pid)
		dead = append(dead, ch)
	}
	return pids, dead
}

func oomdWriteBase(t *testing.T, root string) {
	harness.WriteFile(t, filepath.Join(root, "proc/meminfo"),
		"MemTotal: 8388608 kB\nMemAvailable: 4194304 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n", 0o644)
}

// TestOomdHostRulesKill runs our init in host mode with a unit that has OOMRules=heavy and the
// real oomd on the same root: oomd subscribes to init's io.systemd.ManagedOOM, the ruleset's
// conditions hold on the fake cgroup (memory pressure 80% > 20% for LastingSec=2s), and oomd
// kills every process listed in its cgroup.procs (sleeps this test started), counts the kill in
// the xattrs, and oomctl shows the watched group.
func TestOomdHostRulesKill(t *testing.T) {
	initBin := harness.Binary(t, "cmd/init")
	oomdBin := harness.Binary(t, "cmd/oomd")
	oomctlBin := harness.Binary(t, "cmd/oomctl")
	root := t.TempDir()
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=hog.service\n")
	initWriteUnit(t, root, "hog.service", "[Service]\nExecStart=/bin/sleep 600\nOOMRules=heavy\n")
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/oomd/rules.d/heavy.oomrule"),
		"[Rule]\nMemoryPressureAbove=20%\nAction=kill-all\nLastingSec=2s\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "usr/lib/systemd/oomd/rules.d/broken.oomrule"), "[Rule]\nAction=kill-all\n", 0o644)
	oomdWriteBase(t, root)
	pids, dead := oomdSleeps(t, 2)
	dir := oomdFakeGroup(t, root, "/system.slice/hog.service", "80.00", pids...)
	if err := unix.Setxattr(dir, "user.stead_probe", []byte("1"), 0); err != nil {
		harness.Require(t, "user xattrs on "+dir+": "+err.Error())
	}

	oomdCmd := exec.Command(oomdBin, "--root="+root)
	oomd := harness.StartDaemon(t, oomdCmd, harness.WaitReady())
	start := time.Now()
	_, _, initLog := startHostInit(t, initBin, root)
	for i, ch := range dead {
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatalf("sleep %d (pid %d) not killed\noomd:\n%s\ninit:\n%s", i, pids[i], oomd.Out.String(), initLog.String())
		}
	}
	if time.Since(start) < 2*time.Second {
		t.Errorf("killed after %v, before LastingSec=2s", time.Since(start))
	}
	harness.Eventually(t, "the kill to be logged", 5*time.Second, func() bool {
		return strings.Contains(oomd.Out.String(), "killed control group")
	}, harness.Output("oomd", oomd.Out))
	log := oomd.Out.String()
	for _, want := range []string{"killed control group", "cgroup=/system.slice/hog.service", `reason="rule heavy"`, "processes=2", "pressure=80.00%", "broken.oomrule:1:"} {
		if !strings.Contains(log, want) {
			t.Errorf("oomd log lacks %q:\n%s", want, log)
		}
	}
	buf := make([]byte, 32)
	if n, err := unix.Getxattr(dir, "user.oomd_ooms", buf); err != nil || string(buf[:n]) != "1" {
		t.Errorf("user.oomd_ooms: %q %v", buf[:max(n, 0)], err)
	}
	if n, err := unix.Getxattr(dir, "user.oomd_kill", buf); err != nil || string(buf[:n]) != "2" {
		t.Errorf("user.oomd_kill: %q %v", buf[:max(n, 0)], err)
	}
	out, errOut, code := harness.Run(t, exec.Command(oomctlBin, "--root="+root, "--json=short"))
	var st struct {
		RulesMonitored []struct {
			Path  string   `json:"path"`
			Rules []string `json:"rules"`
		} `json:"rulesMonitored"`
		Rulesets []struct{ Name string } `json:"rulesets"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.RulesMonitored) != 1 ||
		st.RulesMonitored[0].Path != "/system.slice/hog.service" || len(st.Rulesets) != 1 || st.Rulesets[0].Name != "heavy" {
		t.Errorf("oomctl --json: %d %s %s", code, out, errOut)
	}
	out, _, code = harness.Run(t, exec.Command(oomctlBin, "--root="+root))
	if code != 0 || !strings.HasPrefix(out, "Dry Run: no\nSwap Used Limit: 90.00%\nDefault Memory Pressure Limit: 60.00%\nDefault Memory Pressure Duration: 30s\nSystem Context:\n") {
		t.Errorf("oomctl dump: %d\n%s", code, out)
	}
	// SIGHUP reloads the rulesets: without heavy, the group's ruleset is undefined.
	os.Remove(filepath.Join(root, "etc/systemd/oomd/rules.d/heavy.oomrule"))
	oomdCmd.Process.Signal(syscall.SIGHUP)
	var last string
	harness.Eventually(t, "the reload to drop heavy", 10*time.Second, func() bool {
		out, _, _ := harness.Run(t, exec.Command(oomctlBin, "--root="+root, "--json=short"))
		last = out
		return strings.Contains(out, `"rulesets":[]`)
	}, harness.Output("oomd", oomd.Out), func() string { return "oomctl: " + last })
}

// TestOomdUpstreamVarlinkctl drives our oomd with upstream's varlinkctl: introspection that
// validate-idl accepts and that matches upstream's io.systemd.oom, ReportManagedOOMCGroups as
// root (then visible through oomctl), and as an unprivileged user for another user's group or
// a system group (io.systemd.System errors).
func TestOomdUpstreamVarlinkctl(t *testing.T) {
	up := harness.NeedUpstream(t)
	oomdBin := harness.Binary(t, "cmd/oomd")
	oomctlBin := harness.Binary(t, "cmd/oomctl")
	host, inside := up.Stage(t)
	os.Chmod(host, 0o755)
	oomdWriteBase(t, host)
	os.MkdirAll(filepath.Join(host, "sys/fs/cgroup/user.slice/user-1000.slice/app.slice"), 0o755)
	harness.StartDaemon(t, exec.Command(oomdBin, "--root="+host), harness.WaitReady())
	sock := filepath.Join(host, "run/systemd/oom/io.systemd.ManagedOOM")
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket %v %v", fi, err)
	}
	addr := "unix:" + filepath.Join(inside, "run/systemd/oom/io.systemd.ManagedOOM")
	idl, errOut, code := up.Run(t, "varlinkctl", "introspect", addr, "io.systemd.oom")
	if code != 0 {
		t.Fatalf("introspect: %s", errOut)
	}
	for _, want := range []string{"interface io.systemd.oom", "type ManagedOOMMode", "mode: ManagedOOMMode", "limit: ?int", "duration: ?int", "rules: ?[]string", "method ReportManagedOOMCGroups"} {
		if !strings.Contains(idl, want) {
			t.Errorf("introspection lacks %q:\n%s", want, idl)
		}
	}
	for _, iface := range []string{"io.systemd.oom", "io.stead.oom"} {
		idl, _, _ := up.Run(t, "varlinkctl", "introspect", addr, iface)
		harness.WriteFile(t, filepath.Join(host, iface+".varlink"), idl, 0o644)
		if _, errOut, code := up.Run(t, "varlinkctl", "validate-idl", filepath.Join(inside, iface+".varlink")); code != 0 {
			t.Errorf("validate-idl %s: %s", iface, errOut)
		}
	}
	cg := `{"cgroups":[{"mode":"kill","path":"/user.slice/user-1000.slice/app.slice","property":"ManagedOOMSwap"}]}`
	if _, errOut, code := up.Run(t, "varlinkctl", "call", addr, "io.systemd.oom.ReportManagedOOMCGroups", cg); code != 0 {
		t.Fatalf("Report as root: %s", errOut)
	}
	out, _, _ := harness.Run(t, exec.Command(oomctlBin, "--root="+host))
	if !strings.Contains(out, "Swap Monitored CGroups:\n\tPath: /user.slice/user-1000.slice/app.slice\n\t\tSwap Usage: 0B\n") {
		t.Errorf("oomctl after the report:\n%s", out)
	}
	asUser := func(body string) string {
		cmd := exec.Command("chroot", "--userspec=1000:1000", up.Dir, "varlinkctl", "call", addr, "io.systemd.oom.ReportManagedOOMCGroups", body)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "SYSTEMD_LOG_LEVEL=debug"}
		_, errOut, code := harness.Run(t, cmd)
		if code == 0 {
			t.Errorf("unprivileged report %s succeeded", body)
		}
		return errOut
	}
	if e := asUser(`{"cgroups":[{"mode":"kill","path":"/user.slice/user-1001.slice/x","property":"ManagedOOMSwap"}]}`); !strings.Contains(e, "io.systemd.System") && !strings.Contains(e, "Operation not permitted") {
		t.Errorf("another user's group: %s", e)
	}
	if e := asUser(`{"cgroups":[{"mode":"kill","path":"/system.slice/x.service","property":"ManagedOOMSwap"}]}`); !strings.Contains(e, "io.systemd.System") && !strings.Contains(e, "No such device or address") {
		t.Errorf("a system group: %s", e)
	}
	cmd := exec.Command("chroot", "--userspec=1000:1000", up.Dir, "varlinkctl", "call", addr, "io.systemd.oom.ReportManagedOOMCGroups",
		`{"cgroups":[{"mode":"kill","path":"/user.slice/user-1000.slice/app.slice","property":"ManagedOOMMemoryPressure","limit":2147483648}]}`)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if _, errOut, code := harness.Run(t, cmd); code != 0 {
		t.Errorf("the user's own group: %s", errOut)
	}
}
