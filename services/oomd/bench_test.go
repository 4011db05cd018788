package oomd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchRoot is a fake root on tmpfs (/dev/shm when there is one), as cgroupfs is memory too.
func benchRoot(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "oomd-bench-")
	if err != nil {
		return b.TempDir()
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// benchTree writes n groups /system.slice/uI.service with the files oomd reads and returns the
// manager over it (fake clock, recording killer) and the group paths.
func benchTree(b *testing.B, n int) (*Manager, *fakeClock, []string) {
	b.Helper()
	root := benchRoot(b)
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "proc"), 0o755))
	must(os.WriteFile(filepath.Join(root, "proc/meminfo"),
		[]byte("MemTotal: 8388608 kB\nMemFree: 1 kB\nMemAvailable: 4194304 kB\nSwapTotal: 4194304 kB\nSwapFree: 4194304 kB\n"), 0o644))
	var paths []string
	for i := range n {
		p := fmt.Sprintf("/system.slice/u%d.service", i)
		d := filepath.Join(root, "sys/fs/cgroup", p)
		must(os.MkdirAll(d, 0o755))
		for f, c := range map[string]string{
			"memory.current":      "12345678\n",
			"memory.swap.current": "0\n",
			"memory.min":          "0\n",
			"memory.low":          "0\n",
			"memory.stat":         "anon 1\nfile 2\nkernel 3\nsock 0\nshmem 0\npgscan 42\npgsteal 40\npgfault 1000\n",
			"memory.pressure":     "some avg10=1.23 avg60=0.50 avg300=0.10 total=123456\nfull avg10=0.50 avg60=0.20 avg300=0.05 total=65432\n",
			"cgroup.procs":        "",
		} {
			must(os.WriteFile(filepath.Join(d, f), []byte(c), 0o644))
		}
		paths = append(paths, p)
	}
	x := &memXAttrs{m: map[string]string{}}
	fs := &CGroupFS{Dir: filepath.Join(root, "sys/fs/cgroup"), XAttr: x}
	c := &fakeClock{now: time.Second}
	m := NewManager(root, fs, c, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	m.killer = &recKiller{}
	return m, c, paths
}

// BenchmarkRulesRound is one round of the rules monitor over n groups with OOMRules= (no
// condition met: the steady state), per round.
func BenchmarkRulesRound(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("cgroups=%d", n), func(b *testing.B) {
			m, c, paths := benchTree(b, n)
			m.SetConfig(DefaultConfig(), map[string]*Rule{
				"r": {Name: "r", MemoryPressureAbove: 6000, SwapUsageMax: -1, Action: ActionKillAll, Lasting: 10 * time.Second}})
			var ws []Watch
			for _, p := range paths {
				ws = append(ws, Watch{Kill: true, Path: p, Property: "OOMRules", Rules: []string{"r"}})
			}
			m.Apply(sourceSystem, ws, true)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c.now += RulesInterval
				if g := m.RulesRound(); g != "" {
					b.Fatalf("killed %s", g)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/cgroup")
		})
	}
}

// BenchmarkPressureRound is one round of the memory pressure monitor over n groups with
// ManagedOOMMemoryPressure=kill (below their limit), per round: each group's own reading plus
// the walk of its candidates.
func BenchmarkPressureRound(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("cgroups=%d", n), func(b *testing.B) {
			m, c, paths := benchTree(b, n)
			var ws []Watch
			for _, p := range paths {
				ws = append(ws, Watch{Kill: true, Path: p, Property: "ManagedOOMMemoryPressure"})
			}
			m.Apply(sourceSystem, ws, true)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c.now += PressureInterval
				if g := m.PressureRound(); g != "" {
					b.Fatalf("killed %s", g)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/cgroup")
		})
	}
}

// BenchmarkSwapRoundScan is one round of the swap monitor over one watched slice with n leaf
// groups while memory and swap are short (so every candidate is read) and none uses enough
// swap to be killed.
func BenchmarkSwapRoundScan(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("cgroups=%d", n), func(b *testing.B) {
			m, _, _ := benchTree(b, n)
			if err := os.WriteFile(filepath.Join(m.root, "proc/meminfo"),
				[]byte("MemTotal: 8388608 kB\nMemAvailable: 100000 kB\nSwapTotal: 4194304 kB\nSwapFree: 100000 kB\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			m.Apply(sourceSystem, []Watch{{Kill: true, Path: "/system.slice", Property: "ManagedOOMSwap"}}, true)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if g := m.SwapRound(); g != "" {
					b.Fatalf("killed %s", g)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/cgroup")
		})
	}
}

// chanKiller reports each kill on a channel.
type chanKiller struct{ c chan string }

func (k chanKiller) Kill(_ context.Context, cg string) (int, error) {
	k.c <- cg
	return 1, nil
}

// BenchmarkDetectionLatency runs oomd's monitor loop (Run: real tickers, the real clock) on a
// fake tree with one group under a kill-all rule (LastingSec=0) and measures, as ms/detect,
// the time from the group's "full avg10" crossing the threshold (written at a random moment)
// to the kill: what the 1 s rules interval adds to LastingSec=. Run with -benchtime=20x.
func BenchmarkDetectionLatency(b *testing.B) {
	root := benchRoot(b)
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	os.WriteFile(filepath.Join(root, "proc/meminfo"), []byte("MemTotal: 8388608 kB\nMemAvailable: 4194304 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n"), 0o644)
	const g = "/system.slice/hog.service"
	dir := filepath.Join(root, "sys/fs/cgroup", g)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	setPressure := func(avg10 string) {
		os.WriteFile(filepath.Join(dir, "memory.pressure"),
			[]byte("some avg10="+avg10+" avg60=0.00 avg300=0.00 total=1\nfull avg10="+avg10+" avg60=0.00 avg300=0.00 total=1\n"), 0o644)
	}
	setPressure("0.00")
	os.WriteFile(filepath.Join(dir, "memory.stat"), []byte("pgscan 1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "memory.current"), []byte("1\n"), 0o644)
	ruleDir := filepath.Join(root, "etc/systemd/oomd/rules.d")
	os.MkdirAll(ruleDir, 0o755)
	os.WriteFile(filepath.Join(ruleDir, "hot.oomrule"), []byte("[Rule]\nMemoryPressureAbove=20%\nAction=kill-all\n"), 0o644)

	m := NewManager(root, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	kills := make(chan string, 1)
	m.killer = chanKiller{kills}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx, func() {}) }()
	defer func() { cancel(); <-done }()
	m.Apply(sourceSystem, []Watch{{Kill: true, Path: g, Property: "OOMRules", Rules: []string{"hot"}}}, true)
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Duration(rand.Int64N(int64(RulesInterval))))
		start := time.Now()
		setPressure("80.00")
		select {
		case <-kills:
		case <-time.After(10 * time.Second):
			b.Fatal("no kill")
		}
		total += time.Since(start)
		setPressure("0.00")
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/detect")
}
