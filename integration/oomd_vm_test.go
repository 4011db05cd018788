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
	"github.com/stead-os/stead/integration/vm/suite"
)

// oomtestBin is where the VM test puts integration/cmd/stead-oomtest.
const oomtestBin = "/usr/lib/stead-test/stead-oomtest"

const (
	oomdVMHog     = "/system.slice/oomtest-hog.service"
	oomdVMSibling = "/system.slice/oomtest-sibling.service"
	// The ruleset: 20% "full" memory pressure for 3 s kills the whole group.
	oomdVMRule      = "[Rule]\nMemoryPressureAbove=20%\nLastingSec=3s\nAction=kill-all\n"
	oomdVMThreshold = "20"
	oomdVMLasting   = 3 * time.Second
)

// oomdVMUnits are the test's units beside the stead suite's: oomd started by units/
// systemd-oomd.{socket,service}, a prekill hook, a sibling that must survive, and the hog
// (started by the test) held under memory.high = 16 MiB.
var oomdVMUnits = map[string]string{
	"default.target": `[Unit]
Description=Default target of the oomd VM test
Wants=stead-vm-agent.service systemd-oomd.service oomtest-prekill.service oomtest-sibling.service
After=stead-vm-agent.service systemd-oomd.service oomtest-prekill.service oomtest-sibling.service
`,
	"oomtest-prekill.service": `[Unit]
Description=oomd prekill hook (test)
[Service]
ExecStart=` + oomtestBin + ` prekill -socket /run/systemd/oomd.prekill.hook/stead-oomtest -log /run/oomtest-prekill.log
`,
	"oomtest-sibling.service": `[Unit]
Description=A watched service without memory pressure
[Service]
ExecStart=/bin/sleep 100000
OOMRules=vmtest
ManagedOOMMemoryPressure=kill
ManagedOOMMemoryPressureLimit=90%
`,
	"oomtest-hog.service": `[Unit]
Description=A memory hog held under memory.high
[Service]
ExecStart=` + oomtestBin + ` hog -high 16777216 -max 268435456
OOMRules=vmtest
`,
}

// oomdVMTimes reads "WORD t=SECONDS" lines.
func oomdVMTimes(s string) map[string]float64 {
	out := map[string]float64{}
	for _, mm := range regexp.MustCompile(`(?m)^(\w+)(?: \S+)*? t=([0-9.]+)`).FindAllStringSubmatch(s, -1) {
		if _, ok := out[mm[1]]; !ok {
			out[mm[1]], _ = strconv.ParseFloat(mm[2], 64)
		}
	}
	return out
}

// TestOomdVM boots the stead suite with init as PID 1 on a real cgroup2 tree with the memory
// controller and PSI, oomd started by its units, a ruleset (20% "full" pressure for 3 s:
// kill-all) and a prekill hook; a hog held under memory.high builds real pressure and oomd
// kills its whole group, after notifying the hook; the sibling with the same rule survives.
// The times (CLOCK_BOOTTIME in the guest) from the pressure crossing the threshold to the
// hook's call and to the group being empty are logged. With the upstream root, systemd 262's
// systemd-oomd then runs the same scenario in the same VM.
func TestOomdVM(t *testing.T) {
	files, err := suite.Files(harness.RepoRoot(), func(pkg string) (string, error) { return harness.Binary(t, pkg), nil })
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range oomdVMUnits {
		files["/etc/systemd/system/"+name] = vm.File{Data: []byte(content)}
	}
	files["/etc/systemd/oomd/rules.d/vmtest.oomrule"] = vm.File{Data: []byte(oomdVMRule)}
	files["/etc/systemd/oomd.conf.d/vmtest.conf"] = vm.File{Data: []byte("[OOM]\nPrekillHookTimeoutSec=5s\n")}
	files[oomtestBin] = vm.File{Source: harness.Binary(t, "integration/cmd/stead-oomtest"), Mode: 0o755}
	var up *harness.Upstream
	t.Run("UpstreamRoot", func(t *testing.T) { up = harness.NeedUpstream(t) })
	const upstreamOomd = "/usr/lib/systemd/systemd-oomd"
	if up != nil {
		vf, err := vm.DynamicFiles(up.Dir, upstreamOomd)
		if err != nil {
			t.Fatalf("upstream systemd-oomd: %v", err)
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := m.WaitConsole(ctx, `msg="reached default.target"`); err != nil {
		t.Fatal(err)
	}

	// The kernel's side: PSI and the memory controller delegated to system.slice.
	m.MustRun(t, "test", "-r", "/proc/pressure/memory")
	if ctl := m.MustRun(t, "cat", "/sys/fs/cgroup/system.slice/cgroup.subtree_control"); !strings.Contains(ctl, "memory") {
		t.Fatalf("system.slice's cgroup.subtree_control: %q", ctl)
	}
	for _, u := range []string{"systemd-oomd.socket", "systemd-oomd.service", "oomtest-prekill.service", "oomtest-sibling.service"} {
		if r := initVMWaitState(t, m, u, "active", 30*time.Second); r.Runtime.ActiveState != "active" {
			t.Fatalf("%s: %+v", u, r.Runtime)
		}
	}
	siblingPID := m.MustRun(t, "cat", "/sys/fs/cgroup"+oomdVMSibling+"/cgroup.procs")

	// run starts the hog with a watcher and returns the watcher's and the hook's records once
	// the hog's unit is no longer running.
	run := func(t *testing.T, who string) (watch, hook map[string]float64) {
		t.Helper()
		m.MustRun(t, "rm", "-f", "/run/oomtest-watch.log", "/run/oomtest-prekill.log")
		m.MustRun(t, "sh", "-c", oomtestBin+" watch -cgroup "+oomdVMHog+" -above "+oomdVMThreshold+
			" -out /run/oomtest-watch.log </dev/null >/dev/null 2>&1 &")
		start := time.Now()
		m.MustRun(t, "steadctl", "start", "oomtest-hog.service")
		r := initVMWaitState(t, m, "oomtest-hog.service", "failed", 5*time.Minute)
		if r.Runtime.ActiveState != "failed" {
			t.Fatalf("%s: the hog is still %+v after %v", who, r.Runtime, time.Since(start))
		}
		t.Logf("%s: hog started → its unit failed (host clock, agent polling): %v", who, time.Since(start).Round(10*time.Millisecond))
		var w string
		harness.Poll(10*time.Second, func() bool {
			b, _ := m.GetFile(ctx, "/run/oomtest-watch.log")
			w = string(b)
			return strings.Contains(w, "gone ")
		})
		h, _ := m.GetFile(ctx, "/run/oomtest-prekill.log")
		t.Logf("%s: watcher:\n%s\nprekill hook:\n%s", who, w, h)
		watch, hook = oomdVMTimes(w), oomdVMTimes(string(h))
		if !strings.Contains(string(h), "notify "+oomdVMHog+" procs=") || strings.Contains(string(h), "procs=0 ") {
			t.Errorf("%s: the prekill hook was not called for %s while it had processes: %q", who, oomdVMHog, h)
		}
		if watch["crossed"] == 0 || watch["gone"] == 0 {
			t.Errorf("%s: the watcher saw no pressure crossing or no end: %q", who, w)
			return
		}
		lat := watch["gone"] - watch["crossed"]
		t.Logf("%s: full avg10 > %s%% at t=%.2f s (%.2f s after the group appeared); hook called %.2f s later; group empty %.2f s after the crossing (LastingSec=%v)",
			who, oomdVMThreshold, watch["crossed"], watch["crossed"]-watch["appeared"], hook["notify"]-watch["crossed"], lat, oomdVMLasting)
		if hook["notify"] == 0 || hook["notify"] > watch["gone"] {
			t.Errorf("%s: hook at %.3f, group empty at %.3f: not notified first", who, hook["notify"], watch["gone"])
		}
		// Generous: the rule needs LastingSec= from the first round above; TCG is slow.
		if lat > 60 {
			t.Errorf("%s: killed %.1f s after the crossing", who, lat)
		}
		if got := m.MustRun(t, "cat", "/sys/fs/cgroup"+oomdVMSibling+"/cgroup.procs"); got != siblingPID {
			t.Errorf("%s: the sibling's processes are %q, were %q", who, got, siblingPID)
		}
		if r := initVMUnit(t, m, "oomtest-sibling.service"); r.Runtime.ActiveState != "active" {
			t.Errorf("%s: the sibling: %+v", who, r.Runtime)
		}
		return watch, hook
	}

	t.Run("Stead", func(t *testing.T) {
		// oomd runs as the unit says: User=systemd-oom, with CAP_KILL and CAP_DAC_OVERRIDE
		// (ambient, and all its bounding set) and no_new_privs.
		oomdPID := strconv.Itoa(initMainPID(initVMUnit(t, m, "systemd-oomd.service")))
		status := procStatus(m.MustRun(t, "cat", "/proc/"+oomdPID+"/status"))
		const wantCaps = "0000000000000022" // CAP_DAC_OVERRIDE (1), CAP_KILL (5)
		if strings.HasPrefix(status["Uid"], "0\t") || status["CapAmb"] != wantCaps || status["CapEff"] != wantCaps ||
			status["CapBnd"] != wantCaps || status["NoNewPrivs"] != "1" {
			t.Errorf("oomd (pid %s) runs with Uid %q CapAmb %s CapEff %s CapBnd %s NoNewPrivs %s; want systemd-oom, %s everywhere, 1",
				oomdPID, status["Uid"], status["CapAmb"], status["CapEff"], status["CapBnd"], status["NoNewPrivs"], wantCaps)
		}
		// oomctl dump while the hog runs: the text shows the pressure-watched sibling, the
		// JSON the rules-watched groups and the ruleset.
		dump := m.MustRun(t, "oomctl", "dump")
		for _, want := range []string{"Dry Run: no\n", "Memory Pressure Monitored CGroups:\n\tPath: " + oomdVMSibling + "\n\t\tMemory Pressure Limit: 90.00%"} {
			if !strings.Contains(dump, want) {
				t.Errorf("oomctl dump lacks %q:\n%s", want, dump)
			}
		}
		var st struct {
			RulesMonitored []struct {
				Path  string   `json:"path"`
				Rules []string `json:"rules"`
			} `json:"rulesMonitored"`
			Rulesets []struct{ Name string } `json:"rulesets"`
		}
		out := m.MustRun(t, "oomctl", "--json=short", "dump")
		if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Rulesets) != 1 || st.Rulesets[0].Name != "vmtest" ||
			len(st.RulesMonitored) != 1 || st.RulesMonitored[0].Path != oomdVMSibling {
			t.Errorf("oomctl --json=short dump: %v %s", err, out)
		}
		run(t, "stead oomd")
		con := m.Console()
		// "systemd-oomd.service: oomd: WARN killed control group cgroup=… reason="rule vmtest"
		// processes=1 … pressure=41.82% memoryPressureAbove=20.00% lasting=3.0009s action=kill-all"
		re := regexp.MustCompile(`killed control group cgroup=` + regexp.QuoteMeta(oomdVMHog) +
			` reason="rule vmtest" processes=\d+ [^\n]*pressure=(\d+\.\d\d)% memoryPressureAbove=20\.00% lasting=(\S+) action=kill-all`)
		if mm := re.FindStringSubmatch(con); mm == nil {
			t.Errorf("no kill line on the console matching %s", re)
		} else {
			t.Logf("oomd's kill: pressure %s%%, conditions held for %s", mm[1], mm[2])
		}
	})

	t.Run("Upstream", func(t *testing.T) {
		if up == nil {
			harness.Require(t, "no upstream systemd root (see the UpstreamRoot subtest)", "debootstrap")
		}
		m.MustRun(t, "steadctl", "stop", "systemd-oomd.service", "systemd-oomd.socket")
		m.MustRun(t, "sh", "-c", "SYSTEMD_LOG_LEVEL=debug SYSTEMD_LOG_TARGET=console "+upstreamOomd+" </dev/null >/run/upstream-oomd.log 2>&1 &")
		var log string
		if !harness.Poll(60*time.Second, func() bool {
			b, _ := m.GetFile(ctx, "/run/upstream-oomd.log")
			log = string(b)
			return strings.Contains(log, "Registered ruleset") &&
				m.MustRun(t, "sh", "-c", "test -S /run/systemd/oom/io.systemd.ManagedOOM && echo ok; true") == "ok"
		}) {
			t.Fatalf("upstream systemd-oomd did not come up:\n%s", log)
		}
		run(t, "systemd-oomd 262")
		b, _ := m.GetFile(ctx, "/run/upstream-oomd.log")
		if !strings.Contains(string(b), oomdVMHog) {
			t.Errorf("upstream's log does not name the hog:\n%s", b)
		} else {
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, "Kill") || strings.Contains(l, "kill") {
					t.Logf("upstream: %s", l)
				}
			}
		}
	})
}
