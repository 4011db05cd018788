package oomd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/api/apitest"
	"github.com/stead-os/stead/lib/api/iosystemdoomprekill"
	"github.com/stead-os/stead/lib/conf"
)

func write(t *testing.T, p, s string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func collect() (func(error), *[]string) {
	var w []string
	return func(e error) { w = append(w, e.Error()) }, &w
}

func TestConfigDefaultsAndValidation(t *testing.T) {
	root := t.TempDir()
	warn, ws := collect()
	c, err := LoadConfig(root, warn)
	if err != nil || c != DefaultConfig() || c.SwapUsedLimit != 9000 || c.DefaultMemoryPressureLimit != 6000 || c.DefaultMemoryPressureDuration != 30*time.Second || c.PrekillHookTimeout != 0 {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	write(t, filepath.Join(root, "etc/systemd/oomd.conf"), "[OOM]\nSwapUsedLimit=80%\nDefaultMemoryPressureLimit=12.5%\nDefaultMemoryPressureDurationSec=500ms\nPrekillHookTimeoutSec=2s\nBogus=1\n")
	write(t, filepath.Join(root, "usr/lib/systemd/oomd.conf.d/10-x.conf"), "[OOM]\nSwapUsedLimit=950‰\nDefaultMemoryPressureDurationSec=1min\n")
	c, _ = LoadConfig(root, warn)
	if c.SwapUsedLimit != 9500 || c.DefaultMemoryPressureLimit != 1250 || c.DefaultMemoryPressureDuration != time.Minute || c.PrekillHookTimeout != 2*time.Second {
		t.Errorf("loaded %+v", c)
	}
	all := strings.Join(*ws, "\n")
	for _, want := range []string{"oomd.conf:4: DefaultMemoryPressureDurationSec", "oomd.conf:6: Bogus"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning %q in:\n%s", want, all)
		}
	}
	write(t, filepath.Join(root, "etc/systemd/oomd.conf"), "[OOM]\nSwapUsedLimit=101%\nDefaultMemoryPressureDurationSec=infinity\nDefaultMemoryPressureLimit=\n")
	os.RemoveAll(filepath.Join(root, "usr"))
	c, _ = LoadConfig(root, warn)
	if c != DefaultConfig() {
		t.Errorf("bad values must leave the defaults: %+v", c)
	}
}

func TestRulesetsLoading(t *testing.T) {
	root := t.TempDir()
	rd := func(d string) string { return filepath.Join(root, d, "systemd/oomd/rules.d") }
	write(t, rd("usr/lib")+"/heavy.oomrule", "[Rule]\nMemoryPressureAbove=50%\nAction=kill-all\n")
	write(t, rd("etc")+"/heavy.oomrule", "[Rule]\nMemoryPressureAbove=40%\nSwapUsageMax=90%\nAction=kill-by-swap\nLastingSec=20s\n") // masks /usr/lib's
	write(t, rd("run")+"/noaction.oomrule", "# c\n[Rule]\nMemoryPressureAbove=50%\n")
	write(t, rd("run")+"/nocond.oomrule", "[Rule]\nAction=kill-all\n")
	write(t, rd("run")+"/forever.oomrule", "[Rule]\nSwapUsageMax=50%\nAction=kill-all\nLastingSec=infinity\n")
	write(t, rd("run")+"/max.oomrule", "[Rule]\nSwapUsageMax=100%\nAction=kill-all\n")
	write(t, rd("run")+"/badaction.oomrule", "[Rule]\nSwapUsageMax=50%\nAction=kill-some\n")
	write(t, rd("usr/local/lib")+"/empty.oomrule", "")
	write(t, rd("usr/local/lib")+"/scan.oomrule", "[Rule]\nMemoryPressureAbove=10.25%\nAction=kill-by-pgscan\n")
	write(t, rd("usr/local/lib")+"/notarule.conf", "[Rule]\nAction=kill-all\n")
	os.Symlink("/dev/null", rd("etc")+"/masked.oomrule")
	write(t, rd("usr/lib")+"/masked.oomrule", "[Rule]\nSwapUsageMax=50%\nAction=kill-all\n")
	warn, ws := collect()
	rules, err := LoadRules(root, warn)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 {
		t.Fatalf("rules %v, want heavy and scan; warnings:\n%s", rules, strings.Join(*ws, "\n"))
	}
	h := rules["heavy"]
	if h.MemoryPressureAbove != 4000 || h.SwapUsageMax != 9000 || h.Action != ActionKillBySwap || h.Lasting != 20*time.Second {
		t.Errorf("heavy %+v", h)
	}
	if s := rules["scan"]; s.MemoryPressureAbove != 1025 || s.SwapUsageMax != -1 || s.Action != ActionKillByPgscan {
		t.Errorf("scan %+v", s)
	}
	all := strings.Join(*ws, "\n")
	for _, want := range []string{"noaction.oomrule:2:", "nocond.oomrule:1:", "forever.oomrule:1:", "max.oomrule:1:", "badaction.oomrule:3: Action"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning %q in:\n%s", want, all)
		}
	}
}

// TestCGroupKillerRealProcesses kills real sleep processes listed in a fake tree's
// cgroup.procs, after the prekill hook, and counts in the xattrs of the real file system.
func TestCGroupKillerRealProcesses(t *testing.T) {
	root := t.TempDir()
	fs := NewCGroupFS(root)
	if err := os.MkdirAll(fs.dir("/s/victim/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fs.XAttr.Set(fs.dir("/s/victim"), "user.test", "1"); err != nil {
		t.Skipf("no user xattrs on %s: %v", root, err)
	}
	var cmds []*exec.Cmd
	for range 2 {
		c := exec.Command("sleep", "600")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	os.WriteFile(filepath.Join(fs.dir("/s/victim"), "cgroup.procs"), []byte(itoa(uint64(cmds[0].Process.Pid))+"\n"), 0o644)
	os.WriteFile(filepath.Join(fs.dir("/s/victim/sub"), "cgroup.procs"), []byte(itoa(uint64(cmds[1].Process.Pid))+"\n1\n"), 0o644)

	hook := &fakeHook{}
	apitest.Serve(t, filepath.Join(root, iosystemdoomprekill.HookDir, "test"), iosystemdoomprekill.VarlinkNew(hook))
	tr := &tree{t, root}
	m, _, _, _ := tr.manager()
	m.fs = fs
	m.killer = &cgroupKiller{m: m}
	c := DefaultConfig()
	c.PrekillHookTimeout = 5 * time.Second
	m.SetConfig(c, nil)

	n, err := m.killer.Kill(context.Background(), "/s/victim")
	if err != nil || n != 2 {
		t.Fatalf("Kill: %d %v", n, err)
	}
	for _, c := range cmds {
		if err := c.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("pid %d: %v", c.Process.Pid, err)
		}
	}
	if v, _ := fs.XAttr.Get(fs.dir("/s/victim"), "user.oomd_ooms"); v != "1" {
		t.Errorf("user.oomd_ooms = %q", v)
	}
	if v, _ := fs.XAttr.Get(fs.dir("/s/victim"), "user.oomd_kill"); v != "2" {
		t.Errorf("user.oomd_kill = %q", v)
	}
	if got := hook.got(); got != "/s/victim" {
		t.Errorf("prekill hook got %q", got)
	}
}

type fakeHook struct {
	mu sync.Mutex
	cg string
}

func (h *fakeHook) Notify(ctx context.Context, c iosystemdoomprekill.VarlinkCall, cgroup string) error {
	h.mu.Lock()
	h.cg = cgroup
	h.mu.Unlock()
	return c.ReplyNotify(ctx)
}

func (h *fakeHook) got() string { h.mu.Lock(); defer h.mu.Unlock(); return h.cg }

func TestOwnerUID(t *testing.T) {
	for p, want := range map[string]int64{
		"/user.slice/user-1000.slice/user@1000.service/app.slice": 1000,
		"/user.slice/user-0.slice":                                0,
		"/system.slice/x.service":                                 -1,
		"/user.slice/user-1000.slicex":                            -1,
	} {
		got, err := ownerUID(p)
		if (want < 0) != (err != nil) || (err == nil && int64(got) != want) {
			t.Errorf("%s: %d %v", p, got, err)
		}
	}
}

func TestParsers(t *testing.T) {
	p, err := ParsePressure([]byte("some avg10=1.00 avg60=2.00 avg300=3.00 total=4\nfull avg10=12.34 avg60=5.5 avg300=0.00 total=99\n"), "full")
	if err != nil || p != (Pressure{1234, 550, 0, 99}) {
		t.Errorf("pressure %+v %v", p, err)
	}
	mi, err := ParseMemInfo([]byte("MemTotal:  100 kB\nMemAvailable: 40 kB\nSwapTotal: 10 kB\nSwapFree: 4 kB\n"))
	if err != nil || mi.MemUsed() != 60*1024 || mi.SwapUsed() != 6*1024 {
		t.Errorf("meminfo %+v %v", mi, err)
	}
	if FormatPermyriad(9000) != "90.00%" || FormatPermyriad(1025) != "10.25%" {
		t.Error("FormatPermyriad")
	}
}

var ruleSeeds = []string{
	"[Rule]\nMemoryPressureAbove=50%\nAction=kill-all\nLastingSec=1s\n",
	"[Rule]\nSwapUsageMax=99.99%\nAction=kill-by-swap\n[Rule]\nAction=\n",
	"[Rule]\nMemoryPressureAbove=\nSwapUsageMax=5000‱\nAction=kill-by-pgscan\nLastingSec=infinity\n",
	"[OOM]\nSwapUsedLimit=90%\nDefaultMemoryPressureDurationSec=0\nPrekillHookTimeoutSec=1min\n",
}

// FuzzRuleAndConfig checks that no ruleset or oomd.conf text panics the parsers and that what
// they accept is in range.
func FuzzRuleAndConfig(f *testing.F) {
	for _, s := range ruleSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		file, err := conf.Parse(strings.NewReader(s), "x.oomrule", nil)
		if err != nil {
			return
		}
		if r := ParseRule("x", "x.oomrule", file, func(error) {}); r != nil {
			if r.MemoryPressureAbove >= permyriadMax || r.SwapUsageMax >= permyriadMax || (r.MemoryPressureAbove < 0 && r.SwapUsageMax < 0) || r.Action == "" || r.Lasting == conf.Infinity {
				t.Errorf("accepted %+v", r)
			}
		}
		c := ParseConfig(file, func(error) {})
		if c.SwapUsedLimit < 0 || c.SwapUsedLimit > permyriadMax || c.DefaultMemoryPressureDuration < time.Second {
			t.Errorf("config %+v", c)
		}
	})
}

// FuzzPSIAndMemInfo checks the kernel file parsers against any input.
func FuzzPSIAndMemInfo(f *testing.F) {
	f.Add("full avg10=12.34 avg60=5.5 avg300=0.00 total=99\n")
	f.Add("MemTotal: 1 kB\nSwapTotal: 2 kB\nSwapFree: 3 kB\n")
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := ParsePressure([]byte(s), "full"); err == nil && (p.Avg10 < 0 || p.Avg10 > 10000) {
			t.Errorf("pressure %+v", p)
		}
		if m, err := ParseMemInfo([]byte(s)); err == nil && m.SwapFree > m.SwapTotal {
			t.Errorf("meminfo %+v", m)
		}
	})
}
