//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

// procStatus reads the Cap*, NoNewPrivs and Uid lines of a /proc/PID/status text.
func procStatus(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// TestInitUnitsCapabilities: the real init in host mode (root) runs a service as another user
// with AmbientCapabilities=CAP_NET_BIND_SERVICE (its process has it in CapAmb and CapEff), one
// with CapabilityBoundingSet=~CAP_SYS_ADMIN (CapBnd lacks just that), one with
// NoNewPrivileges=yes (NoNewPrivs: 1), and refuses to start one whose ambient capability is
// outside its bounding set, saying why.
func TestInitUnitsCapabilities(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	initUsers(t, root)
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(out, 0o777); err != nil {
		t.Fatal(err)
	}
	report := func(name string) string {
		return "ExecStart=/bin/sh -c 'exec cat /proc/self/status >" + filepath.Join(out, name) + "'\n"
	}
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=ambient.service bounded.service nnp.service bad.service\n")
	initWriteUnit(t, root, "ambient.service", "[Service]\nType=oneshot\nUser=svc\nAmbientCapabilities=cap_net_bind_service\n"+report("ambient"))
	initWriteUnit(t, root, "bounded.service", "[Service]\nType=oneshot\nCapabilityBoundingSet=~CAP_SYS_ADMIN\n"+
		"CapabilityBoundingSet=~CAP_NET_RAW\nCapabilityBoundingSet=CAP_NET_RAW\n"+report("bounded"))
	initWriteUnit(t, root, "nnp.service", "[Service]\nType=oneshot\nUser=svc\nNoNewPrivileges=yes\n"+report("nnp"))
	initWriteUnit(t, root, "bad.service", "[Service]\nType=oneshot\nUser=svc\nAmbientCapabilities=CAP_KILL\n"+
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n"+report("bad"))
	cmd, done, log := startHostInit(t, bin, root)

	self, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	ourBnd, err := strconv.ParseUint(procStatus(string(self))["CapBnd"], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	const netBindService, sysAdmin = 10, 21
	amb := procStatus(string(initWaitFile(t, filepath.Join(out, "ambient"), log)))
	if want := fmt.Sprintf("%016x", 1<<netBindService); amb["CapAmb"] != want || amb["CapEff"] != want || amb["CapPrm"] != want {
		t.Errorf("ambient.service: CapAmb %s CapPrm %s CapEff %s, want %s", amb["CapAmb"], amb["CapPrm"], amb["CapEff"], want)
	}
	if !strings.HasPrefix(amb["Uid"], "4242\t") || amb["NoNewPrivs"] != "0" {
		t.Errorf("ambient.service: Uid %q NoNewPrivs %q, want 4242 and 0", amb["Uid"], amb["NoNewPrivs"])
	}
	bnd := procStatus(string(initWaitFile(t, filepath.Join(out, "bounded"), log)))
	if want := fmt.Sprintf("%016x", ourBnd&^(1<<sysAdmin)); bnd["CapBnd"] != want || bnd["CapEff"] != want {
		t.Errorf("bounded.service: CapBnd %s CapEff %s, want %s (ours %016x without CAP_SYS_ADMIN)", bnd["CapBnd"], bnd["CapEff"], want, ourBnd)
	}
	nnp := procStatus(string(initWaitFile(t, filepath.Join(out, "nnp"), log)))
	if nnp["NoNewPrivs"] != "1" || nnp["CapAmb"] != "0000000000000000" || nnp["CapEff"] != "0000000000000000" {
		t.Errorf("nnp.service: NoNewPrivs %q CapAmb %s CapEff %s, want 1 and no capabilities", nnp["NoNewPrivs"], nnp["CapAmb"], nnp["CapEff"])
	}
	initWaitUnit(t, root, "bad.service", log, "failed", func(u initUnit, ok bool) bool { return ok && u.Runtime.ActiveState == "failed" })
	if _, err := os.Stat(filepath.Join(out, "bad")); err == nil {
		t.Errorf("bad.service ran although its ambient capability is outside its bounding set")
	}
	if !strings.Contains(log.String(), "AmbientCapabilities=: CAP_KILL is not in CapabilityBoundingSet=") {
		t.Errorf("init log does not say why bad.service failed:\n%s", log.String())
	}
	initStop(t, cmd, done)
}
