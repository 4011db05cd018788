//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/api/iosystemdunit"
	"github.com/stead-os/stead/lib/unit"
)

// upstreamDump is one unit of upstream's `systemd --test` dump: "Key: value" lines in order,
// and the Command Line of each Exec*= command.
type upstreamDump struct {
	name  string
	lines map[string][]string // key → values, in order
	execs map[string][]string // ExecStart → command lines
}

// parseUpstreamDump reads the "→ Unit NAME:" blocks of a `systemd --test` dump.
func parseUpstreamDump(out string) map[string]*upstreamDump {
	units := map[string]*upstreamDump{}
	var cur *upstreamDump
	var exec string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "\t→ Unit ") && strings.HasSuffix(l, ":"):
			n := strings.TrimSuffix(strings.TrimPrefix(l, "\t→ Unit "), ":")
			cur = &upstreamDump{name: n, lines: map[string][]string{}, execs: map[string][]string{}}
			units[n] = cur
			exec = ""
		case cur == nil:
		case strings.HasPrefix(l, "\t\t→ "):
			exec = strings.TrimSuffix(strings.TrimPrefix(l, "\t\t→ "), ":")
		case strings.HasPrefix(l, "\t\t\tCommand Line: ") && exec != "":
			cur.execs[exec] = append(cur.execs[exec], strings.TrimPrefix(l, "\t\t\tCommand Line: "))
		case strings.HasPrefix(l, "\t\t") && !strings.HasPrefix(l, "\t\t\t"):
			exec = ""
			k, v, ok := strings.Cut(strings.TrimPrefix(l, "\t\t"), ": ")
			if !ok {
				k, v = strings.TrimSuffix(strings.TrimPrefix(l, "\t\t"), ":"), ""
			}
			cur.lines[k] = append(cur.lines[k], v)
		case !strings.HasPrefix(l, "\t\t"):
			cur, exec = nil, ""
		}
	}
	return units
}

// deps returns the units of a dependency kind in u's dump, without the origin annotation;
// explicit keeps only those some unit file states (origin-file or destination-file).
func (u *upstreamDump) deps(kind string, explicit bool) []string {
	var out []string
	for _, v := range u.lines[kind] {
		name, origin, _ := strings.Cut(v, " (")
		if explicit && !strings.Contains(origin, "-file") {
			continue
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// shellQuote quotes an argument as upstream's dump prints command lines (shell_maybe_quote).
func shellQuote(s string) string {
	if s == "" {
		return `""`
	}
	if !strings.ContainsAny(s, " \t\n\r\"\\`$*?['()<>|&;!") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if strings.IndexByte("\"\\`$", s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// corpusRoot builds a root holding the unit files of Debian's systemd 262 packages (from the
// upstream root) and of openssh-server, cron, rsyslog and chrony (extracted from their
// packages), with the upstream root's machine ID and os-release and this host's boot ID, so
// that every specifier has the same value on both sides. default.target in /etc is replaced
// by an empty target: host-mode init starts it, and nothing of the corpus may run here.
func corpusRoot(t *testing.T, up *harness.Upstream) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(harness.RepoRoot(), "integration", "corpus-debs")).Output()
	if err != nil {
		harness.Require(t, fmt.Sprintf("the corpus packages cannot be downloaded: %v", err))
	}
	debs, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "*.deb"))
	if len(debs) < 4 {
		t.Fatalf("corpus packages missing: %v", debs)
	}
	root := t.TempDir()
	for _, d := range []string{"usr/lib/systemd/system", "etc/systemd/system"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command("cp", "-a", filepath.Join(up.Dir, d)+"/.", filepath.Join(root, d)).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v: %s", d, err, b)
		}
	}
	x := t.TempDir()
	for _, d := range debs {
		if b, err := exec.Command("dpkg-deb", "-x", d, x).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -x %s: %v: %s", d, err, b)
		}
	}
	for _, d := range []string{"lib/systemd/system", "usr/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(x, d)); err == nil {
			if b, err := exec.Command("cp", "-a", filepath.Join(x, d)+"/.", filepath.Join(root, "usr/lib/systemd/system")).CombinedOutput(); err != nil {
				t.Fatalf("copy package units: %v: %s", err, b)
			}
		}
	}
	os.Remove(filepath.Join(root, "etc/systemd/system/default.target"))
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/system/default.target"), "[Unit]\nDescription=Nothing (unit-loading corpus)\n", 0o644)
	for _, f := range []string{"etc/machine-id", "usr/lib/os-release"} {
		b, err := os.ReadFile(filepath.Join(up.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		harness.WriteFile(t, filepath.Join(root, f), string(b), 0o644)
	}
	if err := os.Symlink("../usr/lib/os-release", filepath.Join(root, "etc/os-release")); err != nil {
		t.Fatal(err)
	}
	bootID, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	harness.WriteFile(t, filepath.Join(root, "proc/sys/kernel/random/boot_id"), string(bootID), 0o644)
	return root
}

// corpusNames lists the unit names of root's unit directories that can be loaded by name
// (templates are loaded through an instance: name@corpus).
func corpusNames(t *testing.T, root string) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, d := range []string{"etc/systemd/system", "usr/lib/systemd/system"} {
		ents, err := os.ReadDir(filepath.Join(root, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			n := e.Name()
			_, _, _, tmpl, err := unit.ParseName(n)
			if err != nil || e.IsDir() {
				continue
			}
			if tmpl {
				n = strings.Replace(n, "@.", "@corpus.", 1)
			}
			seen[n] = true
		}
	}
	delete(seen, "default.target")
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// upstreamCorpusDump runs upstream's manager in test mode (`systemd --test --system`, as an
// unprivileged user, in a mount namespace where the upstream root's unit directories are
// root's) on a target that wants every unit of names, and parses its dump.
func upstreamCorpusDump(t *testing.T, up *harness.Upstream, root string, names []string) map[string]*upstreamDump {
	t.Helper()
	stage, inside := up.Stage(t)
	harness.WriteFile(t, filepath.Join(stage, "stead-corpus.target"), "[Unit]\nDefaultDependencies=no\nWants="+strings.Join(names, " ")+"\n", 0o644)
	script := `set -e
U="$UP"
mount --rbind /proc "$U/proc"
mount --rbind /sys "$U/sys"
if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
	umount -l "$U/sys/fs/cgroup"
	mount --bind /sys/fs/cgroup/unified "$U/sys/fs/cgroup"
fi
mount --bind "$ROOT/usr/lib/systemd/system" "$U/usr/lib/systemd/system"
mount --bind "$ROOT/etc/systemd/system" "$U/etc/systemd/system"
# No generators: init reads the same directories without their output.
mount -t tmpfs tmpfs "$U/usr/lib/systemd/system-generators"
mount -t tmpfs tmpfs "$U/run"
mkdir -p "$U/run/systemd/system"
cp "$U$STAGE/stead-corpus.target" "$U/run/systemd/system/"
exec env -i HOME="$HOME" SHELL="$SHELL" PATH="$PATH" chroot --userspec=65534:65534 "$U" /usr/lib/systemd/systemd --test --system --unit=stead-corpus.target --no-pager
`
	cmd := exec.Command("unshare", "-m", "sh", "-c", script)
	// Test mode refuses to run as root; %h and %s then follow $HOME and $SHELL, which are set
	// to what they are for root, the user a system manager runs as.
	cmd.Env = []string{"UP=" + up.Dir, "ROOT=" + root, "STAGE=" + inside, "HOME=/root", "SHELL=/bin/sh",
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_LOG_COLOR=0"}
	stdout, stderr, code := harness.Run(t, cmd)
	if code != 0 {
		t.Fatalf("upstream systemd --test: exit %d\n%s", code, stderr)
	}
	d := parseUpstreamDump(stdout + "\n" + stderr)
	if len(d) < len(names)/2 {
		t.Fatalf("upstream dump has %d units for %d names:\n%s", len(d), len(names), stderr)
	}
	return d
}

// TestInitUnitsLoadingCorpus loads every unit file of Debian's systemd 262 packages and of
// openssh-server, cron, rsyslog and chrony with init (host mode, queried through
// io.systemd.Unit, nothing started) and with upstream's own manager (`systemd --test`), and
// compares them field by field: load state, names (aliases), the dependencies the files state
// in both directions, the implicit ones (reported), Exec*= command lines, Environment= and
// conditions (through lib/unit, the loader init uses). Every upstream-loaded unit must load;
// explicit dependencies, names, command lines, environment and conditions must be identical.
func TestInitUnitsLoadingCorpus(t *testing.T) {
	up := harness.NeedUpstream(t)
	bin := harness.Binary(t, "cmd/init")
	root := corpusRoot(t, up)
	names := corpusNames(t, root)
	ud := upstreamCorpusDump(t, up, root, names)
	t.Logf("corpus: %d unit names; upstream dumped %d units", len(names), len(ud))

	_, _, log := startHostInit(t, bin, root)
	initWaitPath(t, filepath.Join(root, "run/systemd/io.systemd.Manager"), log)
	ctx, vc, closeVC := initDial(t, root, "io.systemd.Manager")
	defer closeVC()
	uc := iosystemdunit.NewClient(vc)
	ours := map[string]iosystemdunit.Unit{}
	for _, n := range names {
		u, err := uc.Get(ctx, n)
		if err != nil {
			ours[n] = iosystemdunit.Unit{Runtime: iosystemdunit.UnitRuntime{LoadState: "error: " + err.Error()}}
			continue
		}
		ours[n] = u
	}
	all, err := uc.List(ctx) // the dependencies again, now that every unit is loaded
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range all {
		for _, n := range u.Context.Names {
			ours[n] = u
		}
	}

	unsupported := map[string]int{} // key → units that use it, which init reports as not supported
	otherWarnings := 0
	var loadFail, explicitDiff, implicitDiff, nameDiff, execDiff, envDiff, condDiff, compared int
	report := &strings.Builder{}
	note := func(counter *int, format string, args ...any) {
		*counter++
		fmt.Fprintf(report, format+"\n", args...)
	}
	explicitKinds := []string{"Wants", "WantedBy", "Requires", "RequiredBy", "Requisite", "RequisiteOf", "BindsTo",
		"BoundBy", "PartOf", "ConsistsOf", "Upholds", "UpheldBy", "Conflicts", "ConflictedBy", "Before", "After",
		"OnFailure", "OnFailureOf", "OnSuccess", "OnSuccessOf", "Triggers", "TriggeredBy"}
	for _, n := range names {
		u, ok := ud[n]
		if !ok {
			continue
		}
		o := ours[n]
		upLoad := u.lines["Unit Load State"]
		if len(upLoad) == 0 || upLoad[0] != "loaded" {
			continue // upstream does not load it either
		}
		compared++
		if o.Runtime.LoadState != "loaded" {
			note(&loadFail, "%s: upstream loads it, init says %q", n, o.Runtime.LoadState)
			continue
		}
		if o.Context.ID != n && !contains(o.Context.Names, n) {
			note(&nameDiff, "%s: init's unit is %s with names %v", n, o.Context.ID, o.Context.Names)
		}
		upNames := append([]string{}, u.lines["Alias"]...)
		upNames = append(upNames, n)
		sort.Strings(upNames)
		ourNames := append([]string{}, o.Context.Names...)
		sort.Strings(ourNames)
		if strings.Join(upNames, " ") != strings.Join(ourNames, " ") && n == o.Context.ID {
			note(&nameDiff, "%s: names upstream %v, init %v", n, upNames, ourNames)
		}
		od := depsOf(o.Context)
		for _, k := range explicitKinds {
			upAll := fromFiles(ud, without(u.deps(k, false), "stead-corpus.target"))
			upExplicit := fromFiles(ud, without(u.deps(k, true), "stead-corpus.target"))
			ourSet := existing(ours, od[k])
			if miss := minus(upExplicit, ourSet); len(miss) > 0 {
				note(&explicitDiff, "%s: %s upstream states but init lacks: %v", n, k, miss)
			}
			if miss, extra := minus(upAll, ourSet), minus(ourSet, upAll); len(miss)+len(extra) > 0 {
				implicitDiff++
				fmt.Fprintf(report, "(implicit) %s: %s missing %v, extra %v\n", n, k, miss, extra)
			}
		}
		// Exec lines, environment and conditions through lib/unit, the loader init runs.
		lu, err := unit.Load(root, n, &unit.Options{})
		if err != nil || lu.LoadState != unit.Loaded {
			note(&loadFail, "%s: lib/unit: %v %v", n, err, lu)
			continue
		}
		for _, w := range lu.Warnings {
			if m := unsupportedKey.FindStringSubmatch(w.Error()); m != nil {
				unsupported[m[1]]++
			} else {
				otherWarnings++
				fmt.Fprintf(report, "(warning) %s: %v\n", n, w)
			}
		}
		if s := lu.Service; s != nil {
			for key, cmds := range map[string][]unit.ExecCommand{"ExecStartPre": s.ExecStartPre, "ExecStart": s.ExecStart,
				"ExecStartPost": s.ExecStartPost, "ExecStop": s.ExecStop, "ExecStopPost": s.ExecStopPost,
				"ExecReload": s.ExecReload, "ExecCondition": s.ExecCondition} {
				var lines []string
				for _, c := range cmds {
					q := make([]string, len(c.Argv))
					for i, a := range c.Argv {
						q[i] = shellQuote(a)
					}
					lines = append(lines, strings.Join(q, " "))
				}
				if strings.Join(lines, "\n") != strings.Join(u.execs[key], "\n") {
					note(&execDiff, "%s: %s upstream %q, init %q", n, key, u.execs[key], lines)
				}
			}
			if got, want := strings.Join(s.Environment, "\n"), strings.Join(u.lines["Environment"], "\n"); got != want {
				note(&envDiff, "%s: Environment upstream %q, init %q", n, u.lines["Environment"], s.Environment)
			}
		}
		var upConds, ourConds []string
		for k, vs := range u.lines {
			if strings.HasPrefix(k, "Condition") || strings.HasPrefix(k, "Assert") {
				for _, v := range vs {
					v = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(v, " untested"), " succeeded"), " failed")
					upConds = append(upConds, k+"="+v)
				}
			}
		}
		for _, c := range lu.Unit.Conditions {
			k := "Condition"
			if c.Assert {
				k = "Assert"
			}
			v := c.Value
			if c.Negate {
				v = "!" + v
			}
			if c.Trigger {
				v = "|" + v
			}
			ourConds = append(ourConds, k+c.Kind+"="+v)
		}
		sort.Strings(upConds)
		sort.Strings(ourConds)
		if strings.Join(upConds, "\n") != strings.Join(ourConds, "\n") {
			note(&condDiff, "%s: conditions upstream %q, init %q", n, upConds, ourConds)
		}
	}
	t.Logf("compared %d units upstream loads: %d load failures, %d name differences, %d missing explicit dependencies, "+
		"%d differing dependency lists counting implicit ones, %d Exec differences, %d Environment differences, %d condition differences",
		compared, loadFail, nameDiff, explicitDiff, implicitDiff, execDiff, envDiff, condDiff)
	if loadFail+nameDiff+explicitDiff+implicitDiff+execDiff+envDiff+condDiff > 0 || testing.Verbose() {
		t.Log(report.String())
	}
	if loadFail+nameDiff+explicitDiff+implicitDiff+execDiff+envDiff+condDiff > 0 {
		t.Errorf("init reads the corpus differently from upstream (see above)")
	}
	keys := make([]string, 0, len(unsupported))
	for k := range unsupported {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return unsupported[keys[i]] > unsupported[keys[j]] })
	t.Logf("every other setting is reported: %d distinct settings init warns are not supported (%v …), %d other warnings",
		len(keys), keys[:min(len(keys), 15)], otherWarnings)
	if compared < 200 {
		t.Errorf("only %d units compared: the corpus or the upstream dump is incomplete", compared)
	}
}

// fromFiles drops the units upstream made from the running system rather than from unit
// files: mount units of the host's mount table (-.mount, …) and block device targets (init in
// host mode reads no mount table); and units that do not exist, which upstream's dump has
// collected (init keeps listing a dependency on a unit without a file). Both differences are
// documented.
func fromFiles(ud map[string]*upstreamDump, names []string) []string {
	var out []string
	for _, n := range names {
		d := ud[n]
		if d == nil || len(d.lines["Unit Load State"]) > 0 && d.lines["Unit Load State"][0] == "not-found" {
			continue
		}
		if strings.HasPrefix(n, "blockdev@") && n != "blockdev@corpus.target" ||
			d != nil && len(d.lines["Fragment Path"]) == 0 && strings.HasSuffix(n, ".mount") {
			continue
		}
		out = append(out, n)
	}
	return out
}

// existing drops from names the units init has no file for (see fromFiles).
func existing(ours map[string]iosystemdunit.Unit, names []string) []string {
	var out []string
	for _, n := range names {
		if o, ok := ours[n]; ok && o.Runtime.LoadState == "not-found" {
			continue
		}
		out = append(out, n)
	}
	return out
}

// unsupportedKey matches lib/unit's warning for a setting stead does not implement.
var unsupportedKey = regexp.MustCompile(`: (\w+)= in \[\w+\] is not supported by stead, ignoring`)

// depsOf returns a Describe reply's dependency lists by kind, sorted.
func depsOf(c iosystemdunit.UnitContext) map[string][]string {
	m := map[string][]string{"Wants": c.Wants, "WantedBy": c.WantedBy, "Requires": c.Requires, "RequiredBy": c.RequiredBy,
		"Requisite": c.Requisite, "RequisiteOf": c.RequisiteOf, "BindsTo": c.BindsTo, "BoundBy": c.BoundBy,
		"PartOf": c.PartOf, "ConsistsOf": c.ConsistsOf, "Upholds": c.Upholds, "UpheldBy": c.UpheldBy,
		"Conflicts": c.Conflicts, "ConflictedBy": c.ConflictedBy, "Before": c.Before, "After": c.After,
		"OnFailure": c.OnFailure, "OnFailureOf": c.OnFailureOf, "OnSuccess": c.OnSuccess, "OnSuccessOf": c.OnSuccessOf,
		"Triggers": c.Triggers, "TriggeredBy": c.TriggeredBy}
	for k, l := range m {
		l = append([]string{}, l...)
		sort.Strings(l)
		m[k] = l
	}
	return m
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// minus is a without the elements of b.
func minus(a, b []string) []string {
	set := map[string]bool{}
	for _, x := range b {
		set[x] = true
	}
	var out []string
	for _, x := range a {
		if !set[x] {
			out = append(out, x)
		}
	}
	return out
}

func without(l []string, s string) []string { return minus(l, []string{s}) }

// TestInitUnitsLoadingAliases runs init in host mode over a root where an alias symlink, the
// unit it names, a template and drop-ins meet: the aliased unit runs once although the default
// target wants both names, it does not conflict with itself, Describe lists its names and the
// reverse dependencies, the unit's own drop-in beats the type-wide one of the same name, a
// template instance loads on query, and an unknown key is reported with file:line.
func TestInitUnitsLoadingAliases(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root := t.TempDir()
	out := filepath.Join(root, "out")
	lib := filepath.Join(root, "usr/lib/systemd/system")
	harness.WriteFile(t, filepath.Join(lib, "real.service"), `[Unit]
Conflicts=alias.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo "run $X" >> `+out+`'
ExecStrat=/bin/false
`, 0o644)
	if err := os.Symlink("real.service", filepath.Join(lib, "alias.service")); err != nil {
		t.Fatal(err)
	}
	harness.WriteFile(t, filepath.Join(lib, "real.service.d/50-x.conf"), "[Service]\nEnvironment=X=unit\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/system/service.d/50-x.conf"), "[Service]\nEnvironment=X=typewide\n", 0o644)
	harness.WriteFile(t, filepath.Join(lib, "tmpl@.service"), "[Unit]\nDescription=instance %i of %p\n[Service]\nExecStart=/bin/true\n", 0o644)
	harness.WriteFile(t, filepath.Join(lib, "c1.service"), "[Unit]\nConflicts=c2.service\nOnFailure=c2.service\n[Service]\nExecStart=/bin/true\n", 0o644)
	harness.WriteFile(t, filepath.Join(lib, "c2.service"), "[Service]\nExecStart=/bin/true\n", 0o644)
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=real.service alias.service\n")

	_, _, log := startHostInit(t, bin, root)
	initWaitFile(t, out, log)
	initWaitPath(t, filepath.Join(root, "run/systemd/io.systemd.Manager"), log)
	ctx, vc, closeVC := initDial(t, root, "io.systemd.Manager")
	defer closeVC()
	uc := iosystemdunit.NewClient(vc)
	var real iosystemdunit.Unit
	harness.Eventually(t, "real.service active", 15*time.Second, func() bool {
		var err error
		real, err = uc.Get(ctx, "alias.service")
		return err == nil && real.Runtime.ActiveState == "active"
	}, harness.Output("init log", log))
	if b, _ := os.ReadFile(out); string(b) != "run unit\n" {
		t.Errorf("the aliased unit ran as %q, want once with the unit's own drop-in (run unit)", b)
	}
	if real.Context.ID != "real.service" || strings.Join(real.Context.Names, " ") != "real.service alias.service" {
		t.Errorf("alias.service: ID %s, Names %v", real.Context.ID, real.Context.Names)
	}
	if len(real.Context.Conflicts) != 0 || !contains(real.Context.WantedBy, "default.target") {
		t.Errorf("real.service: Conflicts %v (a unit never conflicts with itself), WantedBy %v", real.Context.Conflicts, real.Context.WantedBy)
	}
	inst, err := uc.Get(ctx, "tmpl@on-demand.service")
	if err != nil || inst.Runtime.LoadState != "loaded" || inst.Context.Description != "instance on-demand of tmpl" {
		t.Errorf("template instance on query: %v %+v", err, inst)
	}
	// c1.service is loaded by this query; from then on c2.service records the reverse.
	if _, err := uc.Get(ctx, "c1.service"); err != nil {
		t.Fatal(err)
	}
	c2, err := uc.Get(ctx, "c2.service")
	if err != nil || !contains(c2.Context.ConflictedBy, "c1.service") || !contains(c2.Context.OnFailureOf, "c1.service") {
		t.Errorf("c2.service: ConflictedBy/OnFailureOf not recorded: %v %+v", err, c2.Context)
	}
	if !strings.Contains(log.String(), "real.service:7: Unknown key 'ExecStrat' in section [Service], ignoring") {
		t.Errorf("no file:line warning for ExecStrat=:\n%s", log.String())
	}
	// steadctl status shows them too, for the unit by any of its names.
	ctl := harness.Binary(t, "cmd/steadctl")
	status, _, _ := harness.Run(t, exec.Command(ctl, "--root="+root, "status", "alias.service"))
	if !strings.Contains(status, "Warnings: "+filepath.Join(lib, "real.service")+":7: Unknown key 'ExecStrat' in section [Service], ignoring") {
		t.Errorf("steadctl status shows no warning:\n%s", status)
	}
}

// TestInitUnitsLoadingSpecifiers expands every specifier systemd.unit(5) lists with lib/unit
// (init's loader) and with upstream's manager for the same template instance, whose name has
// escapes, in the same root, and compares the results one by one.
func TestInitUnitsLoadingSpecifiers(t *testing.T) {
	up := harness.NeedUpstream(t)
	root := corpusRoot(t, up)
	specs := strings.Fields("a A b B C d E f g G h H i I j J l L m M n N o p P q s S t T u U v V w W y Y %")
	var env []string
	for i, s := range specs {
		env = append(env, fmt.Sprintf("S%02d=%%%s", i, s))
	}
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/system/spec-x-y@.service"),
		"[Service]\nExecStart=/bin/true %i %I %f\nEnvironment="+strings.Join(env, " ")+"\n", 0o644)
	name := `spec-x-y@a\x2db-c.service`
	ud := upstreamCorpusDump(t, up, root, []string{name})
	d := ud[name]
	if d == nil {
		t.Fatalf("upstream did not load %s", name)
	}
	u, err := unit.Load(root, name, nil)
	if err != nil || u.LoadState != unit.Loaded {
		t.Fatalf("lib/unit: %v %+v", err, u)
	}
	if len(d.lines["Environment"]) != len(specs) || len(u.Service.Environment) != len(specs) {
		t.Fatalf("upstream %d, init %d of %d assignments: %q / %q", len(d.lines["Environment"]), len(u.Service.Environment), len(specs),
			d.lines["Environment"], u.Service.Environment)
	}
	for i, s := range specs {
		if got, want := u.Service.Environment[i], d.lines["Environment"][i]; got != want {
			t.Errorf("%%%s: init %q, upstream %q", s, got, want)
		}
	}
	var q []string
	for _, a := range u.Service.ExecStart[0].Argv {
		q = append(q, shellQuote(a))
	}
	if got, want := strings.Join(q, " "), strings.Join(d.execs["ExecStart"], ""); got != want {
		t.Errorf("ExecStart: init %s, upstream %s", got, want)
	}
}
