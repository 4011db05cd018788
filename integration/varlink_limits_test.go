//go:build integration

package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/netns"
	"github.com/stead-os/stead/lib/varlinkd"
)

// The attacks of the Varlink limits tests, each run by stead-varlink-flood processes as uid
// 65534: an fd bomb, more idle connections than the daemon's fd table holds (20,000 here;
// two processes, since without CAP_SYS_RESOURCE one cannot hold more fds than that either),
// and 60 maximal unfinished messages.
var varlinkAttacks = []struct {
	name  string
	procs int
	args  []string
}{
	{"fd-bomb", 1, []string{"--fds=25000"}},
	{"idle-connections", 2, []string{"--idle=12000"}},
	{"unfinished-messages", 1, []string{"--unfinished=60", fmt.Sprintf("--size=%d", varlinkd.MaxMessageSize)}},
}

// What a daemon must keep to during and after each attack.
const (
	limitsMaxFDs       = 4096
	limitsMaxPeakRSS   = 256 << 20
	limitsMaxRSSAfter  = 64 << 20
	limitsRSSSettle    = 15 * time.Second
	limitsPingDeadline = 2 * time.Second
)

// limitsTarget is a running daemon under attack.
type limitsTarget struct {
	pid    int
	socket string
	done   <-chan struct{} // closed when the daemon exits
	// during, if set, is checked while each attack is held (init starts a service).
	during func() error
}

// TestVarlinkLimitsIMDSD attacks imdsd (in its instance namespace) over its public socket.
func TestVarlinkLimitsIMDSD(t *testing.T) {
	tp := newIMDSTopo(t, "amazon-ec2")
	root := limitsRoot(t)
	imdsRoot(t, root, tp.Prov)
	sock, d := tp.startOurIMDSD(t, root, []string{"SYSTEMD_LOG_LEVEL=info"})
	runVarlinkAttacks(t, limitsTarget{pid: d.Cmd.Process.Pid, socket: sock, done: d.Done()})
}

// TestVarlinkLimitsInit attacks init (host mode) over io.systemd.Manager, and starts a service
// while each attack is held.
func TestVarlinkLimitsInit(t *testing.T) {
	root := limitsRoot(t)
	initWriteUnit(t, root, "limits-probe.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
	cmd, _, log := startHostInit(t, harness.Binary(t, "cmd/init"), root)
	sock := filepath.Join(root, "run/systemd/io.systemd.Manager")
	initWaitPath(t, sock, log)
	ctl := harness.Binary(t, "cmd/steadctl")
	done := make(chan struct{})
	go func() { cmd.Process.Wait(); close(done) }()
	runVarlinkAttacks(t, limitsTarget{pid: cmd.Process.Pid, socket: sock, done: done, during: func() error {
		c := exec.Command(ctl, "--root="+root, "restart", "limits-probe.service")
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("steadctl restart limits-probe.service: %v\n%s", err, out)
		}
		return nil
	}})
}

// TestVarlinkLimitsNetworkd attacks networkd, run in a namespace of its own.
func TestVarlinkLimitsNetworkd(t *testing.T) {
	ns := netns.New(t, "ndlimits")
	root := limitsRoot(t)
	// READY=1 comes once io.systemd.Network accepts connections.
	d := harness.StartDaemon(t, ns.Command(harness.Binary(t, "cmd/networkd"), "--root="+root), harness.WaitReady())
	sock := filepath.Join(root, "run/systemd/netif/io.systemd.Network")
	runVarlinkAttacks(t, limitsTarget{pid: d.Cmd.Process.Pid, socket: sock, done: d.Done()})
}

// limitsRoot is a temporary root uid 65534 can traverse to reach the daemon's socket.
func limitsRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "stead-limits-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runVarlinkAttacks runs each attack against tg in turn and checks the daemon through it.
func runVarlinkAttacks(t *testing.T, tg limitsTarget) {
	flood := harness.Binary(t, "integration/cmd/stead-varlink-flood")
	for _, a := range varlinkAttacks {
		t.Run(a.name, func(t *testing.T) {
			s := startSampler(tg.pid)
			var floods []*exec.Cmd
			var stdins []io.Closer
			stopFloods := func() {
				for _, in := range stdins {
					in.Close()
				}
				for _, cmd := range floods {
					// A flood still attacking does not read its stdin yet: kill it, by pid.
					t := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
					cmd.Wait()
					t.Stop()
				}
				stdins, floods = nil, nil
			}
			defer stopFloods()
			ready := make(chan string, a.procs)
			var stderr harness.SyncBuffer
			for range a.procs {
				cmd := exec.Command(flood, append([]string{"--socket=" + tg.socket, "--uid=65534"}, a.args...)...)
				stdin, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				floods, stdins = append(floods, cmd), append(stdins, stdin)
				go func() {
					line, _ := bufio.NewReader(stdout).ReadString('\n')
					ready <- strings.TrimSpace(line)
				}()
			}
			for range a.procs {
				select {
				case line := <-ready:
					if !strings.HasPrefix(line, "ready") {
						t.Fatalf("attack did not get going: %q %s", line, stderr.String())
					}
					t.Logf("attack held: %s", line)
				case <-time.After(3 * time.Minute):
					t.Fatalf("attack still not in place after 3 min: %s", stderr.String())
				}
			}

			// Held: root is still served, promptly, and (init) services still start.
			for i := range 5 {
				if took, err := rootPing(tg.socket); err != nil {
					t.Errorf("root's Ping %d during the attack: %v (after %v)", i, err, took)
				} else if i == 0 {
					t.Logf("root's Ping during the attack: %v", took)
				}
			}
			if tg.during != nil {
				if err := tg.during(); err != nil {
					t.Errorf("during the attack: %v", err)
				}
			}
			stopFloods()

			// Released: memory goes back within limitsRSSSettle.
			start := time.Now()
			var rss int64
			harness.Poll(limitsRSSSettle, func() bool {
				rss = procStatusKB(tg.pid, "VmRSS") << 10
				return rss < limitsMaxRSSAfter
			})
			peakFDs, peakRSS := s.stop()
			hwm := procStatusKB(tg.pid, "VmHWM") << 10
			t.Logf("peak fds %d, peak RSS sampled %.1f MiB (VmHWM %.1f MiB), RSS %.1f MiB %v after the attack ended",
				peakFDs, mib(peakRSS), mib(hwm), mib(rss), time.Since(start).Round(100*time.Millisecond))
			select {
			case <-tg.done:
				t.Fatal("the daemon exited")
			default:
			}
			if _, err := os.Stat(tg.socket); err != nil {
				t.Errorf("the socket is gone: %v", err)
			}
			if _, err := rootPing(tg.socket); err != nil {
				t.Errorf("root's Ping after the attack: %v", err)
			}
			if peakFDs >= limitsMaxFDs {
				t.Errorf("the daemon held %d fds, want < %d", peakFDs, limitsMaxFDs)
			}
			if max(peakRSS, hwm) >= limitsMaxPeakRSS {
				t.Errorf("peak RSS %.1f MiB, want < %.0f MiB", mib(max(peakRSS, hwm)), mib(limitsMaxPeakRSS))
			}
			if rss >= limitsMaxRSSAfter {
				t.Errorf("RSS %.1f MiB %v after the attack, want < %.0f MiB", mib(rss), limitsRSSSettle, mib(limitsMaxRSSAfter))
			}
		})
	}
}

// rootPing calls io.systemd.service.Ping on a new connection within limitsPingDeadline.
func rootPing(socket string) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), limitsPingDeadline)
	defer cancel()
	// A unix socket's connect(2) fails with EAGAIN instead of waiting while the listen
	// backlog is full (the attackers keep it busy); a blocking client would wait, so
	// the dial is retried within the same deadline.
	c, err := varlinkd.Dial(ctx, "unix:"+socket)
	for errors.Is(err, syscall.EAGAIN) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
		c, err = varlinkd.Dial(ctx, "unix:"+socket)
	}
	if err != nil {
		return time.Since(start), err
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- c.Call(ctx, "io.systemd.service.Ping", nil, nil) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("no answer within %v", limitsPingDeadline)
	}
	return time.Since(start), err
}

// sampler records a process's peak fd count and resident memory every 20 ms.
type sampler struct {
	pid           int
	quit          chan struct{}
	wg            sync.WaitGroup
	fds, rssBytes int64
}

func startSampler(pid int) *sampler {
	s := &sampler{pid: pid, quit: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
				s.fds = max(s.fds, int64(len(ents)))
			}
			s.rssBytes = max(s.rssBytes, procStatusKB(pid, "VmRSS")<<10)
			select {
			case <-s.quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return s
}

// stop ends sampling and returns the peaks.
func (s *sampler) stop() (fds, rssBytes int64) {
	close(s.quit)
	s.wg.Wait()
	return s.fds, s.rssBytes
}

// procStatusKB reads a "KEY: N kB" line of /proc/PID/status (0 if absent).
func procStatusKB(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
