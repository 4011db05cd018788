//go:build integration

package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/netns"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Whole-process benchmarks of imdsd: ours (one process, in-memory cache) against upstream
// systemd-imdsd 262 socket-activated per connection (Accept=yes, emulated by Activator; each
// instance is started as `ip netns exec NS unshare -m sh -c 'mount …; exec chroot ROOT
// systemd-imdsd'`, whose own cost is measured and reported as "spawn-overhead"). Both run in
// the instance namespace of a cloud/instance pair with EC2's fake cloud in this process.
// Figures are reported, never asserted.

const (
	sockRel  = "run/systemd/io.systemd.InstanceMetadata"
	upstream = "/usr/lib/systemd/systemd-imdsd"
)

type fixture struct {
	ours, theirs string // socket paths
	oursPid      int
	act          *Activator
	spawnCost    time.Duration
	up           *harness.Upstream
	inst         *netns.NS
	runDir       string
	env          []string
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  string
	cleanup []func()

	resMu   sync.Mutex
	results = map[string]float64{}
)

// cleanupTB collects cleanups that run at the end of TestMain, so one fixture serves every
// benchmark.
type cleanupTB struct {
	testing.TB
}

func (c cleanupTB) Cleanup(f func()) { cleanup = append(cleanup, f) }
func (c cleanupTB) Helper()          {}
func (c cleanupTB) Fatalf(f string, a ...any) {
	panic(fmt.Sprintf(f, a...))
}
func (c cleanupTB) Fatal(a ...any)            { panic(fmt.Sprint(a...)) }
func (c cleanupTB) Skipf(f string, a ...any)  { panic("skip: " + fmt.Sprintf(f, a...)) }
func (c cleanupTB) Skip(a ...any)             { panic("skip: " + fmt.Sprint(a...)) }
func (c cleanupTB) SkipNow()                  { panic("skip") }
func (c cleanupTB) Logf(f string, a ...any)   {}
func (c cleanupTB) Errorf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (c cleanupTB) TempDir() string {
	d, _ := os.MkdirTemp("", "stead-bench-")
	cleanup = append(cleanup, func() { os.RemoveAll(d) })
	return d
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(cleanup) - 1; i >= 0; i-- {
		cleanup[i]()
	}
	harness.Cleanup()
	printSummary()
	os.Exit(code)
}

func getFixture(b *testing.B) *fixture {
	fixOnce.Do(func() {
		defer func() {
			if r := recover(); r != nil {
				fixErr = fmt.Sprint(r)
			}
		}()
		fix = setup(cleanupTB{b})
	})
	if fix == nil {
		// A missing prerequisite skips (harness.Require without CI); anything else, a
		// prerequisite under CI included, fails.
		if why, ok := strings.CutPrefix(fixErr, "skip: "); ok {
			b.Skip(why)
		}
		b.Fatal(fixErr)
	}
	return fix
}

func setup(t cleanupTB) *fixture {
	harness.NeedRoot(t, "the imdsd benchmarks")
	up := harness.NeedUpstream(t)
	// EC2's fake cloud on 169.254.169.254 (netns.Cloud, as the IMDS tests).
	tp := netns.NewCloud(t, "amazon-ec2")
	prov, inst := tp.Prov, tp.Inst

	env := []string{"SYSTEMD_IMDS_VENDOR=amazon-ec2", "SYSTEMD_IMDS_DATA_URL=" + prov.Endpoint.DataURL,
		"SYSTEMD_IMDS_TOKEN_URL=" + prov.Endpoint.TokenURL,
		"SYSTEMD_IMDS_REFRESH_HEADER_NAME=" + prov.Endpoint.RefreshHeaderName,
		"SYSTEMD_IMDS_TOKEN_HEADER_NAME=" + prov.Endpoint.TokenHeaderName,
		"SYSTEMD_IMDS_ADDRESS_IPV4=169.254.169.254"}
	for name, key := range prov.Keys {
		env = append(env, "SYSTEMD_IMDS_KEY_"+strings.ToUpper(name)+"="+key)
	}

	// Ours.
	host, _ := up.Stage(t)
	root := filepath.Join(host, "ours")
	harness.WriteFile(t, filepath.Join(root, "proc/cmdline"), "quiet\n", 0o644)
	bin := harness.Binary(t, "cmd/imdsd")
	cmd := inst.Command(bin, "--root="+root)
	cmd.Env = append(os.Environ(), env...)
	// READY=1 comes once the socket accepts connections.
	harness.StartDaemon(t, cmd, harness.StopSignal(os.Interrupt), harness.WaitReadyWithin(5*time.Second))
	f := &fixture{ours: filepath.Join(root, sockRel), oursPid: cmd.Process.Pid, up: up, inst: inst, env: env}

	// Upstream's, activated per connection.
	updRoot := filepath.Join(host, "upd")
	f.runDir = filepath.Join(updRoot, "run")
	os.MkdirAll(filepath.Join(f.runDir, "systemd/imds"), 0o755)
	f.theirs = filepath.Join(updRoot, sockRel)
	var err error
	f.act, err = Activate(f.theirs, func() *exec.Cmd { return f.upstreamCmd(true, upstream) })
	if err != nil {
		t.Fatal(err)
	}
	cleanup = append(cleanup, f.act.Close)

	// What the wrapper costs by itself: the same chain exec'ing /bin/true.
	const n = 20
	start := time.Now()
	for range n {
		if out, err := f.upstreamCmd(false, "/bin/true").CombinedOutput(); err != nil {
			t.Fatalf("wrapper: %v %s", err, out)
		}
	}
	f.spawnCost = time.Since(start) / n
	record("spawn-overhead-ms", float64(f.spawnCost.Microseconds())/1000)
	return f
}

// upstreamCmd runs argv in the upstream root, in the instance namespace, with the stage's
// run directory over /run and a /proc, in a mount namespace of its own.
func (f *fixture) upstreamCmd(activation bool, argv ...string) *exec.Cmd {
	script := `set -e; mount --bind "$1" "$2/run"; mount -t proc proc "$2/proc"; shift 2; `
	if activation {
		script += `LISTEN_PID=$$; export LISTEN_PID; `
	}
	script += `exec chroot "$@"`
	args := append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", f.runDir, f.up.Dir, f.up.Dir}, argv...)
	cmd := f.inst.Command("unshare", args...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
		"RUNTIME_DIRECTORY=/run/systemd/imds", "SYSTEMD_LOG_LEVEL=err"}, f.env...)
	return cmd
}

func record(name string, v float64) {
	resMu.Lock()
	results[name] = v
	resMu.Unlock()
}

type getIn struct {
	WellKnown string `json:"wellKnown"`
	Cache     *bool  `json:"cache,omitempty"`
}

type getOut struct {
	Data string `json:"data"`
}

func get(ctx context.Context, c *varlinkd.Client, cache bool) error {
	in := getIn{WellKnown: "hostname"}
	if !cache {
		in.Cache = &cache
	}
	var out getOut
	if err := c.Call(ctx, "io.systemd.InstanceMetadata.Get", in, &out); err != nil {
		return err
	}
	if b, _ := base64.StdEncoding.DecodeString(out.Data); string(b) != "amazon-ec2-test-host" {
		return fmt.Errorf("got %q", b)
	}
	return nil
}

// measure runs b.N calls and reports calls/s, p50 and p99.
func measure(b *testing.B, name string, call func() error) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		t0 := time.Now()
		if err := call(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	el := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	rate := float64(b.N) / el.Seconds()
	b.ReportMetric(rate, "calls/s")
	b.ReportMetric(p(0.5), "p50-µs")
	b.ReportMetric(p(0.99), "p99-µs")
	record(name+" calls/s", rate)
	record(name+" p50-µs", p(0.5))
	record(name+" p99-µs", p(0.99))
}

func prime(b *testing.B, sock string) {
	ctx := context.Background()
	c, err := varlinkd.Dial(ctx, "unix:"+sock)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := get(ctx, c, true); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkIMDSCachedGet(b *testing.B) {
	f := getFixture(b)
	for _, side := range []struct{ name, sock string }{{"ours", f.ours}, {"upstream", f.theirs}} {
		prime(b, side.sock)
		b.Run(side.name+"/new-conn", func(b *testing.B) {
			ctx := context.Background()
			measure(b, "cached "+side.name+" new-conn", func() error {
				c, err := varlinkd.Dial(ctx, "unix:"+side.sock)
				if err != nil {
					return err
				}
				defer c.Close()
				return get(ctx, c, true)
			})
		})
		b.Run(side.name+"/one-conn", func(b *testing.B) {
			ctx := context.Background()
			c, err := varlinkd.Dial(ctx, "unix:"+side.sock)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			measure(b, "cached "+side.name+" one-conn", func() error { return get(ctx, c, true) })
		})
	}
}

func BenchmarkIMDSUncachedGet(b *testing.B) {
	f := getFixture(b)
	for _, side := range []struct{ name, sock string }{{"ours", f.ours}, {"upstream", f.theirs}} {
		b.Run(side.name, func(b *testing.B) {
			ctx := context.Background()
			c, err := varlinkd.Dial(ctx, "unix:"+side.sock)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			measure(b, "uncached "+side.name+" one-conn", func() error { return get(ctx, c, false) })
		})
	}
}

// rss is a process's resident memory in kB (/proc/PID/status): the total, and its
// anonymous (heap, stacks) and file-backed (mapped binary and libraries) parts.
type rss struct{ total, anon, file float64 }

func readRSS(pid int) rss {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return rss{}
	}
	var r rss
	for _, l := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch name {
		case "VmRSS":
			r.total = n
		case "RssAnon":
			r.anon = n
		case "RssFile":
			r.file = n
		}
	}
	return r
}

func vmRSS(pid int) float64 { return readRSS(pid).total }

// BenchmarkIMDSRSS: our daemon's peak VmRSS (and its anonymous and file parts at that peak)
// while 100 clients hold connections and call Get, and one upstream instance's VmRSS while it
// serves one connection (upstream runs one process per connection, so 100 clients cost 100 of
// those).
func BenchmarkIMDSRSS(b *testing.B) {
	f := getFixture(b)
	ctx := context.Background()
	for range b.N {
		var conns []*varlinkd.Client
		for range 100 {
			c, err := varlinkd.Dial(ctx, "unix:"+f.ours)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		}
		var wg sync.WaitGroup
		var peak rss
		var mu sync.Mutex
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := readRSS(f.oursPid); r.total > 0 {
					mu.Lock()
					if r.total > peak.total {
						peak = r
					}
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					if err := get(ctx, c, true); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		mu.Lock()
		if r := readRSS(f.oursPid); r.total > peak.total {
			peak = r
		}
		oursKB := peak.total
		mu.Unlock()
		for _, c := range conns {
			c.Close()
		}

		c, err := varlinkd.Dial(ctx, "unix:"+f.theirs)
		if err != nil {
			b.Fatal(err)
		}
		if err := get(ctx, c, true); err != nil {
			b.Fatal(err)
		}
		var upKB float64
		for _, pid := range f.act.Pids() {
			upKB = max(upKB, vmRSS(pid))
		}
		c.Close()
		b.ReportMetric(oursKB, "ours-100-clients-kB")
		b.ReportMetric(upKB, "upstream-1-instance-kB")
		record("rss ours 100 clients kB", oursKB)
		record("rss ours 100 clients anon kB", peak.anon)
		record("rss ours 100 clients file kB", peak.file)
		record("rss upstream 1 instance kB", upKB)
	}
}

func printSummary() {
	resMu.Lock()
	defer resMu.Unlock()
	if len(results) == 0 {
		return
	}
	fmt.Println("\nimdsd whole-process figures (ours vs upstream systemd-imdsd 262, Accept=yes emulation):")
	for _, k := range sortedKeys(results) {
		fmt.Printf("  %-40s %12.1f\n", k, results[k])
	}
	ratio := func(label, a, b string) {
		if results[a] > 0 && results[b] > 0 {
			fmt.Printf("  %-40s %12.2fx\n", label, results[a]/results[b])
		}
	}
	ratio("cached new-conn calls/s ours/upstream", "cached ours new-conn calls/s", "cached upstream new-conn calls/s")
	ratio("cached one-conn calls/s ours/upstream", "cached ours one-conn calls/s", "cached upstream one-conn calls/s")
	ratio("uncached p50 upstream/ours", "uncached upstream one-conn p50-µs", "uncached ours one-conn p50-µs")
	if u, o := results["rss upstream 1 instance kB"], results["rss ours 100 clients kB"]; u > 0 && o > 0 {
		fmt.Printf("  %-40s %12.2fx\n", "RSS 100×upstream / ours(100 clients)", 100*u/o)
		fmt.Printf("  %-40s %12.2fx\n", "RSS ours(100 clients) / 1 upstream", o/u)
	}
	fmt.Println("  upstream reference (measured earlier): 85 calls/s new conn, 3872 calls/s one conn")
}

func sortedKeys(m map[string]float64) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}
