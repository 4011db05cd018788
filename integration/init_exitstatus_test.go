//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

// TestInitUnitsExitStatus: SuccessExitStatus=, RestartPreventExitStatus=,
// RestartForceExitStatus= and a service with only ExecStop=, in host mode.
func TestInitUnitsExitStatus(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	const early = "systemd-imds-early-network.service"
	vendor, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "units", early))
	if err != nil {
		t.Fatal(err)
	}
	initWriteUnit(t, root, early, string(vendor))
	// The shipped unit as it is, but for a command that finds no metadata service (exit 6).
	initWriteUnit(t, root, early+".d/test.conf", "[Service]\nExecStart=\nExecStart=/bin/sh -c 'exit 6'\n")
	initWriteUnit(t, root, "default.target", "[Unit]\nWants="+early+" ok6.service prevent.service force.service stoponly.service\n")
	initWriteUnit(t, root, "ok6.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'exit 6'\nSuccessExitStatus=6\n")
	initWriteUnit(t, root, "prevent.service", "[Service]\nRestart=always\nRestartSec=50ms\nRestartPreventExitStatus=3\n"+
		"ExecStart=/bin/sh -c 'echo run >> "+out+"/prevent; exit 3'\n")
	initWriteUnit(t, root, "force.service", "[Service]\nRestartSec=50ms\nRestartForceExitStatus=4\n"+
		"ExecStart=/bin/sh -c 'if [ -e "+out+"/forced ]; then exec sleep 600; fi; touch "+out+"/forced; exit 4'\n")
	initWriteUnit(t, root, "stoponly.service", "[Service]\nRemainAfterExit=yes\nExecStop=/bin/touch "+out+"/stopped\n")
	cmd, done, log := startHostInit(t, bin, root)

	u := initWaitUnit(t, root, early, log, "active/exited", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.ActiveState == "active"
	})
	if u.Runtime.SubState != "exited" || u.Runtime.Service == nil || u.Runtime.Service.Result != "success" {
		t.Errorf("%s with exit 6: %+v", early, u.Runtime)
	}
	u = initWaitUnit(t, root, "ok6.service", log, "inactive", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.ActiveState != "activating" && u.Runtime.InactiveEnterTimestamp != nil
	})
	if u.Runtime.ActiveState != "inactive" || u.Runtime.Service == nil || u.Runtime.Service.Result != "success" {
		t.Errorf("ok6.service (exit 6, SuccessExitStatus=6): %+v", u.Runtime)
	}
	u = initWaitUnit(t, root, "prevent.service", log, "failed", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.ActiveState == "failed"
	})
	if u.Runtime.Service == nil || u.Runtime.Service.Result != "exit_code" || u.Runtime.Service.NRestarts != 0 {
		t.Errorf("prevent.service: %+v", u.Runtime)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "prevent")); string(b) != "run\n" {
		t.Errorf("prevent.service ran %q, want once", b)
	}
	initWaitUnit(t, root, "force.service", log, "running again", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.SubState == "running" && u.Runtime.Service != nil && u.Runtime.Service.NRestarts == 1
	})
	u = initWaitUnit(t, root, "stoponly.service", log, "active/exited", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.ActiveState == "active"
	})
	if u.Runtime.SubState != "exited" {
		t.Errorf("stoponly.service: %+v", u.Runtime)
	}
	if _, err := os.Stat(filepath.Join(out, "stopped")); err == nil {
		t.Error("stoponly.service: ExecStop= ran before the stop")
	}
	initStop(t, cmd, done)
	if _, err := os.Stat(filepath.Join(out, "stopped")); err != nil {
		t.Errorf("stoponly.service: ExecStop= did not run at shutdown: %v", err)
	}
}
