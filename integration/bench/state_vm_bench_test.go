//go:build integration

package bench

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm"
)

// State handover figures of a service manager as PID 1 in the VM harness, stead's init and,
// when the upstream root is there, upstream systemd 262 in the same image: 100 services
// (stead-testsvc fdstore, Type=notify) keep 10 memfds each in their fd stores
// (FileDescriptorStorePreserve=yes), 1,000 in all, then
//
//   - daemon-reexec: guest uptime from the call (steadctl daemon-reexec, systemctl
//     daemon-reexec) until the manager answers again (is-active default.target), the median of
//     stateBenchReexecs runs;
//   - soft-reboot: guest uptime from the call (steadctl soft-reboot, systemctl soft-reboot)
//     until a oneshot ordered after the 100 services prints its stamp on the console again.
//
// Both managers must still hold the 1,000 fds after each (checked). Figures are printed,
// never asserted. Only with STEAD_BENCH=1:
//
//	STEAD_BENCH=1 go test -tags integration -run TestStateVMBench -v ./integration/bench/
const (
	stateBenchUnits   = 100
	stateBenchFDs     = 10 // per unit
	stateBenchReexecs = 5
	stateBenchSvc     = "/usr/lib/stead/stead-testsvc"
)

// stateBenchManager is a manager under test and the guest commands that drive it.
type stateBenchManager struct {
	initBenchManager
	reexec, soft, ready, fds string // guest shell commands
	diag                     string // guest shell command: what the manager is doing
	// softUnreliable: a soft-reboot that does not come back is reported, not an error
	// (upstream systemd in this minimal image, see docs/init.md "Tests").
	softUnreliable bool
}

// stateBenchStop is what DefaultDependencies=yes would give the bench's units for a
// soft-reboot: upstream's soft-reboot stops only what conflicts with shutdown.target, and a
// unit with DefaultDependencies=no and no such conflict survives it (systemd-soft-reboot.service(8)),
// still active in the new manager, so the stamp oneshot never ran again and the 100 services
// stayed down (their processes killed) — the upstream soft-reboot was never measured.
const stateBenchStop = "Conflicts=shutdown.target\nBefore=shutdown.target"

func stateBenchFiles(svc string) map[string]vm.File {
	files := map[string]vm.File{
		stateBenchSvc: {Source: svc, Mode: 0o755},
		"/etc/systemd/system/stead-vm-agent.service": {Data: []byte(vm.AgentUnit)},
		"/etc/systemd/system/bench-stamp.service": {Data: []byte(`[Unit]
DefaultDependencies=no
After=stead-vm-agent.service bench.target
` + stateBenchStop + `
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo "stead-bench: stamp $(cut -d" " -f1 /proc/uptime)" >/dev/console'
`)},
		"/etc/systemd/system/default.target": {Data: []byte(`[Unit]
Wants=stead-vm-agent.service bench.target bench-stamp.service
After=stead-vm-agent.service bench.target bench-stamp.service
`)},
	}
	var target strings.Builder
	target.WriteString("[Unit]\nDefaultDependencies=no\n" + stateBenchStop + "\n")
	for i := 0; i < stateBenchUnits; i++ {
		name := fmt.Sprintf("bench-%03d.service", i)
		files["/etc/systemd/system/"+name] = vm.File{Data: []byte(fmt.Sprintf(`[Unit]
DefaultDependencies=no
After=stead-vm-agent.service
`+stateBenchStop+`
[Service]
Type=notify
FileDescriptorStoreMax=16
FileDescriptorStorePreserve=yes
ExecStart=%s fdstore -report /run/bench-%03d -name fd -data x -count %d
`, stateBenchSvc, i, stateBenchFDs))}
		fmt.Fprintf(&target, "Wants=%s\nAfter=%s\n", name, name)
	}
	files["/etc/systemd/system/bench.target"] = vm.File{Data: []byte(target.String())}
	return files
}

var stateBenchStamp = regexp.MustCompile(`stead-bench: stamp ([0-9.]+)\n`)

// stateBenchRun boots mgr and returns the daemon-reexec times and the soft-reboot time (s).
func stateBenchRun(t *testing.T, mgr stateBenchManager, svc string) (reexecs []float64, soft float64) {
	files := stateBenchFiles(svc)
	for p, f := range mgr.files {
		files[p] = f
	}
	m := vm.Boot(t, vm.Options{Init: mgr.init, Agent: vm.AgentByInit, Files: files, Memory: 1024,
		KernelCmdline: mgr.cmdline, BootTimeout: 3 * time.Minute})
	defer m.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := m.WaitConsole(ctx, "stead-bench: stamp "); err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(stateBenchUnits * stateBenchFDs)
	checkFDs := func(when string) {
		t.Helper()
		var got string
		harness.Poll(2*time.Minute, func() bool {
			actx, acancel := context.WithTimeout(ctx, 30*time.Second)
			defer acancel()
			r, err := m.Exec(actx, vm.Command{Argv: []string{"sh", "-c", mgr.fds}})
			got = strings.TrimSpace(string(r.Stdout))
			return err == nil && got == want
		})
		if got != want {
			t.Fatalf("%s: %s stored fds %s, want %s", mgr.name, when, got, want)
		}
	}
	checkFDs("after the boot")
	for i := 0; i < stateBenchReexecs; i++ {
		out := m.MustRun(t, "sh", "-c", `a=$(cut -d" " -f1 /proc/uptime); `+mgr.reexec+` >/dev/null 2>&1
until `+mgr.ready+` >/dev/null 2>&1; do :; done; b=$(cut -d" " -f1 /proc/uptime); echo "$a $b"`)
		var a, b float64
		if _, err := fmt.Sscan(out, &a, &b); err != nil {
			t.Fatalf("reexec timing %q: %v", out, err)
		}
		reexecs = append(reexecs, b-a)
		checkFDs("after a daemon-reexec")
	}
	t.Logf("%s: daemon-reexec with %d fds in %d units: %.2f s (median of %v)", mgr.name,
		stateBenchUnits*stateBenchFDs, stateBenchUnits, median(reexecs), reexecs)
	n := strings.Count(m.Console(), "stead-bench: stamp ")
	out := m.MustRun(t, "sh", "-c", `cut -d" " -f1 /proc/uptime; (sleep 1; `+mgr.soft+`) </dev/null >/dev/null 2>&1 &`)
	t0, _ := strconv.ParseFloat(strings.TrimSpace(out), 64)
	harness.Poll(5*time.Minute, func() bool { return strings.Count(m.Console(), "stead-bench: stamp ") > n })
	all := stateBenchStamp.FindAllStringSubmatch(m.Console(), -1)
	if len(all) <= n {
		// What the manager waits for, if the agent came back, and how the console ends.
		dctx, dcancel := context.WithTimeout(ctx, time.Minute)
		defer dcancel()
		if r, err := m.Exec(dctx, vm.Command{Argv: []string{"sh", "-c", mgr.diag}}); err == nil {
			t.Logf("%s: after the soft-reboot:\n%s%s", mgr.name, r.Stdout, r.Stderr)
		} else {
			t.Logf("%s: after the soft-reboot, no agent: %v", mgr.name, err)
		}
		c := m.Console()
		t.Logf("%s: console after the soft-reboot call:\n%s", mgr.name, c[max(0, len(c)-4000):])
		if mgr.softUnreliable {
			t.Logf("%s: no stamp after the soft-reboot: not measured (console log has the details)", mgr.name)
		} else {
			t.Errorf("%s: no stamp after the soft-reboot (console log has the details)", mgr.name)
		}
		return reexecs, -1
	}
	t1, _ := strconv.ParseFloat(all[n][1], 64)
	soft = t1 - t0 - 1 // the sleep before the call
	checkFDs("after the soft-reboot")
	return reexecs, soft
}

func TestStateVMBench(t *testing.T) {
	if os.Getenv("STEAD_BENCH") == "" {
		t.Skip("a measurement: run with STEAD_BENCH=1")
	}
	vm.Prereqs(t)
	svc := harness.Binary(t, "integration/cmd/stead-testsvc")
	ours := stateBenchManager{
		initBenchManager: initBenchManager{name: "stead init", init: harness.Binary(t, "cmd/init"), cmdline: "stead.log_level=warn",
			files: map[string]vm.File{"/usr/bin/steadctl": {Source: harness.Binary(t, "cmd/steadctl"), Mode: 0o755}}},
		reexec: "/usr/bin/steadctl daemon-reexec", soft: "/usr/bin/steadctl soft-reboot",
		ready: "/usr/bin/steadctl is-active default.target",
		diag:  "/usr/bin/steadctl list-jobs",
		fds:   `/init --call io.systemd.Unit.List --more | grep -o '"NFileDescriptorStore":[0-9]*' | awk -F: '{s+=$2} END {print s}'`,
	}
	managers := []stateBenchManager{ours}
	var up *harness.Upstream
	t.Run("UpstreamRoot", func(t *testing.T) { up = harness.NeedUpstream(t) })
	if up != nil {
		mgr, err := upstreamSystemdManager(up.Dir)
		if err != nil {
			t.Fatalf("upstream systemd: %v", err)
		}
		// What systemctl soft-reboot starts, from the upstream root.
		for _, u := range []string{"soft-reboot.target", "systemd-soft-reboot.service", "shutdown.target", "umount.target", "final.target"} {
			mgr.files["/usr/lib/systemd/system/"+u] = vm.File{Source: up.Dir + "/usr/lib/systemd/system/" + u}
		}
		managers = append(managers, stateBenchManager{initBenchManager: mgr,
			reexec: "/usr/bin/systemctl daemon-reexec", soft: "/usr/bin/systemctl soft-reboot",
			ready: "/usr/bin/systemctl is-active default.target",
			diag: "/usr/bin/systemctl --no-pager list-jobs; /usr/bin/systemctl --no-pager show -p SoftRebootsCount -p SystemState -p NJobs; " +
				"/usr/bin/systemctl --no-pager is-active default.target bench.target bench-stamp.service bench-000.service stead-vm-agent.service; " +
				"/usr/bin/systemctl --no-pager list-units --state=activating,deactivating,failed",
			fds: `/usr/bin/systemctl show -p NFileDescriptorStore --value 'bench-*' | awk '{s+=$1} END {print s}'`,
		})
	}
	type result struct {
		reexec, soft float64
	}
	results := map[string]result{}
	for _, mgr := range managers {
		t.Run(strings.ReplaceAll(mgr.name, " ", "_"), func(t *testing.T) {
			r, s := stateBenchRun(t, mgr, svc)
			t.Logf("%s: soft-reboot %.2f s", mgr.name, s)
			results[mgr.name] = result{median(r), s}
		})
	}
	for _, mgr := range managers {
		if r, ok := results[mgr.name]; ok {
			t.Logf("%-12s daemon-reexec %.3f s (median of %d)   soft-reboot %.2f s", mgr.name, r.reexec, stateBenchReexecs, r.soft)
		}
	}
	if a, b := results[ours.name], results["systemd 262"]; a.reexec > 0 && b.reexec > 0 {
		t.Logf("systemd 262 / stead: daemon-reexec ×%.2f", b.reexec/a.reexec)
		if a.soft > 0 && b.soft > 0 {
			t.Logf("systemd 262 / stead: soft-reboot ×%.2f", b.soft/a.soft)
		}
	}
}
