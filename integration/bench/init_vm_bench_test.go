//go:build integration

package bench

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm"
)

// Boot figures of a service manager as PID 1 in the VM harness (qemu TCG), stead's init and,
// when the upstream root is there, upstream systemd 262 in the same harness and image:
//
//   - boot to default.target: the guest's uptime (CLOCK_BOOTTIME, from /proc/uptime) when a
//     oneshot ordered after everything default.target wants prints it on the console;
//   - 500 services: the same stamp with default.target also wanting 500 trivial services
//     (Type=oneshot, RemainAfterExit=yes, ExecStart=/bin/true), minus the first figure.
//
// Both are read from the guest's clock, so qemu's start-up does not count; the kernel's own
// boot (≈2 s under TCG) is in the first figure for both managers alike. Under TCG the guest
// runs on host CPU time: a loaded host slows both figures, so compare managers from the same
// run. Each manager logs only warnings to the (slow, emulated) serial console, as systemd
// does with "quiet"; each also reports what one exec of /bin/true (and of systemd-executor)
// costs in the guest. Figures are printed, never asserted (only that all 500 services ended
// up active is checked). Only with STEAD_BENCH=1:
//
//	STEAD_BENCH=1 go test -tags integration -run TestInitVMBench -v ./integration/bench/
//
// STEAD_BENCH_ROUNDS (default 1) repeats each boot.

// initBenchServices is how many trivial services the second boot starts.
const initBenchServices = 500

// initBenchManager is a service manager under test: what goes into the image as /init.
type initBenchManager struct {
	name  string
	init  string             // host path of the binary the kernel runs as /init
	files map[string]vm.File // its own files (libraries, helpers)
	// count is a shell pipeline printing how many bench services the manager has active.
	count string
	// exec is the program the manager runs for every service before the service's own
	// (systemd forks systemd-executor), to time one start in the guest; "" for none.
	exec string
	// cmdline quiets the manager's console logging: every line on the emulated serial port
	// costs guest time, and with "quiet" systemd prints none.
	cmdline string
}

// initBenchExecCost is a guest shell script printing the seconds 20 runs of "$@" take.
const initBenchExecCost = `a=$(cut -d" " -f1 /proc/uptime); i=0
while [ $i -lt 20 ]; do "$@" >/dev/null 2>&1; i=$((i+1)); done
b=$(cut -d" " -f1 /proc/uptime); echo "$a $b" | awk '{printf "%.3f", ($2-$1)/20}'`

// initBenchStamp is printed by bench-stamp.service straight onto the console.
var initBenchStamp = regexp.MustCompile(`stead-bench: stamp ([0-9.]+)\n`)

// initBenchUnits is the test system: the agent, default.target and n services.
func initBenchUnits(n int) map[string]vm.File {
	files := map[string]vm.File{
		"/etc/systemd/system/stead-vm-agent.service": {Data: []byte(vm.AgentUnit)},
		"/etc/systemd/system/bench-stamp.service": {Data: []byte(`[Unit]
Description=Prints the guest's uptime once everything else is up
DefaultDependencies=no
After=stead-vm-agent.service bench.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo "stead-bench: stamp $(cut -d" " -f1 /proc/uptime)" >/dev/console'
`)},
		"/etc/systemd/system/default.target": {Data: []byte(`[Unit]
Description=Default target of the benchmark
Wants=stead-vm-agent.service bench.target bench-stamp.service
After=stead-vm-agent.service bench.target bench-stamp.service
`)},
	}
	var target strings.Builder
	target.WriteString("[Unit]\nDescription=The benchmark's services\nDefaultDependencies=no\n")
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("bench-%03d.service", i)
		// After the agent: Boot waits for it, and systemd would otherwise run its start
		// job after all 500 (the same order for both managers).
		files["/etc/systemd/system/"+name] = vm.File{Data: []byte(`[Unit]
DefaultDependencies=no
After=stead-vm-agent.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
`)}
		fmt.Fprintf(&target, "Wants=%s\nAfter=%s\n", name, name)
	}
	files["/etc/systemd/system/bench.target"] = vm.File{Data: []byte(target.String())}
	return files
}

// initBenchBoot boots mgr with n services and returns the stamp (guest uptime, seconds) and
// how many bench services the manager lists as active.
func initBenchBoot(t *testing.T, mgr initBenchManager, n int) (float64, int) {
	files := initBenchUnits(n)
	for p, f := range mgr.files {
		files[p] = f
	}
	m := vm.Boot(t, vm.Options{Init: mgr.init, Agent: vm.AgentByInit, Files: files, Memory: 1024,
		KernelCmdline: mgr.cmdline, BootTimeout: 2 * time.Minute})
	defer m.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := m.WaitConsole(ctx, "stead-bench: stamp "); err != nil {
		t.Fatal(err)
	}
	var stamp float64
	deadline, _ := ctx.Deadline()
	// The rest of the line may still be on its way.
	harness.Eventually(t, "a complete stamp line on the console", time.Until(deadline), func() bool {
		mm := initBenchStamp.FindStringSubmatch(m.Console())
		if mm != nil {
			stamp, _ = strconv.ParseFloat(mm[1], 64)
		}
		return mm != nil
	})
	out := m.MustRun(t, "sh", "-c", mgr.count)
	active, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("counting active services: %q", out)
	}
	if n > 0 { // what one service start costs in this guest, besides the manager's own work
		cost := m.MustRun(t, "sh", "-c", initBenchExecCost, "sh", "/bin/true")
		line := fmt.Sprintf("exec of /bin/true %ss", cost)
		if mgr.exec != "" {
			line += fmt.Sprintf(", of %s --version %ss", mgr.exec, m.MustRun(t, "sh", "-c", initBenchExecCost, "sh", mgr.exec, "--version"))
		}
		t.Logf("%s: guest-side cost of one %s", mgr.name, line)
	}
	return stamp, active
}

func TestInitVMBench(t *testing.T) {
	if os.Getenv("STEAD_BENCH") == "" {
		t.Skip("a measurement: run with STEAD_BENCH=1")
	}
	rounds := 1
	if r, err := strconv.Atoi(os.Getenv("STEAD_BENCH_ROUNDS")); err == nil && r > 0 {
		rounds = r
	}
	vm.Prereqs(t)
	managers := []initBenchManager{{
		name:    "stead init",
		init:    harness.Binary(t, "cmd/init"),
		cmdline: "stead.log_level=warn",
		count: `/init --call io.systemd.Unit.List --more | grep '"ID":"bench-[0-9]' |
			grep -c '"ActiveState":"active"' || true`, // grep -c exits 1 on "0"
	}}
	var up *harness.Upstream
	t.Run("UpstreamRoot", func(t *testing.T) { up = harness.NeedUpstream(t) })
	if up != nil {
		mgr, err := upstreamSystemdManager(up.Dir)
		if err != nil {
			t.Fatalf("upstream systemd: %v", err)
		}
		managers = append(managers, mgr)
	}
	type figure struct{ base, loaded []float64 }
	results := map[string]*figure{}
	for _, mgr := range managers {
		f := &figure{}
		results[mgr.name] = f
		for r := 0; r < rounds; r++ {
			t.Run(strings.ReplaceAll(mgr.name, " ", "_"), func(t *testing.T) {
				base, _ := initBenchBoot(t, mgr, 0)
				loaded, active := initBenchBoot(t, mgr, initBenchServices)
				if active != initBenchServices {
					t.Errorf("%s: %d of %d services active", mgr.name, active, initBenchServices)
				}
				t.Logf("%s: default.target at guest uptime %.2fs; with %d services %.2fs (+%.2fs)",
					mgr.name, base, initBenchServices, loaded, loaded-base)
				f.base = append(f.base, base)
				f.loaded = append(f.loaded, loaded)
			})
		}
	}
	for _, mgr := range managers {
		f := results[mgr.name]
		if len(f.base) == 0 {
			continue
		}
		b, l := median(f.base), median(f.loaded)
		t.Logf("%-14s boot to default.target %.2fs   %d services active after %.2fs more (median of %d)",
			mgr.name, b, initBenchServices, l-b, len(f.base))
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// upstreamSystemdManager is upstream systemd 262 from the upstream root: the manager (as
// /init), the executor it forks services through, systemctl (to count), their libraries,
// and libmount, which the manager dlopen()s to mount the API filesystems.
func upstreamSystemdManager(root string) (initBenchManager, error) {
	files, err := vm.DynamicFiles(root, "/usr/lib/systemd/systemd", "/usr/lib/systemd/systemd-executor",
		"/usr/bin/systemctl", "/usr/lib/x86_64-linux-gnu/libmount.so.1")
	if err != nil {
		return initBenchManager{}, err
	}
	files["/etc/os-release"] = vm.File{Data: []byte("ID=stead-vm\nNAME=\"stead VM benchmark\"\n")}
	return initBenchManager{
		name:    "systemd 262",
		init:    files["/usr/lib/systemd/systemd"].Source,
		files:   files,
		count:   `/usr/bin/systemctl list-units --no-legend --plain --state=active 'bench-[0-9]*' | wc -l`,
		exec:    "/usr/lib/systemd/systemd-executor",
		cmdline: "systemd.show_status=0",
	}, nil
}
