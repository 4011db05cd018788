//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/api/iosystemdmanager"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

// ctlEnv is a host-mode init over a temporary root and the steadctl binary that drives it.
type ctlEnv struct {
	t    *testing.T
	root string
	ctl  string
	log  *harness.SyncBuffer
}

// steadctl runs the real binary against the root and returns stdout, stderr and exit code.
func (e *ctlEnv) steadctl(args ...string) (string, string, int) {
	e.t.Helper()
	return harness.Run(e.t, exec.Command(e.ctl, append([]string{"--root=" + e.root}, args...)...))
}

// must runs steadctl and fails the test unless it exits with code.
func (e *ctlEnv) must(code int, args ...string) string {
	e.t.Helper()
	out, errOut, got := e.steadctl(args...)
	if got != code {
		e.t.Fatalf("steadctl %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, got, code, out, errOut)
	}
	return out
}

// prop returns one property of a unit (show -p NAME --value).
func (e *ctlEnv) prop(unit, name string) string {
	e.t.Helper()
	return strings.TrimSpace(e.must(0, "show", unit, "-p", name, "--value"))
}

// waitState polls until unit has ActiveState state.
func (e *ctlEnv) waitState(unit, state string) {
	e.t.Helper()
	var out string
	harness.Eventually(e.t, unit+" to become "+state, 15*time.Second, func() bool {
		out, _, _ = e.steadctl("show", unit, "-P", "ActiveState")
		return strings.TrimSpace(out) == state
	}, func() string { return fmt.Sprintf("is %q", strings.TrimSpace(out)) }, harness.Output("init log", e.log))
}

func newCtlEnv(t *testing.T, units map[string]string) *ctlEnv {
	t.Helper()
	bin := harness.Binary(t, "cmd/init")
	ctl := harness.Binary(t, "cmd/steadctl")
	root := t.TempDir()
	for name, text := range units {
		initWriteUnit(t, root, name, text)
	}
	_, _, log := startHostInit(t, bin, root)
	e := &ctlEnv{t: t, root: root, ctl: ctl, log: log}
	initWaitPath(t, filepath.Join(root, "run/systemd/io.systemd.Manager"), log)
	return e
}

func pidAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// TestInitCtlJobsAndQueries drives a host-mode init with the steadctl binary: list-units,
// is-active/is-failed exit codes, start/stop/restart/reload changing real processes, a failing
// unit, show -p and --json, status, and daemon-reload picking up a unit file that was missing.
func TestInitCtlJobsAndQueries(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "reloaded")
	e := newCtlEnv(t, map[string]string{
		"default.target": "[Unit]\nDescription=Default\nWants=sleeper.service once.service\n",
		"sleeper.service": "[Unit]\nDescription=Sleeper\n[Service]\nExecStart=/bin/sleep 600\n" +
			"ExecReload=/bin/sh -c 'echo reload >> " + marker + "'\n",
		"once.service": "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
		"bad.service":  "[Unit]\nDescription=Fails\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'exit 3'\n",
		"slow.service": "[Service]\nType=oneshot\nExecStart=/bin/sleep 2\n",
	})
	e.waitState("sleeper.service", "active")
	e.waitState("once.service", "active")

	list := e.must(0, "list-units")
	for _, want := range []string{"UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION", "sleeper.service", "Sleeper", "once.service"} {
		if !strings.Contains(list, want) {
			t.Errorf("list-units lacks %q:\n%s", want, list)
		}
	}
	if !containsFields(list, "sleeper.service", "loaded", "active", "running", "Sleeper") ||
		!containsFields(list, "once.service", "loaded", "active", "exited") {
		t.Errorf("list-units rows wrong:\n%s", list)
	}
	if strings.Contains(list, "bad.service") {
		t.Errorf("inactive bad.service listed without --all:\n%s", list)
	}
	var rows []map[string]string
	if err := json.Unmarshal([]byte(e.must(0, "list-units", "--json=short")), &rows); err != nil {
		t.Fatalf("list-units --json: %v", err)
	}
	found := false
	for _, r := range rows {
		found = found || (r["unit"] == "sleeper.service" && r["active"] == "active" && r["sub"] == "running")
	}
	if !found {
		t.Errorf("list-units --json lacks sleeper.service: %v", rows)
	}

	if out := e.must(0, "is-active", "sleeper"); strings.TrimSpace(out) != "active" {
		t.Errorf("is-active sleeper printed %q", out)
	}
	if out := e.must(3, "is-active", "bad.service"); strings.TrimSpace(out) != "inactive" {
		t.Errorf("is-active bad printed %q", out)
	}
	e.must(4, "is-active", "never-heard-of.service")         // as systemctl: no such unit file
	e.must(0, "is-active", "bad.service", "sleeper.service") // any active one suffices

	// A failing unit: the job fails, the unit ends failed and says why.
	_, errOut, code := e.steadctl("start", "bad")
	if code == 0 || !strings.Contains(errOut, "bad.service") {
		t.Errorf("start bad: exit %d, stderr %q", code, errOut)
	}
	if out := e.must(0, "is-failed", "bad"); strings.TrimSpace(out) != "failed" {
		t.Errorf("is-failed bad printed %q", out)
	}
	e.must(1, "is-failed", "sleeper")
	if r := e.prop("bad.service", "Result"); r != "exit-code" {
		t.Errorf("bad Result=%q", r)
	}
	if s := e.prop("bad.service", "ExecMainStatus"); s != "3" {
		t.Errorf("bad ExecMainStatus=%q", s)
	}
	st := e.must(3, "status", "bad")
	if !strings.Contains(st, "bad.service - Fails") || !strings.Contains(st, "failed (Result: exit-code)") ||
		!strings.Contains(st, "status=3") {
		t.Errorf("status bad:\n%s", st)
	}

	// stop, start, restart change the real process.
	pid1, _ := strconv.Atoi(e.prop("sleeper.service", "MainPID"))
	if pid1 <= 0 || !pidAlive(pid1) {
		t.Fatalf("sleeper MainPID %d not running", pid1)
	}
	inv1 := e.prop("sleeper.service", "InvocationID")
	e.must(0, "stop", "sleeper")
	if s := e.prop("sleeper.service", "ActiveState"); s != "inactive" {
		t.Errorf("after stop: %s", s)
	}
	if pidAlive(pid1) {
		t.Errorf("sleeper pid %d still runs after stop", pid1)
	}
	e.must(3, "is-active", "sleeper")
	e.must(0, "start", "sleeper")
	pid2, _ := strconv.Atoi(e.prop("sleeper.service", "MainPID"))
	if pid2 <= 0 || pid2 == pid1 || !pidAlive(pid2) {
		t.Errorf("after start MainPID %d (before %d)", pid2, pid1)
	}
	e.must(0, "restart", "sleeper")
	pid3, _ := strconv.Atoi(e.prop("sleeper.service", "MainPID"))
	if pid3 <= 0 || pid3 == pid2 || pidAlive(pid2) || !pidAlive(pid3) {
		t.Errorf("after restart MainPID %d (before %d)", pid3, pid2)
	}
	if inv := e.prop("sleeper.service", "InvocationID"); len(inv) != 32 || inv == inv1 {
		t.Errorf("InvocationID %q after restart (before %q)", inv, inv1)
	}
	e.must(0, "reload", "sleeper")
	if b, err := os.ReadFile(marker); err != nil || string(b) != "reload\n" {
		t.Errorf("ExecReload did not run: %q %v", b, err)
	}
	e.must(1, "reload", "once.service") // no ExecReload=

	st = e.must(0, "status", "sleeper")
	if !strings.Contains(st, "● sleeper.service - Sleeper") || !strings.Contains(st, "active (running) since ") ||
		!strings.Contains(st, "Main PID: "+strconv.Itoa(pid3)) {
		t.Errorf("status sleeper:\n%s", st)
	}
	var props map[string]string
	if err := json.Unmarshal([]byte(e.must(0, "show", "sleeper", "--json")), &props); err != nil {
		t.Fatalf("show --json: %v", err)
	}
	if props["Id"] != "sleeper.service" || props["SubState"] != "running" || props["MainPID"] != strconv.Itoa(pid3) ||
		props["FragmentPath"] != "/etc/systemd/system/sleeper.service" || props["ActiveEnterTimestamp"] == "n/a" {
		t.Errorf("show --json: %v", props)
	}

	// A unit asked for before its file exists stays not-found until daemon-reload.
	_, errOut, code = e.steadctl("start", "late")
	if code != 5 || !strings.Contains(errOut, "not found") {
		t.Errorf("start late before it exists: exit %d, %q", code, errOut)
	}
	initWriteUnit(t, e.root, "late.service", "[Unit]\nDescription=Late\n[Service]\nExecStart=/bin/sleep 600\n")
	initWriteUnit(t, e.root, "once.service", "[Unit]\nDescription=Once renamed\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n")
	e.must(5, "start", "late")
	before := describeReloadCount(t, e.root)
	e.must(0, "daemon-reload")
	if after := describeReloadCount(t, e.root); after != before+1 {
		t.Errorf("ReloadCount %d → %d across daemon-reload", before, after)
	}
	if d := e.prop("once.service", "Description"); d != "Once renamed" {
		t.Errorf("Description after daemon-reload: %q", d)
	}
	e.must(0, "start", "late")
	e.must(0, "is-active", "late")
	e.must(5, "start", "still-missing")

	// list-jobs (io.systemd.Job.List) shows a start job while it runs; start --no-block
	// returns while it does.
	if out := e.must(0, "list-jobs"); strings.TrimSpace(out) != "No jobs running." {
		t.Errorf("list-jobs on an idle manager: %q", out)
	}
	out := e.must(0, "start", "--no-block", "slow") // returns once the job is queued
	if out != "" {
		t.Errorf("start --no-block printed %q", out)
	}
	out = e.must(0, "list-jobs")
	if !regexpJobLine(out, "slow.service", "start", "running") {
		t.Errorf("list-jobs right after start --no-block:\n%s", out)
	}
	harness.Eventually(t, "the slow start job to finish", 10*time.Second, func() bool {
		return strings.TrimSpace(e.must(0, "list-jobs")) == "No jobs running."
	})

	// poweroff (io.systemd.Manager.PowerOff) ends a host-mode manager: its socket goes away.
	e.must(0, "poweroff")
	harness.Eventually(t, "init to stop serving after poweroff", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(e.root, "run/systemd/io.systemd.Manager"))
		return os.IsNotExist(err)
	}, harness.Output("init log", e.log))
	if !strings.Contains(e.log.String(), "unit=late.service from=active to=deactivating") {
		t.Errorf("late.service not stopped by poweroff")
	}
}

// regexpJobLine reports whether a list-jobs line names unit with type and state.
func regexpJobLine(out, unit, typ, state string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 4 && f[1] == unit && f[2] == typ && f[3] == state {
			return true
		}
	}
	return false
}

// containsFields reports whether a line of out has exactly these leading fields.
func containsFields(out string, fields ...string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "● "))
		if len(f) >= len(fields) && strings.Join(f[:len(fields)], " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}

func describeReloadCount(t *testing.T, root string) int {
	t.Helper()
	ctx, vc, closeVC := initDial(t, root, "io.systemd.Manager")
	defer closeVC()
	desc, err := iosystemdmanager.NewClient(vc).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return desc.Runtime.ReloadCount
}

// TestInitCtlUpstreamVarlinkctl calls our init with upstream's varlinkctl: Describe, a job
// through io.stead.Manager (with --more: queued, then done), JobFailed and NoSuchUnit errors,
// and introspection of the new interfaces that upstream's validate-idl accepts.
func TestInitCtlUpstreamVarlinkctl(t *testing.T) {
	up := harness.NeedUpstream(t)
	bin := harness.Binary(t, "cmd/init")
	host, inside := up.Stage(t)
	initWriteUnit(t, host, "default.target", "[Unit]\nDescription=Default\n")
	initWriteUnit(t, host, "job.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n")
	initWriteUnit(t, host, "fail.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
	_, done, log := startHostInit(t, bin, host)
	initWaitPath(t, filepath.Join(host, "run/systemd/io.systemd.ManagedOOM"), log)
	addr := "unix:" + filepath.Join(inside, "run/systemd/io.systemd.Manager")
	vctl := func(wantOK bool, args ...string) (string, string) {
		t.Helper()
		out, errOut, code := up.Run(t, "varlinkctl", args...)
		if (code == 0) != wantOK {
			t.Fatalf("varlinkctl %v: exit %d: %s %s", args, code, out, errOut)
		}
		return out, errOut
	}
	out, _ := vctl(true, "call", addr, "io.systemd.Manager.Describe", "{}")
	if !strings.Contains(out, `"ReloadCount"`) {
		t.Errorf("Describe: %s", out)
	}
	out, _ = vctl(true, "call", "--more", "-j", addr, "io.stead.Manager.StartUnit", `{"name":"job.service"}`)
	replies := strings.Split(strings.TrimSpace(out), "\n")
	last := replies[len(replies)-1]
	if !strings.Contains(last, `"result":"done"`) || !strings.Contains(last, `"jobType":"start"`) || !strings.Contains(last, `"unit":"job.service"`) {
		t.Errorf("StartUnit --more replies: %s", out)
	}
	out, _ = vctl(true, "call", "-j", addr, "io.systemd.Unit.List", `{"name":"job.service"}`)
	if !strings.Contains(out, `"ActiveState":"active"`) {
		t.Errorf("job.service after StartUnit: %s", out)
	}
	_, errOut := vctl(false, "call", addr, "io.stead.Manager.StartUnit", `{"name":"fail.service"}`)
	if !strings.Contains(errOut, "io.stead.Manager.JobFailed") {
		t.Errorf("StartUnit fail.service: %s", errOut)
	}
	_, errOut = vctl(false, "call", addr, "io.stead.Manager.StopUnit", `{"name":"nope.service"}`)
	if !strings.Contains(errOut, "io.stead.Manager.NoSuchUnit") {
		t.Errorf("StopUnit nope.service: %s", errOut)
	}
	_, errOut = vctl(false, "call", addr, "io.stead.Manager.StartUnit", `{"name":"job.service","mode":"isolate"}`)
	if !strings.Contains(errOut, "io.stead.Manager.OperationRefused") { // job.service lacks AllowIsolate=yes
		t.Errorf("mode isolate: %s", errOut)
	}
	_, errOut = vctl(false, "call", addr, "io.stead.Manager.StartUnit", `{"name":"job.service","mode":"flush"}`)
	// varlinkctl reports org.varlink.service.InvalidParameter as EINVAL.
	if !strings.Contains(errOut, "InvalidParameter") && !strings.Contains(errOut, "Invalid argument") {
		t.Errorf("mode flush: %s", errOut)
	}
	if _, errOut := vctl(false, "call", addr, "io.systemd.Job.List", "{}"); !strings.Contains(errOut, "io.systemd.Job.NoSuchJob") {
		t.Errorf("Job.List on an idle manager: %s", errOut)
	}
	for _, c := range []struct{ sock, iface string }{
		{"io.systemd.Manager", "io.stead.Manager"},
		{"io.systemd.Manager", "io.systemd.Job"},
		{"io.systemd.ManagedOOM", "io.systemd.ManagedOOM"},
	} {
		idl, _ := vctl(true, "introspect", "unix:"+filepath.Join(inside, "run/systemd", c.sock), c.iface)
		harness.WriteFile(t, filepath.Join(host, c.iface+".varlink"), idl, 0o644)
		vctl(true, "validate-idl", filepath.Join(inside, c.iface+".varlink"))
	}

	// PowerOff answers, then stops every unit; in host mode init then exits 0.
	vctl(true, "call", addr, "io.systemd.Manager.PowerOff", "{}")
	initWaitExit(t, done, "PowerOff", 20*time.Second)
	if !strings.Contains(log.String(), `unit=job.service from=active to=deactivating`) {
		t.Errorf("job.service was not stopped on PowerOff:\n%s", log.String())
	}
}

// oomReply is one reply of io.systemd.ManagedOOM.SubscribeManagedOOMCGroups.
type oomReply struct {
	CGroups []struct {
		Mode     string    `json:"mode"`
		Path     string    `json:"path"`
		Property string    `json:"property"`
		Limit    *int64    `json:"limit"`
		Duration *int64    `json:"duration"`
		Rules    *[]string `json:"rules"`
	} `json:"cgroups"`
}

// TestInitCtlManagedOOM subscribes to io.systemd.ManagedOOM as oomd does: the first reply lists
// the running units that ask for OOM handling, starting and stopping a unit with
// ManagedOOMMemoryPressure=kill sends its settings and then their withdrawal, and a second
// subscriber is refused.
func TestInitCtlManagedOOM(t *testing.T) {
	e := newCtlEnv(t, map[string]string{
		"default.target":    "[Unit]\nWants=swapwatch.service\n",
		"swapwatch.service": "[Service]\nExecStart=/bin/sleep 600\nManagedOOMSwap=kill\nOOMRules=heavy\n",
		"pressure.service": "[Service]\nExecStart=/bin/sleep 600\nManagedOOMMemoryPressure=kill\n" +
			"ManagedOOMMemoryPressureLimit=50%\nManagedOOMMemoryPressureDurationSec=20s\n",
		"plain.service": "[Service]\nExecStart=/bin/sleep 600\n",
	})
	e.waitState("swapwatch.service", "active")
	sock := "unix:" + filepath.Join(e.root, "run/systemd/io.systemd.ManagedOOM")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vc, err := varlinkd.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	replies := make(chan oomReply, 16)
	streamDone := make(chan error, 1)
	go func() {
		streamDone <- vc.Stream(ctx, "io.systemd.ManagedOOM.SubscribeManagedOOMCGroups", nil, func(raw json.RawMessage) error {
			var r oomReply
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			replies <- r
			return nil
		})
	}()
	next := func(what string) oomReply {
		t.Helper()
		select {
		case r := <-replies:
			return r
		case err := <-streamDone:
			t.Fatalf("%s: subscription ended: %v", what, err)
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: no reply; init log:\n%s", what, e.log.String())
		}
		return oomReply{}
	}

	first := next("initial list")
	got := map[string]string{}
	for _, c := range first.CGroups {
		got[c.Property] = c.Mode + " " + c.Path
		if c.Property == "OOMRules" && (c.Rules == nil || strings.Join(*c.Rules, ",") != "heavy") {
			t.Errorf("OOMRules entry %+v", c)
		}
	}
	if len(first.CGroups) != 2 || got["ManagedOOMSwap"] != "kill /system.slice/swapwatch.service" ||
		got["OOMRules"] != "kill /system.slice/swapwatch.service" {
		t.Errorf("initial list: %+v", first.CGroups)
	}

	// A second subscriber is refused while the first holds on.
	vc2, err := varlinkd.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	err = vc2.Stream(ctx, "io.systemd.ManagedOOM.SubscribeManagedOOMCGroups", nil, func(json.RawMessage) error { return nil })
	var ve *varlink.Error
	if !errors.As(err, &ve) || ve.Name != "io.systemd.ManagedOOM.SubscriptionTaken" {
		t.Errorf("second subscriber: %v", err)
	}
	vc2.Close()

	e.must(0, "start", "plain") // no OOM settings: no update
	e.must(0, "start", "pressure")
	up := next("update after start")
	byProp := map[string]int{}
	for i, c := range up.CGroups {
		if c.Path != "/system.slice/pressure.service" {
			t.Errorf("update for %s, want only pressure.service: %+v", c.Path, up.CGroups)
		}
		byProp[c.Property] = i
	}
	if i, ok := byProp["ManagedOOMMemoryPressure"]; !ok {
		t.Errorf("update lacks ManagedOOMMemoryPressure: %+v", up.CGroups)
	} else {
		c := up.CGroups[i]
		wantLimit := int64((uint64(5000)*0xffffffff + 5000) / 10000)
		if c.Mode != "kill" || c.Limit == nil || *c.Limit != wantLimit || c.Duration == nil || *c.Duration != 20_000_000 {
			t.Errorf("pressure entry %+v (limit %v, want %d)", c, c.Limit, wantLimit)
		}
	}
	if i, ok := byProp["ManagedOOMSwap"]; !ok || up.CGroups[i].Mode != "auto" {
		t.Errorf("update should carry ManagedOOMSwap=auto: %+v", up.CGroups)
	}

	// The same settings through io.systemd.Unit.List's CGroup context.
	// In the properties' order, as systemctl prints them, whatever order -p names them in.
	if out := e.must(0, "show", "pressure", "-p", "ManagedOOMMemoryPressure,ManagedOOMMemoryPressureLimit,Slice", "--value"); out != "system.slice\nkill\n50.00%\n" {
		t.Errorf("show pressure OOM settings: %q", out)
	}

	e.must(0, "stop", "pressure")
	down := next("update after stop")
	for _, c := range down.CGroups {
		if c.Path != "/system.slice/pressure.service" || c.Mode != "auto" {
			t.Errorf("after stop want every property auto for pressure.service: %+v", down.CGroups)
		}
	}
	if len(down.CGroups) != 3 {
		t.Errorf("after stop: %d entries, want 3", len(down.CGroups))
	}

	// A reload that changes a running unit's settings sends them again.
	initWriteUnit(t, e.root, "swapwatch.service", "[Service]\nExecStart=/bin/sleep 600\nManagedOOMSwap=kill\n"+
		"OOMRules=heavy\nManagedOOMMemoryPressure=kill\n")
	e.must(0, "daemon-reload")
	re := next("update after daemon-reload")
	modes := map[string]string{}
	for _, c := range re.CGroups {
		if c.Path == "/system.slice/swapwatch.service" {
			modes[c.Property] = c.Mode
		}
	}
	if modes["ManagedOOMMemoryPressure"] != "kill" || modes["ManagedOOMSwap"] != "kill" || modes["OOMRules"] != "kill" {
		t.Errorf("update after daemon-reload: %+v", re.CGroups)
	}

	// Hanging up frees the subscription for the next oomd.
	vc.Close()
	<-streamDone
	var err2 error
	harness.Eventually(t, "a new subscription after the hang-up", 10*time.Second, func() bool {
		vc3, err := varlinkd.Dial(ctx, sock)
		if err != nil {
			t.Fatal(err)
		}
		var r oomReply
		var got bool
		err2 = vc3.Stream(ctx, "io.systemd.ManagedOOM.SubscribeManagedOOMCGroups", nil, func(raw json.RawMessage) error {
			got = json.Unmarshal(raw, &r) == nil
			return errors.New("enough") // one reply is all we need
		})
		vc3.Close()
		return got && len(r.CGroups) == 3
	}, func() string { return fmt.Sprintf("resubscribe after hang-up: %v", err2) })
}

// TestInitCtlManagedOOMCgroup runs init in a delegated cgroup of its own, so units get real
// cgroups: ManagedOOMPreference= marks the unit's cgroup with oomd's xattr, and the
// subscription reports the real cgroup path.
func TestInitCtlManagedOOMCgroup(t *testing.T) {
	parent, mount, cgfd := initCgroup(t, "stead-ctl-test-")

	bin := harness.Binary(t, "cmd/init")
	ctl := harness.Binary(t, "cmd/steadctl")
	root := t.TempDir()
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=avoid.service\n")
	initWriteUnit(t, root, "avoid.service", "[Service]\nExecStart=/bin/sleep 600\nManagedOOMSwap=kill\nManagedOOMPreference=avoid\n")
	initWriteUnit(t, root, "omit.service", "[Service]\nExecStart=/bin/sleep 600\nManagedOOMPreference=omit\n")
	_, _, log := startHostInitCmd(t, bin, root, func(c *exec.Cmd) {
		c.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cgfd}
	})
	e := &ctlEnv{t: t, root: root, ctl: ctl, log: log}
	e.waitState("avoid.service", "active")
	rel := strings.TrimPrefix(parent, mount)
	if cg := e.prop("avoid.service", "ControlGroup"); cg != rel+"/system.slice/avoid.service" {
		t.Fatalf("avoid.service ControlGroup=%q, want %s/system.slice/avoid.service (cgroups not in use?)", cg, rel)
	}
	xattr := func(unit, name string) string {
		buf := make([]byte, 16)
		n, err := syscall.Getxattr(filepath.Join(parent, "system.slice", unit), name, buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
	if v := xattr("avoid.service", "user.oomd_avoid"); v != "1" {
		t.Errorf("avoid.service: user.oomd_avoid=%q", v)
	}
	if v := xattr("avoid.service", "user.oomd_omit"); v != "" {
		t.Errorf("avoid.service: user.oomd_omit=%q", v)
	}
	e.must(0, "start", "omit")
	if v := xattr("omit.service", "user.oomd_omit"); v != "1" {
		t.Errorf("omit.service: user.oomd_omit=%q", v)
	}

	ctx, vc, closeVC := initDial(t, root, "io.systemd.ManagedOOM")
	defer closeVC()
	var r oomReply
	if err := vc.Call(ctx, "io.systemd.ManagedOOM.SubscribeManagedOOMCGroups", nil, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.CGroups) != 1 || r.CGroups[0].Path != rel+"/system.slice/avoid.service" || r.CGroups[0].Property != "ManagedOOMSwap" {
		t.Errorf("ManagedOOM with real cgroups: %+v", r.CGroups)
	}
}
