package pid1

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHostModeExitStatus covers SuccessExitStatus=, RestartPreventExitStatus=,
// RestartForceExitStatus= and a service with only ExecStop=.
func TestHostModeExitStatus(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.MkdirTemp("", "pid1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	stopped := filepath.Join(root, "stopped")
	writeUnit(t, root, "default.target", "[Unit]\nDescription=Default\n")
	writeUnit(t, root, "ok6.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'exit 6'\nSuccessExitStatus=6\n")
	writeUnit(t, root, "ok6remain.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'exit 6'\nSuccessExitStatus=NOTCONFIGURED\n")
	writeUnit(t, root, "usr1.service", "[Service]\nExecStart=/bin/sh -c 'kill -USR1 $$$$'\nSuccessExitStatus=SIGUSR1\nRestart=on-failure\nRestartSec=50ms\n")
	writeUnit(t, root, "reset.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'exit 6'\nSuccessExitStatus=6\nSuccessExitStatus=\n")
	writeUnit(t, root, "prevent.service", "[Service]\nExecStart=/bin/sh -c 'exit 3'\nRestart=always\nRestartSec=50ms\nRestartPreventExitStatus=3\n")
	writeUnit(t, root, "force.service", "[Unit]\nStartLimitBurst=3\n[Service]\nExecStart=/bin/sh -c 'exit 4'\nRestartSec=50ms\nRestartForceExitStatus=4\n")
	writeUnit(t, root, "stoponly.service", "[Service]\nRemainAfterExit=yes\nExecStop=/bin/touch "+stopped+"\n")

	m, err := New(Config{Root: root, Host: true, Logger: quietLogger(), Output: &lockedBuf{}, ShimArgv: []string{self, "--exec-shim"}, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, nil) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			t.Error("manager did not stop")
		}
	}()
	waitState(t, m, "default.target", func(s UnitStatus) bool { return s.ActiveState == StateActive }, "active")

	start := func(name string) string {
		j, err := m.Enqueue(name, JobStart)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return waitJob(t, j)
	}
	if r := start("ok6.service"); r != ResultDone {
		t.Errorf("ok6: job %s", r)
	}
	if s, _ := m.Status("ok6.service"); s.ActiveState != StateInactive || s.Result != "success" {
		t.Errorf("ok6: %+v", s)
	}
	start("ok6remain.service")
	if s, _ := m.Status("ok6remain.service"); s.ActiveState != StateActive || s.SubState != "exited" || s.Result != "success" {
		t.Errorf("ok6remain: %+v", s)
	}
	start("usr1.service")
	s := waitState(t, m, "usr1.service", func(s UnitStatus) bool { return s.ActiveState == StateInactive }, "inactive")
	if s.Result != "success" || s.NRestarts != 0 {
		t.Errorf("usr1: %+v", s)
	}
	if r := start("reset.service"); r != ResultFailed {
		t.Errorf("reset: job %s, want failed", r)
	}
	start("prevent.service")
	s = waitState(t, m, "prevent.service", func(s UnitStatus) bool { return s.ActiveState == StateFailed }, "failed")
	if s.Result != "exit-code" || s.NRestarts != 0 {
		t.Errorf("prevent: %+v", s)
	}
	start("force.service")
	s = waitState(t, m, "force.service", func(s UnitStatus) bool { return s.ActiveState == StateFailed && s.Result == "start-limit-hit" }, "start limit")
	if s.NRestarts != 3 { // three starts, the fourth hits the limit
		t.Errorf("force: %+v", s)
	}

	if r := start("stoponly.service"); r != ResultDone {
		t.Errorf("stoponly: job %s", r)
	}
	if s, _ := m.Status("stoponly.service"); s.ActiveState != StateActive || s.SubState != "exited" {
		t.Errorf("stoponly: %+v", s)
	}
	j, _ := m.Enqueue("stoponly.service", JobStop)
	if r := waitJob(t, j); r != ResultDone {
		t.Errorf("stop stoponly: %s", r)
	}
	if _, err := os.Stat(stopped); err != nil {
		t.Errorf("ExecStop= of the stop-only service did not run: %v", err)
	}
}
