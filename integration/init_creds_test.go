//go:build integration

package integration

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stead-os/stead/lib/varlinkd"
)

// smbiosOEMRaw is an SMBIOS type 11 structure (OEM strings) as the kernel publishes it in
// /sys/firmware/dmi/entries/11-N/raw: type, length 5, handle, count, then the strings, each
// NUL-terminated, and a closing NUL.
func smbiosOEMRaw(handle byte, strs ...string) string {
	b := []byte{11, 5, handle, 0, byte(len(strs))}
	for _, s := range strs {
		b = append(append(b, s...), 0)
	}
	return string(append(b, 0))
}

// TestInitCredsSMBIOS: the real init over a root with two fake SMBIOS type 11 entries and a
// kernel command line imports the OEM strings' credentials (text and base64) into
// /run/credentials/@system ahead of the command line's (a name set by both keeps the SMBIOS
// value), ignores the firmware's other strings and a malformed one, and a unit gets them all
// with ImportCredential=.
func TestInitCredsSMBIOS(t *testing.T) {
	out := t.TempDir()
	bin := []byte("\x00binary\xff\n")
	e := newGapsEnv(t, map[string]string{
		"creds.service": "[Unit]\nConditionCredential=greeting\n[Service]\nType=oneshot\nRemainAfterExit=yes\n" +
			"ImportCredential=*\nExecStart=/bin/sh -c 'ls $CREDENTIALS_DIRECTORY >" + out + "/names; cp $CREDENTIALS_DIRECTORY/* " + out + "/'\n",
	}, map[string]string{
		"sys/firmware/dmi/entries/11-0/raw": smbiosOEMRaw(0x10,
			"io.systemd.credential:greeting=hello world",
			"Vendor OEM data",
			"io.systemd.credential.binary:blob="+base64.StdEncoding.EncodeToString(bin),
			"io.systemd.credential:both=from-smbios",
			"io.systemd.credential:broken"),
		"sys/firmware/dmi/entries/11-1/raw": smbiosOEMRaw(0x11, "io.systemd.credential:second=two"),
		"proc/cmdline":                      "quiet systemd.set_credential=both:from-cmdline systemd.set_credential=cmd:line\n",
	})
	e.must(0, "start", "creds")
	names, err := os.ReadFile(filepath.Join(out, "names"))
	if err != nil {
		t.Fatalf("the unit did not run: %v; init log:\n%s", err, e.log.String())
	}
	got := strings.Fields(string(names))
	sort.Strings(got)
	if want := []string{"blob", "both", "cmd", "greeting", "second"}; !reflect.DeepEqual(got, want) {
		t.Errorf("credentials %q, want %q", got, want)
	}
	for name, want := range map[string]string{"greeting": "hello world", "blob": string(bin), "both": "from-smbios",
		"second": "two", "cmd": "line"} {
		if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != want {
			t.Errorf("credential %s: %q (%v), want %q", name, b, err, want)
		}
	}
	if st, err := os.Stat(filepath.Join(e.root, "run/credentials/@system/greeting")); err != nil || st.Mode().Perm() != 0o400 {
		t.Errorf("@system/greeting: %v", err)
	}
	log := e.log.String()
	if !strings.Contains(log, "source=smbios count=4") || !strings.Contains(log, `source="kernel command line" count=1`) ||
		!strings.Contains(log, "bad credential in SMBIOS OEM string") {
		t.Errorf("init log lacks the import summary or the warning:\n%s", log)
	}
}

// TestInitCredsSMBIOSConfidentialVM: in a confidential VM (sev_es among the CPU flags of a
// guest) the firmware is not trusted and its OEM strings are not imported, as upstream; the
// command line's credentials still are.
func TestInitCredsSMBIOSConfidentialVM(t *testing.T) {
	out := t.TempDir()
	e := newGapsEnv(t, map[string]string{
		"creds.service": "[Service]\nType=oneshot\nImportCredential=*\nExecStart=/bin/sh -c 'ls $CREDENTIALS_DIRECTORY >" + out + "/names'\n",
	}, map[string]string{
		"sys/firmware/dmi/entries/11-0/raw": smbiosOEMRaw(1, "io.systemd.credential:greeting=hello"),
		"proc/cpuinfo":                      "processor\t: 0\nflags\t\t: fpu hypervisor sev sev_es\n",
		"proc/cmdline":                      "systemd.set_credential=cmd:line\n",
	})
	e.must(0, "start", "creds")
	if b, err := os.ReadFile(filepath.Join(out, "names")); err != nil || strings.TrimSpace(string(b)) != "cmd" {
		t.Errorf("credentials in a confidential VM: %q %v, want only cmd", b, err)
	}
}

// TestInitRestartKeepsChecks: an automatic restart (Restart=) does not evaluate Condition*=
// and Assert*= again, as upstream 254 and later: the restart job runs while the service is
// still "activating" (auto-restart), and unit_start() tests them only from inactive or
// failed. A condition that became false does not stop the automatic restart; a manual
// restart, which starts from inactive, checks again and skips the unit.
func TestInitRestartKeepsChecks(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	// Condition paths are read under the root: /flag is ROOT/flag.
	e := newGapsEnv(t, map[string]string{
		"cond.service": "[Unit]\nConditionPathExists=/flag\nAssertPathExists=/flag\n" +
			"StartLimitIntervalSec=0\n[Service]\nRestart=always\nRestartSec=100ms\n" +
			"ExecStart=/bin/sh -c 'echo run >>" + runs + "; exec sleep 100000'\n",
	}, map[string]string{"flag": ""})
	e.must(0, "start", "cond")
	gapsWaitLines(t, e, runs, 1)
	pid, err := strconv.Atoi(e.prop("cond", "MainPID"))
	if err != nil || pid <= 0 {
		t.Fatalf("MainPID %d %v", pid, err)
	}
	// The condition and the assertion no longer hold; the service dies.
	if err := os.Remove(filepath.Join(e.root, "flag")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gapsWaitLines(t, e, runs, 2)
	e.waitState("cond", "active")
	if got := e.prop("cond", "NRestarts"); got != "1" {
		t.Errorf("NRestarts %s, want 1", got)
	}
	if c, a := e.prop("cond", "ConditionResult"), e.prop("cond", "AssertResult"); c != "yes" || a != "yes" {
		t.Errorf("after the automatic restart ConditionResult=%s AssertResult=%s, want yes yes (not re-checked)", c, a)
	}
	// A manual restart starts from inactive and checks: the unit is skipped.
	e.must(0, "restart", "cond")
	e.waitState("cond", "inactive")
	if c := e.prop("cond", "ConditionResult"); c != "no" {
		t.Errorf("after a manual restart ConditionResult=%s, want no", c)
	}
	if b, _ := os.ReadFile(runs); strings.Count(string(b), "run") != 2 {
		t.Errorf("runs %q, want 2", b)
	}
}

// TestInitUnitMasked: io.systemd.Unit.List by name answers UnitMasked for a masked unit and
// UnitError for one with a bad setting, as upstream; steadctl turns them into systemctl's
// messages in status, show, is-active and start.
func TestInitUnitMasked(t *testing.T) {
	e := newGapsEnv(t, map[string]string{
		"bad.service": "[Service]\nType=simple\n",
		"ok.service":  "[Service]\nType=oneshot\nExecStart=/bin/true\n",
	}, map[string]string{})
	if err := os.Symlink("/dev/null", filepath.Join(e.root, "etc/systemd/system/masked.service")); err != nil {
		t.Fatal(err)
	}
	ctx, vc, closeVC := initDial(t, e.root, "io.systemd.Manager")
	defer closeVC()
	for name, want := range map[string]string{"masked.service": "io.systemd.Unit.UnitMasked",
		"bad.service": "io.systemd.Unit.UnitError", "none.service": "io.systemd.Unit.NoSuchUnit"} {
		err := vc.Call(ctx, "io.systemd.Unit.List", map[string]string{"name": name}, nil)
		if got := varlinkd.ErrorName(err); got != want {
			t.Errorf("List %s: %v, want %s", name, err, want)
		}
	}
	if err := vc.Call(ctx, "io.systemd.Unit.List", map[string]string{"name": "ok.service"}, nil); err != nil {
		t.Errorf("List ok.service: %v", err)
	}

	out, errOut, code := e.steadctl("status", "masked")
	if code != 3 || !strings.Contains(out, "Loaded: masked (Reason: Unit masked.service is masked.)") ||
		!strings.Contains(out, "Active: inactive (dead)") {
		t.Errorf("status masked: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = e.steadctl("status", "bad")
	if code != 3 || !strings.Contains(out, "Loaded: bad-setting (Reason: Unit bad.service has a bad unit file setting.)") {
		t.Errorf("status bad: exit %d\n%s%s", code, out, errOut)
	}
	if got := e.prop("masked", "LoadState"); got != "masked" {
		t.Errorf("show -p LoadState masked: %q", got)
	}
	if out := e.must(3, "is-active", "masked"); strings.TrimSpace(out) != "inactive" {
		t.Errorf("is-active masked: %q", out)
	}
	if _, errOut, code := e.steadctl("start", "masked"); code != 5 ||
		!strings.Contains(errOut, "Failed to start masked.service: Unit masked.service is masked.") {
		t.Errorf("start masked: exit %d, %q", code, errOut)
	}
	if _, errOut, code := e.steadctl("start", "bad"); code != 5 ||
		!strings.Contains(errOut, "Failed to start bad.service: Unit bad.service has a bad unit file setting.") {
		t.Errorf("start bad: exit %d, %q", code, errOut)
	}
}
