package condition

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stead-os/stead/lib/unit"
)

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Every documented kind has a check; none is met by default.
func TestEveryKindEvaluated(t *testing.T) {
	for _, k := range unit.ConditionKinds {
		if tests[k] == nil {
			t.Errorf("Condition%s= has no check", k)
		}
	}
	if len(tests) != len(unit.ConditionKinds) {
		t.Errorf("%d checks for %d kinds", len(tests), len(unit.ConditionKinds))
	}
	e := &Env{Root: t.TempDir()}
	if _, err := e.Evaluate("Bogus", "x"); err == nil {
		t.Error("unknown kind evaluated")
	}
}

func TestRootConditions(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"etc/os-release":                   "ID=debian\nVERSION_ID=\"13\"\n",
		"etc/machine-info":                 "TAGS=\"role=web blue\"\n",
		"etc/machine-id":                   "0123456789abcdef0123456789abcdef\n",
		"etc/passwd":                       "root:x:0:0::/root:/bin/sh\nalice:x:4242:4242::/home/alice:/bin/sh\n",
		"d/.hidden":                        "",
		"d/x.dpkg-old":                     "",
		"full/file":                        "x",
		"empty":                            "",
		"run/systemd/first-boot":           "",
		"sys/module/loop/initstate":        "live\n",
		"sys/module/builtin/parameters/x":  "1",
		"sys/module/going/initstate":       "going\n",
		"sys/class/power_supply/AC/type":   "Mains\n",
		"sys/class/power_supply/AC/online": "0\n",
		"proc/pressure/memory":             "some avg10=1.00 avg60=2.00 avg300=3.00 total=1\nfull avg10=0 avg60=0 avg300=0 total=0\n",
		"sys/class/dmi/id/sys_vendor":      "QEMU\n",
		"proc/cmdline":                     "quiet systemd.condition_needs_update=1 foo=bar\n",
	})
	t.Setenv("SYSTEMD_PROC_CMDLINE", "")
	os.Unsetenv("SYSTEMD_PROC_CMDLINE")
	e := &Env{Root: root, Environ: []string{"A=1", "B="}, CredentialsDirs: []string{filepath.Join(root, "creds")}}
	write(t, root, map[string]string{"creds/token": "s"})
	for _, c := range []struct {
		kind, value string
		want        bool
	}{
		{"PathExists", "/etc", true}, {"PathExists", "/nope", false},
		{"PathExistsGlob", "/etc/*-release", true}, {"PathIsDirectory", "/etc/os-release", false},
		{"DirectoryNotEmpty", "/d", false}, {"DirectoryNotEmpty", "/full", true},
		{"FileNotEmpty", "/empty", false}, {"FileNotEmpty", "/full/file", true},
		{"FileIsExecutable", "/full/file", false}, {"PathIsSocket", "/etc", false},
		{"OSRelease", "ID=debian", true}, {"OSRelease", "VERSION_ID>=12", true}, {"OSRelease", "VERSION_ID<12", false},
		{"OSRelease", "ID$=deb*", true}, {"OSRelease", "ID!=debian", false},
		{"MachineTag", "role=*", true}, {"MachineTag", "role", false}, {"MachineTag", "blue", true},
		{"Host", "0123456789abcdef0123456789abcdef", true}, {"Host", "01234567-89ab-cdef-0123-456789abcdef", true},
		{"Environment", "A", true}, {"Environment", "A=1", true}, {"Environment", "A=2", false}, {"Environment", "B", true},
		{"Credential", "token", true}, {"Credential", "other", false},
		{"FirstBoot", "yes", true}, {"FirstBoot", "no", false},
		{"NeedsUpdate", "/etc", true},
		{"KernelModuleLoaded", "loop", true}, {"KernelModuleLoaded", "builtin", true},
		{"KernelModuleLoaded", "going", false}, {"KernelModuleLoaded", "absent", false},
		{"ACPower", "true", false}, {"ACPower", "false", true},
		{"MemoryPressure", "5%", true}, {"MemoryPressure", "2%", false}, {"MemoryPressure", "1.5%/10sec", true},
		{"CPUPressure", "0%", true}, // no PSI file: holds
		{"Firmware", "smbios-field(sys_vendor = QEMU)", true}, {"Firmware", "smbios-field(sys_vendor != QEMU)", false},
		{"Firmware", "uefi", false},
		{"KernelCommandLine", "foo=bar", true}, {"KernelCommandLine", "foo", true}, {"KernelCommandLine", "foo=baz", false},
		{"Fraction", "0%", false}, {"Fraction", "100%", true},
		{"Version", "systemd >= 262", true}, {"Version", "systemd < 262", false},
		{"ControlGroupController", "v2", true}, {"ControlGroupController", "v1", false},
		{"User", "alice", os.Getuid() == 4242}, {"User", "0", os.Getuid() == 0},
	} {
		got, err := e.Evaluate(c.kind, c.value)
		if err != nil || got != c.want {
			t.Errorf("Condition%s=%s: %v %v, want %v", c.kind, c.value, got, err, c.want)
		}
	}
	for _, c := range [][2]string{{"PathExists", "relative"}, {"OSRelease", "NOPE="}, {"Fraction", "50%"},
		{"Architecture", "nonsense"}, {"Capability", "CAP_NOPE"}, {"MemoryPressure", "x"}, {"ControlGroupController", "memory"}} {
		if _, err := e.Evaluate(c[0], c[1]); err == nil {
			t.Errorf("Condition%s=%s: no error", c[0], c[1])
		}
	}
}

func TestCheckTriggersAndNegation(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{"a": "x"})
	e := &Env{Root: root}
	c := func(v string, neg, trig bool) unit.Condition {
		return unit.Condition{Kind: "PathExists", Value: v, Negate: neg, Trigger: trig}
	}
	for _, tc := range []struct {
		conds []unit.Condition
		ok    bool
	}{
		{[]unit.Condition{c("/a", false, false)}, true},
		{[]unit.Condition{c("/a", true, false)}, false},
		{[]unit.Condition{c("/b", false, true), c("/a", false, true)}, true},
		{[]unit.Condition{c("/b", false, true), c("/c", false, true)}, false},
		{[]unit.Condition{c("rel", true, false)}, false}, // an error fails even negated
	} {
		if ok, _ := e.Check(tc.conds, false); ok != tc.ok {
			t.Errorf("%+v: %v, want %v", tc.conds, ok, tc.ok)
		}
	}
}

func TestVersionCompare(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"6.1.0", "6.1", 1}, {"6.10", "6.9", 1}, {"1.0~rc1", "1.0", -1}, {"2.41", "2.30", 1},
		{"5.15.0-generic", "5.15.0", 1}, {"abc", "abd", -1}, {"007", "7", 0},
	} {
		if got := versionCompare(c.a, c.b); got != c.want {
			t.Errorf("versionCompare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	if !slices.Contains(Kinds, "MachineTag") {
		t.Error("Kinds")
	}
}

func FuzzEvaluate(f *testing.F) {
	f.Add("OSRelease", "ID>=1 VERSION_ID$=1*")
	f.Add("KernelVersion", ">= 5 <100")
	f.Add("Firmware", "smbios-field(a<=b)")
	e := &Env{Root: f.TempDir()}
	f.Fuzz(func(t *testing.T, kind, value string) {
		if kind == "Security" || kind == "Capability" {
			return
		}
		e.Evaluate(kind, value)
	})
}
