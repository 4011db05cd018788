//go:build integration

package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/api/iosystemdmanager"
)

// stateUnit is the unit of stead-testsvc's state mode: three memfds and a listening socket
// in its fd store.
func stateUnit(svc, report, listen, settings string) string {
	return fmt.Sprintf("[Service]\nType=notify\nFileDescriptorStoreMax=8\n%s\nExecStart=%s state -report %s -listen %s\n", settings, svc, report, listen)
}

// stateClient connects to a unix socket path again and again until stop is closed; it counts
// the connections answered and the ones refused.
type stateClient struct {
	ok, refused atomic.Int64
	last        atomic.Value // the last error
	stop        chan struct{}
	done        chan struct{}
}

func startStateClient(path string) *stateClient {
	c := &stateClient{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			select {
			case <-c.stop:
				return
			default:
			}
			conn, err := net.DialTimeout("unix", path, 5*time.Second)
			if err == nil {
				_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
				b := make([]byte, 32)
				n, rerr := conn.Read(b)
				conn.Close()
				if rerr == nil && n > 0 {
					c.ok.Add(1)
				} else {
					c.refused.Add(1)
					c.last.Store(fmt.Sprint("read: ", rerr))
				}
			} else {
				c.refused.Add(1)
				c.last.Store(err.Error())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return c
}

func (c *stateClient) finish() (ok, refused int64, last string) {
	close(c.stop)
	<-c.done
	l, _ := c.last.Load().(string)
	return c.ok.Load(), c.refused.Load(), l
}

// TestStateReexecHost re-executes a host-mode init (steadctl daemon-reexec) under a service
// that keeps three memfds and a listening socket in its fd store, another plain service and
// an idle socket unit: the init keeps its pid, the services keep theirs and stay
// supervised (a kill after the re-execution is noticed), the fd store, the socket unit's
// listener and the counters survive (ReloadCount starts again at 0), a client connecting all
// the while is never refused, and a restart after it hands every stored fd back.
func TestStateReexecHost(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	ctl := harness.Binary(t, "cmd/steadctl")
	svc := harness.Binary(t, "integration/cmd/stead-testsvc")
	root := t.TempDir()
	out := t.TempDir()
	report, listen := filepath.Join(out, "state"), filepath.Join(out, "state.sock")
	units := map[string]string{
		"default.target":  "[Unit]\nWants=state.service sleeper.service idle.socket tick.timer\n",
		"sysinit.target":  "[Unit]\n",
		"tick.timer":      "[Timer]\nOnActiveSec=1s\nOnUnitActiveSec=1h\nAccuracySec=1ms\n",
		"tick.service":    "[Service]\nType=oneshot\nExecStart=/bin/true\n",
		"state.service":   stateUnit(svc, report, listen, ""),
		"sleeper.service": "[Service]\nExecStart=/bin/sleep 600\n",
		"idle.socket":     "[Socket]\nListenStream=/run/idle.sock\n",
		"idle.service":    "[Service]\nExecStart=/bin/sh -c 'echo started > " + filepath.Join(out, "idle") + "; exec sleep 600'\n",
	}
	for name, text := range units {
		initWriteUnit(t, root, name, text)
	}
	cmd, _, log := startHostInit(t, bin, root)
	e := &ctlEnv{t: t, root: root, ctl: ctl, log: log}
	initWaitPath(t, filepath.Join(root, "run/systemd/io.systemd.Manager"), log)
	e.waitState("state.service", "active")
	e.waitState("sleeper.service", "active")
	e.waitState("idle.socket", "active")
	first := gapsWaitLines(t, e, report, 1)[0]
	if !strings.Contains(first, "names= data= listen=false") {
		t.Errorf("first start: %q", first)
	}
	harness.Eventually(t, "four fds stored", 15*time.Second, func() bool {
		return e.prop("state.service", "NFileDescriptorStore") == "4"
	}, nil, harness.Output("init log", log))
	statePID, sleeperPID := e.prop("state.service", "MainPID"), e.prop("sleeper.service", "MainPID")
	var tickBefore initUnit
	harness.Eventually(t, "tick.timer to trigger once", 15*time.Second, func() bool {
		u, ok := initQuery(t, root, "tick.timer")
		tickBefore = u
		return ok && u.Runtime.Timer != nil && u.Runtime.Timer.LastTriggerUSec != nil && u.Runtime.SubState == "waiting"
	}, nil, harness.Output("init log", log))

	client := startStateClient(listen)
	e.must(0, "daemon-reload")
	describe := func() iosystemdmanager.ManagerRuntime {
		t.Helper()
		ctx, vc, done := initDial(t, root, "io.systemd.Manager")
		defer done()
		d, err := iosystemdmanager.NewClient(vc).Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d.Runtime
	}
	before := describe()
	if before.ReloadCount != 1 {
		t.Errorf("ReloadCount before: %d", before.ReloadCount)
	}

	e.must(0, "daemon-reexec")
	harness.Eventually(t, "the re-executed init to report", 20*time.Second, func() bool {
		return strings.Contains(log.String(), "state of the previous incarnation restored")
	}, nil, harness.Output("init log", log))
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cmdline"); err != nil || !strings.Contains(string(b), "--deserialize=") {
		t.Errorf("init's command line after the re-execution: %q, %v", b, err)
	}
	after := describe()
	if after.ReloadCount != 0 || after.NInstalledJobs != before.NInstalledJobs || after.NNames < before.NNames ||
		after.UserspaceTimestamp.Realtime != before.UserspaceTimestamp.Realtime || after.SystemState != "running" {
		t.Errorf("counters: before %+v\nafter %+v", before, after)
	}
	for unit, pid := range map[string]string{"state.service": statePID, "sleeper.service": sleeperPID} {
		if got := e.prop(unit, "MainPID"); got != pid {
			t.Errorf("%s: MainPID %s after the re-execution, %s before", unit, got, pid)
		}
		if got := e.prop(unit, "ActiveState"); got != "active" {
			t.Errorf("%s: %s after the re-execution", unit, got)
		}
	}
	if got := e.prop("state.service", "NFileDescriptorStore"); got != "4" {
		t.Errorf("NFileDescriptorStore after the re-execution: %s", got)
	}
	// The timer keeps its last trigger and waits again for the next one.
	if u, ok := initQuery(t, root, "tick.timer"); !ok || u.Runtime.SubState != "waiting" || u.Runtime.Timer == nil ||
		u.Runtime.Timer.LastTriggerUSec == nil || *u.Runtime.Timer.LastTriggerUSec != *tickBefore.Runtime.Timer.LastTriggerUSec ||
		u.Runtime.Timer.NextElapseUSecMonotonic == nil {
		t.Errorf("tick.timer after the re-execution: %+v (before: %+v)", u.Runtime, tickBefore.Runtime)
	}
	list := e.must(0, "list-fdstore", "state.service")
	for _, n := range []string{"one", "two", "three", "listen"} {
		if !strings.Contains(list, n) {
			t.Errorf("list-fdstore lacks %s:\n%s", n, list)
		}
	}

	// Still supervised: a kill is noticed.
	pid, _ := strconv.Atoi(sleeperPID)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitState("sleeper.service", "failed")

	// The socket unit still listens, and activates its service.
	conn, err := net.Dial("unix", filepath.Join(root, "run/idle.sock"))
	if err != nil {
		t.Fatalf("socket unit after the re-execution: %v", err)
	}
	conn.Close()
	e.waitState("idle.service", "active")

	// A restart hands the fds back, named, with their contents.
	e.must(0, "restart", "state.service")
	second := gapsWaitLines(t, e, report, 2)[1]
	if !strings.Contains(second, "names=one:two:three:listen data=one=first,two=second,three=third listen=true") {
		t.Errorf("after restart: %q", second)
	}
	time.Sleep(200 * time.Millisecond)
	ok, refused, last := client.finish()
	if ok == 0 || refused != 0 {
		t.Errorf("client: %d answered, %d refused (last: %s)", ok, refused, last)
	}
}
