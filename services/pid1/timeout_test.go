package pid1

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

// runManager starts a manager on root and stops it at the end of the test.
func runManager(t *testing.T, root string) *Manager {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Root: root, Host: true, Logger: quietLogger(), Output: io.Discard, ShimArgv: []string{self, "--exec-shim"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() { done <- m.Run(ctx, func() { close(started) }) }()
	<-started
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			t.Error("manager did not stop")
		}
	})
	return m
}

func TestHostModeStartTimeoutAndPreFailure(t *testing.T) {
	root, err := os.MkdirTemp("", "pid1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	writeUnit(t, root, "default.target", "[Unit]\n")
	writeUnit(t, root, "slow.service", "[Service]\nType=notify\nExecStart=/bin/sleep 600\nTimeoutStartSec=300ms\n")
	writeUnit(t, root, "pre.service", "[Service]\nExecStartPre=/bin/false\nExecStart=/bin/sleep 600\nExecStopPost=/bin/sh -c 'echo x > \"$0\"' "+root+"/stoppost\n")
	writeUnit(t, root, "prei.service", "[Service]\nExecStartPre=-/bin/false\nExecStart=/bin/sleep 600\n")
	m := runManager(t, root)

	j, err := m.Enqueue("slow.service", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	if r := waitJob(t, j); r != ResultFailed {
		t.Errorf("slow: job %s", r)
	}
	if s, _ := m.Status("slow.service"); s.ActiveState != StateFailed || s.Result != "timeout" {
		t.Errorf("slow: %+v", s)
	}

	j, _ = m.Enqueue("pre.service", JobStart)
	if r := waitJob(t, j); r != ResultFailed {
		t.Errorf("pre: job %s", r)
	}
	if s, _ := m.Status("pre.service"); s.ActiveState != StateFailed || s.Result != "exit-code" || s.MainPID != 0 {
		t.Errorf("pre: %+v", s)
	}
	if _, err := os.Stat(root + "/stoppost"); err != nil {
		t.Errorf("ExecStopPost did not run: %v", err)
	}

	j, _ = m.Enqueue("prei.service", JobStart)
	if r := waitJob(t, j); r != ResultDone {
		t.Errorf("prei: job %s", r)
	}
}

func TestHostModeBindsToAndReload(t *testing.T) {
	root, err := os.MkdirTemp("", "pid1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	writeUnit(t, root, "default.target", "[Unit]\n")
	writeUnit(t, root, "peer.service", "[Service]\nExecStart=/bin/sleep 600\nExecReload=/bin/sh -c 'touch \"$0\"' "+root+"/reloaded\n")
	writeUnit(t, root, "bound.service", "[Unit]\nBindsTo=peer.service\nAfter=peer.service\n[Service]\nExecStart=/bin/sleep 600\n")
	m := runManager(t, root)
	j, err := m.Enqueue("bound.service", JobStart)
	if err != nil || waitJob(t, j) != ResultDone {
		t.Fatalf("start bound: %v", err)
	}
	j, _ = m.Enqueue("peer.service", JobReload)
	if r := waitJob(t, j); r != ResultDone {
		t.Errorf("reload: %s", r)
	}
	if _, err := os.Stat(root + "/reloaded"); err != nil {
		t.Errorf("ExecReload did not run: %v", err)
	}
	// The peer dies on its own: the bound unit goes down with it.
	s, _ := m.Status("peer.service")
	if err := syscall.Kill(s.MainPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, "peer.service", func(s UnitStatus) bool { return s.ActiveState == StateFailed }, "failed")
	if s, _ := m.Status("peer.service"); s.Result != "signal" {
		t.Errorf("peer result %q", s.Result)
	}
	waitState(t, m, "bound.service", func(s UnitStatus) bool { return s.ActiveState == StateInactive }, "stopped")
}
