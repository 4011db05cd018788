//go:build integration

package bench

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm"
	"github.com/stead-os/stead/lib/unit"
)

// daemon-reload with the unit-loading corpus loaded, stead's init and upstream systemd 262 as
// PID 1 in the same VM harness and image. The corpus is the one TestInitUnitsLoadingCorpus
// compares: every unit file of Debian's systemd 262 packages (the upstream root's
// /usr/lib/systemd/system and /etc/systemd/system, symlinks included) plus the units of
// openssh-server, cron, rsyslog and chrony (integration/corpus-debs).
//
// Each manager boots a system of only the VM agent (default.target wants nothing else), so
// that no corpus unit runs. The corpus is then unpacked in the guest together with a
// default.target drop-in ordering it After= every corpus unit (templates as NAME@corpus):
// ordering loads a unit and keeps it loaded without starting it. One untimed reload loads
// the corpus; the figures are the next reloads (io.systemd.Manager.Reload through `init
// --call` for stead, `systemctl daemon-reload` for systemd), each timed in the guest from
// /proc/uptime (10 ms resolution), with the number of units each manager has loaded. Under
// TCG the guest runs on host CPU time: compare managers from the same run. Printed, never
// asserted. Only with STEAD_BENCH=1:
//
//	STEAD_BENCH=1 flock /tmp/stead-vm.lock go test -tags integration -run TestInitVMReloadBench -v ./integration/bench/
//
// STEAD_BENCH_RELOADS (default 10) sets how many reloads are timed.

// reloadBenchManager adds to a manager under test how to reload it and count its units.
type reloadBenchManager struct {
	initBenchManager
	reload string // shell command: one synchronous daemon-reload
	loaded string // shell pipeline printing how many units have load state "loaded"
}

// reloadBenchTimes is a guest script: runs "$1" (a reload command) "$2" times and prints
// each run's seconds, one a line.
const reloadBenchTimes = `i=0
while [ $i -lt "$2" ]; do
	a=$(cut -d" " -f1 /proc/uptime)
	sh -c "$1" >/dev/null || exit 1
	b=$(cut -d" " -f1 /proc/uptime)
	echo "$a $b" | awk '{printf "%.2f\n", $2-$1}'
	i=$((i+1))
done`

func TestInitVMReloadBench(t *testing.T) {
	if os.Getenv("STEAD_BENCH") == "" {
		t.Skip("a measurement: run with STEAD_BENCH=1")
	}
	n := 10
	if r, err := strconv.Atoi(os.Getenv("STEAD_BENCH_RELOADS")); err == nil && r > 0 {
		n = r
	}
	vm.Prereqs(t)
	up := harness.NeedUpstream(t)
	corpus, names := reloadBenchCorpus(t, up.Dir)
	t.Logf("corpus: %d unit names (%d bytes of tar)", len(names), len(corpus))

	upMgr, err := upstreamSystemdManager(up.Dir)
	if err != nil {
		t.Fatalf("upstream systemd: %v", err)
	}
	managers := []reloadBenchManager{{
		initBenchManager: initBenchManager{name: "stead init", init: harness.Binary(t, "cmd/init"),
			cmdline: "stead.log_level=warn"},
		reload: "/init --call io.systemd.Manager.Reload",
		loaded: `/init --call io.systemd.Unit.List --more | grep -o '"LoadState":"loaded"' | wc -l`,
	}, {
		initBenchManager: upMgr,
		reload:           "/usr/bin/systemctl daemon-reload",
		loaded:           "/usr/bin/systemctl list-units --all --no-legend --plain --state=loaded | wc -l",
	}}
	medians := map[string]float64{}
	for _, mgr := range managers {
		t.Run(strings.ReplaceAll(mgr.name, " ", "_"), func(t *testing.T) {
			times, before, after := reloadBenchRun(t, mgr, corpus, n)
			t.Logf("%s: %d units loaded before the corpus, %d with it; %d reloads (s): %s",
				mgr.name, before, after, len(times), strings.Trim(fmt.Sprint(times), "[]"))
			medians[mgr.name] = median(times)
			t.Logf("%s: daemon-reload median %.2fs, min %.2fs, max %.2fs", mgr.name,
				median(times), minOf(times), maxOf(times))
		})
	}
	if s, u := medians["stead init"], medians["systemd 262"]; s > 0 && u > 0 {
		t.Logf("daemon-reload with the corpus loaded: stead init %.2fs, systemd 262 %.2fs (median), ratio stead/systemd %.2f", s, u, s/u)
	}
}

// reloadBenchRun boots mgr, loads the corpus and times n reloads; it also returns how many
// units were loaded before and after the corpus was.
func reloadBenchRun(t *testing.T, mgr reloadBenchManager, corpus []byte, n int) (times []float64, before, after int) {
	files := map[string]vm.File{
		"/etc/systemd/system/stead-vm-agent.service": {Data: []byte(vm.AgentUnit)},
		"/etc/systemd/system/default.target": {Data: []byte(`[Unit]
Description=Default target of the reload benchmark
DefaultDependencies=no
Wants=stead-vm-agent.service
After=stead-vm-agent.service
`)},
		"/stead-bench/corpus.tar": {Data: corpus},
	}
	for p, f := range mgr.files {
		files[p] = f
	}
	m := vm.Boot(t, vm.Options{Init: mgr.init, Agent: vm.AgentByInit, Files: files, Memory: 1024,
		KernelCmdline: mgr.cmdline, BootTimeout: 2 * time.Minute})
	defer m.Stop()
	count := func() int {
		out := m.MustRun(t, "sh", "-c", mgr.loaded)
		c, err := strconv.Atoi(strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("counting loaded units: %q", out)
		}
		return c
	}
	before = count()
	m.MustRun(t, "tar", "-xf", "/stead-bench/corpus.tar", "-C", "/")
	m.MustRun(t, "sh", "-c", mgr.reload) // loads the corpus
	after = count()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	r, err := m.Exec(ctx, vm.Command{Argv: []string{"sh", "-c", reloadBenchTimes, "sh", mgr.reload, strconv.Itoa(n)}})
	if err != nil || r.ExitCode != 0 {
		t.Fatalf("timed reloads: %v %v\n%s", err, r, r.Stdout)
	}
	for _, l := range strings.Fields(string(r.Stdout)) {
		v, err := strconv.ParseFloat(l, 64)
		if err != nil {
			t.Fatalf("reload time %q", l)
		}
		times = append(times, v)
	}
	if len(times) != n {
		t.Fatalf("%d reload times for %d reloads: %q", len(times), n, r.Stdout)
	}
	if c := count(); c != after {
		t.Logf("%s: %d units loaded after the timed reloads (%d after the first)", mgr.name, c, after)
	}
	return times, before, after
}

// reloadBenchCorpus packs the corpus as a tar of /usr/lib/systemd/system and
// /etc/systemd/system (symlinks kept; the corpus's own default.target left out) plus a
// default.target drop-in ordering it after every unit, and returns it with the unit names.
func reloadBenchCorpus(t *testing.T, upRoot string) ([]byte, []string) {
	out, err := exec.Command(filepath.Join(harness.RepoRoot(), "integration", "corpus-debs")).Output()
	if err != nil {
		harness.Require(t, fmt.Sprintf("the corpus packages cannot be downloaded: %v", err))
	}
	debs, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "*.deb"))
	if len(debs) < 4 {
		t.Fatalf("corpus packages missing: %v", debs)
	}
	x := t.TempDir()
	for _, d := range debs {
		if b, err := exec.Command("dpkg-deb", "-x", d, x).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -x %s: %v: %s", d, err, b)
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{} // guest paths written
	names := map[string]bool{}
	add := func(hostDir, guestDir string) {
		err := filepath.WalkDir(hostDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(hostDir, p)
			if rel == "." {
				// busybox tar wants the directories before their files
				parts := strings.Split(strings.Trim(guestDir, "/"), "/")
				for i := range parts {
					g := strings.Join(parts[:i+1], "/") + "/"
					if !seen[g] {
						seen[g] = true
						if err := tw.WriteHeader(&tar.Header{Name: g, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
							return err
						}
					}
				}
				return nil
			}
			if rel == "default.target" {
				return nil
			}
			g := strings.TrimPrefix(filepath.Join(guestDir, rel), "/")
			if d.IsDir() {
				g += "/"
			}
			if seen[g] {
				return nil // the upstream root's file wins over a package's
			}
			seen[g] = true
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			link := ""
			if fi.Mode()&fs.ModeSymlink != 0 {
				link, _ = os.Readlink(p)
			}
			h, err := tar.FileInfoHeader(fi, link)
			if err != nil {
				return err
			}
			h.Name, h.Uid, h.Gid, h.Uname, h.Gname = g, 0, 0, "", ""
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if fi.Mode().IsRegular() {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				tw.Write(b)
			}
			if !strings.Contains(rel, "/") && !d.IsDir() {
				if _, _, _, tmpl, err := unit.ParseName(rel); err == nil {
					if tmpl {
						rel = strings.Replace(rel, "@.", "@corpus.", 1)
					}
					names[rel] = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	add(filepath.Join(upRoot, "etc/systemd/system"), "/etc/systemd/system")
	add(filepath.Join(upRoot, "usr/lib/systemd/system"), "/usr/lib/systemd/system")
	for _, d := range []string{"lib/systemd/system", "usr/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(x, d)); err == nil {
			add(filepath.Join(x, d), "/usr/lib/systemd/system")
		}
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	dropin := "[Unit]\nAfter=" + strings.Join(list, " ") + "\n"
	if err := tw.WriteHeader(&tar.Header{Name: "etc/systemd/system/default.target.d/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "etc/systemd/system/default.target.d/corpus.conf", Typeflag: tar.TypeReg,
		Mode: 0o644, Size: int64(len(dropin))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(dropin))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), list
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
