//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
)

// TestInitUnitsServiceTypes drives, in host mode, Type=forking (PIDFile= and a guessed main
// process), Type=notify-reload (ReloadSignal= and RELOADING=1/READY=1), OnFailure=/OnSuccess=,
// RefuseManualStart=/RefuseManualStop=, StopWhenUnneeded=, isolate (AllowIsolate=,
// IgnoreOnIsolate=) and, last, FailureAction=exit ending host mode.
func TestInitUnitsServiceTypes(t *testing.T) {
	example := harness.Binary(t, "integration/cmd/stead-varlink-example")
	root := t.TempDir()
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	units := map[string]string{
		"pidfile.service": "[Service]\nType=forking\nPIDFile=" + out + "/daemon.pid\n" +
			"ExecStart=/bin/sh -c 'sleep 600 & echo $! > " + out + "/daemon.pid'\n",
		"guess.service":     "[Service]\nType=forking\nExecStart=/bin/sh -c 'sleep 601 &'\n",
		"badfork.service":   "[Service]\nType=forking\nExecStart=/bin/sh -c 'exit 3'\n",
		"reloader.service":  "[Service]\nType=notify-reload\nExecStart=" + example + " --root=" + root + "\n",
		"fails.service":     "[Unit]\nOnFailure=onfail.service\n[Service]\nType=oneshot\nExecStart=/bin/false\n",
		"onfail.service":    "[Service]\nType=oneshot\nExecStart=/bin/touch " + out + "/onfailure\n",
		"works.service":     "[Unit]\nOnSuccess=onsuccess.service\n[Service]\nType=oneshot\nExecStart=/bin/true\n",
		"onsuccess.service": "[Service]\nType=oneshot\nExecStart=/bin/touch " + out + "/onsuccess\n",
		"locked.service":    "[Unit]\nRefuseManualStart=yes\nRefuseManualStop=yes\n[Service]\nExecStart=/bin/sleep 602\n",
		"user.service":      "[Unit]\nWants=locked.service helper.service\n[Service]\nExecStart=/bin/sleep 603\n",
		"helper.service":    "[Unit]\nStopWhenUnneeded=yes\n[Service]\nExecStart=/bin/sleep 604\n",
		"other.service":     "[Service]\nExecStart=/bin/sleep 605\n",
		"ignored.service":   "[Unit]\nIgnoreOnIsolate=yes\n[Service]\nExecStart=/bin/sleep 606\n",
		"keep.service":      "[Service]\nExecStart=/bin/sleep 607\n",
		"iso.target":        "[Unit]\nAllowIsolate=yes\nWants=keep.service\n",
		"noiso.target":      "[Unit]\nWants=keep.service\n",
		"idle.service":      "[Service]\nType=idle\nExecStart=/bin/touch " + out + "/idle\n",
		"slowstart.service": "[Service]\nType=oneshot\nExecStart=/bin/sleep 1\nExecStart=/bin/touch " + out + "/slow\n",
		"fatal.service":     "[Unit]\nFailureAction=exit\n[Service]\nType=oneshot\nExecStart=/bin/false\n",
	}
	e := newCtlEnv(t, units)

	// Type=forking with PIDFile=: the main process is the one in the file, and it stays
	// supervised: killing it ends the service.
	e.must(0, "start", "pidfile.service")
	b, err := os.ReadFile(filepath.Join(out, "daemon.pid"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(b))
	if got := e.prop("pidfile.service", "MainPID"); got != want {
		t.Errorf("pidfile.service MainPID=%s, PID file says %s", got, want)
	}
	pid, _ := strconv.Atoi(want)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	e.waitState("pidfile.service", "failed")

	// Without PIDFile=, the process the parent left behind is the main process.
	e.must(0, "start", "guess.service")
	mp, _ := strconv.Atoi(e.prop("guess.service", "MainPID"))
	if cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(mp) + "/cmdline"); !strings.Contains(string(cmdline), "601") {
		t.Errorf("guess.service MainPID=%d runs %q, want the sleep 601", mp, cmdline)
	}
	e.must(0, "stop", "guess.service")
	if pidAlive(mp) {
		t.Errorf("guess.service's daemon %d survived the stop", mp)
	}
	if _, errOut, code := e.steadctl("start", "badfork.service"); code != 1 || !strings.Contains(errOut, "failed") {
		t.Errorf("badfork.service: exit %d, %q", code, errOut)
	}

	// Type=notify-reload: a reload signals the daemon (lib/daemon reloads on SIGHUP) and waits for it.
	e.must(0, "start", "reloader.service")
	e.must(0, "reload", "reloader.service")
	harness.Eventually(t, "the daemon to log its reload", 10*time.Second, func() bool {
		return strings.Contains(e.log.String(), "reloaded")
	})
	if got := e.prop("reloader.service", "ActiveState"); got != "active" {
		t.Errorf("reloader.service after the reload: %s", got)
	}

	// OnFailure= and OnSuccess=.
	e.steadctl("start", "fails.service")
	e.must(0, "start", "works.service")
	for _, f := range []string{"onfailure", "onsuccess"} {
		harness.Eventually(t, f+" to run", 10*time.Second, func() bool {
			_, err := os.Stat(filepath.Join(out, f))
			return err == nil
		})
	}

	// RefuseManualStart=/Stop=: refused by hand, fine as a dependency.
	if _, errOut, code := e.steadctl("start", "locked.service"); code != 1 || !strings.Contains(errOut, "Operation refused") {
		t.Errorf("manual start of locked.service: exit %d, %q", code, errOut)
	}
	e.must(0, "start", "user.service")
	e.waitState("locked.service", "active")
	e.waitState("helper.service", "active")
	if _, errOut, code := e.steadctl("stop", "locked.service"); code != 1 || !strings.Contains(errOut, "RefuseManualStop") {
		t.Errorf("manual stop of locked.service: exit %d, %q", code, errOut)
	}
	// StopWhenUnneeded=: helper goes when user, the only unit that wants it, stops.
	e.must(0, "stop", "user.service")
	e.waitState("helper.service", "inactive")

	// isolate: other stops, ignored and keep stay; a target without AllowIsolate= refuses.
	e.must(0, "start", "other.service", "ignored.service")
	if _, errOut, code := e.steadctl("isolate", "noiso"); code != 1 || !strings.Contains(errOut, "AllowIsolate") {
		t.Errorf("isolate noiso: exit %d, %q", code, errOut)
	}
	e.must(0, "isolate", "iso")
	e.waitState("other.service", "inactive")
	for _, u := range []string{"ignored.service", "keep.service", "iso.target"} {
		if got := e.prop(u, "ActiveState"); got != "active" {
			t.Errorf("after isolate iso: %s is %s", u, got)
		}
	}

	// Type=idle: its process waits until the other queued job (a slow oneshot) is done.
	e.must(0, "start", "--no-block", "slowstart.service")
	e.must(0, "start", "idle.service")
	harness.Eventually(t, "idle.service to run", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(out, "idle"))
		return err == nil
	})
	if _, err := os.Stat(filepath.Join(out, "slow")); err != nil {
		t.Errorf("idle.service ran before the slow job finished: %v", err)
	}

	// FailureAction=exit: host-mode init stops everything and exits.
	e.steadctl("start", "fatal.service")
	harness.Eventually(t, "init to exit after FailureAction=exit", 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(root, "run/systemd/io.systemd.Manager"))
		return err != nil
	})
	if !strings.Contains(e.log.String(), "FailureAction=exit") {
		t.Error("the log does not say why init stopped")
	}
}
