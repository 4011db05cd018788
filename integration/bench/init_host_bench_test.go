//go:build integration

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/varlinkd"
)

// BenchmarkInitHost500 is the VM benchmark's 500 services (init_vm_bench_test.go) without
// the VM: the real `init --host --root=DIR --log-level=warn` over a fresh root whose
// default.target wants 500 trivial oneshot services (ExecStart=/bin/true,
// RemainAfterExit=yes) through bench.target, and a last oneshot ordered after bench.target
// that writes a stamp file. One op is init's start to the stamp (unit loading included);
// then every bench service is checked to be active over io.systemd.Unit.List (not timed).
// Reported: ns/op, services/s and init's own CPU time up to the stamp (user+system, from
// /proc: steadier than wall time on a busy machine). Figures are printed, never asserted:
//
//	go test -tags integration -run '^$' -bench InitHost500 -benchtime 5x ./integration/bench/
//
// STEAD_INIT_PPROF=FILE is passed on to init, which then writes a CPU profile of its run
// to FILE (see docs/init.md); STEAD_BENCH_INIT=BINARY benchmarks that init binary instead of
// the checkout's (to compare two builds).
func BenchmarkInitHost500(b *testing.B) {
	const n = initBenchServices
	initBin := os.Getenv("STEAD_BENCH_INIT")
	if initBin == "" {
		initBin = harness.Binary(b, "cmd/init")
	}
	var total, cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := initHostBenchRoot(b, n)
		stamp := filepath.Join(root, "stamp")
		cmd := exec.Command(initBin, "--host", "--root="+root, "--log-level=warn")
		cmd.Env = os.Environ()
		b.StartTimer()
		t0 := time.Now()
		d := harness.StartDaemon(b, cmd)
		for {
			if _, err := os.Stat(stamp); err == nil {
				break
			}
			select {
			case <-d.Done():
				b.Fatalf("init exited: %v\n%s", d.Err(), d.Out.String())
			case <-time.After(time.Millisecond):
			}
			if time.Since(t0) > 5*time.Minute {
				b.Fatalf("no stamp after 5 minutes\n%s", d.Out.String())
			}
		}
		el := time.Since(t0)
		b.StopTimer()
		total += el
		cpu += procCPU(b, cmd.Process.Pid)
		if active := initHostBenchActive(b, root); active != n {
			b.Fatalf("%d of %d services active\n%s", active, n, d.Out.String())
		}
		d.Stop()
		if s := d.Out.String(); strings.TrimSpace(s) != "" {
			b.Logf("init output:\n%s", s)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "services/s")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "init-cpu-ms/op")
}

// procCPU is the user and system time pid has used so far (clock ticks of 10 ms).
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// initHostBenchRoot writes the units of the benchmark under a new root.
func initHostBenchRoot(b *testing.B, n int) string {
	root := b.TempDir()
	dir := filepath.Join(root, "etc/systemd/system")
	files := map[string]string{
		"bench-stamp.service": fmt.Sprintf(`[Unit]
DefaultDependencies=no
After=bench.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo done >%s/stamp'
`, root),
		"default.target": `[Unit]
Wants=bench.target bench-stamp.service
After=bench.target bench-stamp.service
`,
	}
	var target strings.Builder
	target.WriteString("[Unit]\nDefaultDependencies=no\n")
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("bench-%03d.service", i)
		files[name] = "[Unit]\nDefaultDependencies=no\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n"
		fmt.Fprintf(&target, "Wants=%s\nAfter=%s\n", name, name)
	}
	files["bench.target"] = target.String()
	for name, data := range files {
		harness.WriteFile(b, filepath.Join(dir, name), data, 0o644)
	}
	return root
}

// initHostBenchActive counts the active bench-NNN services over io.systemd.Unit.List.
func initHostBenchActive(b *testing.B, root string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := varlinkd.Dial(ctx, "unix:"+filepath.Join(root, "run/systemd/io.systemd.Manager"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	active := 0
	err = c.Stream(ctx, "io.systemd.Unit.List", nil, func(raw json.RawMessage) error {
		var u struct {
			Context struct {
				ID string `json:"ID"`
			} `json:"context"`
			Runtime struct {
				ActiveState string `json:"ActiveState"`
			} `json:"runtime"`
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			return err
		}
		if strings.HasPrefix(u.Context.ID, "bench-") && u.Context.ID != "bench-stamp.service" &&
			u.Runtime.ActiveState == "active" {
			active++
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return active
}
