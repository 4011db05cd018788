//go:build integration

package integration

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/api/iosystemdmanager"
	"github.com/stead-os/stead/lib/varlinkd"
)

// newGapsEnv is newCtlEnv with extra files under the root (written before init starts) and
// init's environment cleaned of the variables that would change where it reads the kernel
// command line and its own credentials from.
func newGapsEnv(t *testing.T, units, files map[string]string) *ctlEnv {
	t.Helper()
	bin := harness.Binary(t, "cmd/init")
	ctl := harness.Binary(t, "cmd/steadctl")
	root := initRoot(t)
	for name, text := range units {
		initWriteUnit(t, root, name, text)
	}
	for p, content := range files {
		harness.WriteFile(t, filepath.Join(root, p), content, 0o644)
	}
	_, _, log := startHostInitCmd(t, bin, root, func(c *exec.Cmd) {
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CREDENTIALS_DIRECTORY=") && !strings.HasPrefix(kv, "SYSTEMD_PROC_CMDLINE=") {
				c.Env = append(c.Env, kv)
			}
		}
	})
	e := &ctlEnv{t: t, root: root, ctl: ctl, log: log}
	initWaitPath(t, filepath.Join(root, "run/systemd/io.systemd.Manager"), log)
	return e
}

// gapsWaitLines polls p until it holds at least n complete lines and returns them.
func gapsWaitLines(t *testing.T, e *ctlEnv, p string, n int) []string {
	t.Helper()
	var b []byte
	var lines []string
	harness.Eventually(t, fmt.Sprintf("%s to have %d lines", p, n), 20*time.Second, func() bool {
		b, _ = os.ReadFile(p)
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		return len(b) > 0 && b[len(b)-1] == '\n' && len(lines) >= n
	}, func() string { return fmt.Sprintf("has %q", b) }, harness.Output("init log", e.log))
	return lines
}

// TestInitGapsAssertAndCondition: a failed Assert*= fails the start job (steadctl says so and
// exits 1), the unit stays inactive and did not run, AssertResult=no; a failed Condition*=
// lets the start succeed without running anything, ConditionResult=no and status says why;
// a unit whose checks hold runs with both results yes.
func TestInitGapsAssertAndCondition(t *testing.T) {
	out := t.TempDir()
	e := newGapsEnv(t, map[string]string{
		"assert.service": "[Unit]\nAssertPathExists=/missing\n[Service]\nType=oneshot\nExecStart=/bin/touch " + out + "/assert\n",
		"cond.service":   "[Unit]\nConditionPathExists=/missing\n[Service]\nType=oneshot\nExecStart=/bin/touch " + out + "/cond\n",
		"ok.service": "[Unit]\nConditionPathExists=/etc\nAssertPathIsDirectory=/etc/systemd\nAssertPathExists=!/missing\n" +
			"[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/touch " + out + "/ok\n",
	}, nil)

	_, errOut, code := e.steadctl("start", "assert")
	if code != 1 || !strings.Contains(errOut, "Assertion failed on job for assert.service.") {
		t.Errorf("start assert: exit %d, stderr %q", code, errOut)
	}
	if got := e.must(0, "show", "assert", "-p", "ActiveState,ConditionResult,AssertResult"); got != "ActiveState=inactive\nConditionResult=yes\nAssertResult=no\n" {
		t.Errorf("show assert:\n%s", got)
	}
	if ts := e.prop("assert", "AssertTimestamp"); ts == "n/a" {
		t.Error("AssertTimestamp not set after a failed assertion")
	}
	if !strings.Contains(e.log.String(), "assertion failed") || !strings.Contains(e.log.String(), "AssertPathExists=/missing") {
		t.Errorf("init did not log the failed assertion:\n%s", e.log.String())
	}
	st, _, code := e.steadctl("status", "assert")
	if code != 3 || !strings.Contains(st, "Assert: start assertion failed at ") {
		t.Errorf("status assert: exit %d\n%s", code, st)
	}

	e.must(0, "start", "cond")
	if got := e.must(0, "show", "cond", "-p", "ActiveState,ConditionResult,AssertResult"); got != "ActiveState=inactive\nConditionResult=no\nAssertResult=no\n" {
		t.Errorf("show cond:\n%s", got)
	}
	st, _, code = e.steadctl("status", "cond")
	if code != 3 || !strings.Contains(st, "Condition: start condition unmet at ") {
		t.Errorf("status cond: exit %d\n%s", code, st)
	}

	e.must(0, "start", "ok")
	if got := e.must(0, "show", "ok", "-p", "ActiveState,ConditionResult,AssertResult"); got != "ActiveState=active\nConditionResult=yes\nAssertResult=yes\n" {
		t.Errorf("show ok:\n%s", got)
	}
	for name, ran := range map[string]bool{"assert": false, "cond": false, "ok": true} {
		if _, err := os.Stat(filepath.Join(out, name)); (err == nil) != ran {
			t.Errorf("%s.service ran: %v, want %v", name, err == nil, ran)
		}
	}
}

// TestInitGapsInvocationID: the $INVOCATION_ID every process of a service sees is the
// InvocationID steadctl shows, and each start — an automatic restart too — gets a new one.
func TestInitGapsInvocationID(t *testing.T) {
	out := t.TempDir()
	log := filepath.Join(out, "ids")
	pre := filepath.Join(out, "pre")
	e := newGapsEnv(t, map[string]string{
		// The first run fails and is restarted; the second stays up.
		"inv.service": "[Service]\nRestart=on-failure\nRestartSec=50ms\n" +
			"ExecStartPre=/bin/sh -c 'echo $INVOCATION_ID >> " + pre + "'\n" +
			"ExecStart=/bin/sh -c 'echo $INVOCATION_ID >> " + log + "; [ $(wc -l < " + log + ") -ge 2 ] && exec sleep 600; exit 1'\n",
	}, nil)
	e.must(0, "start", "inv")
	ids := gapsWaitLines(t, e, log, 2)
	e.waitState("inv.service", "active")
	shown := e.prop("inv", "InvocationID")
	if len(shown) != 32 || ids[1] != shown {
		t.Errorf("InvocationID %q, the running process saw %q", shown, ids[1])
	}
	if ids[0] == ids[1] {
		t.Errorf("the automatic restart kept invocation ID %s", ids[0])
	}
	if pres := gapsWaitLines(t, e, pre, 2); pres[0] != ids[0] || pres[1] != ids[1] {
		t.Errorf("ExecStartPre= saw %q, ExecStart= %q", pres, ids)
	}
	if n := e.prop("inv", "NRestarts"); n != "1" {
		t.Errorf("NRestarts=%s", n)
	}
	e.must(0, "restart", "inv")
	ids = gapsWaitLines(t, e, log, 3)
	if shown2 := e.prop("inv", "InvocationID"); shown2 != ids[2] || shown2 == shown {
		t.Errorf("after restart: InvocationID %q, process saw %q (before: %q)", shown2, ids[2], shown)
	}
}

// TestInitGapsQueryUnloadedUnit: a unit file nothing refers to is loaded when asked about,
// as systemctl does: status shows it inactive (dead) and exits 3, is-active prints inactive,
// show has its fragment; a missing unit is "could not be found" (exit 4) and is not cached, so
// it loads once its file appears.
func TestInitGapsQueryUnloadedUnit(t *testing.T) {
	e := newGapsEnv(t, map[string]string{
		"idle.service": "[Unit]\nDescription=Idle one\n[Service]\nExecStart=/bin/sleep 600\n",
	}, nil)
	if all := e.must(0, "list-units", "--all"); strings.Contains(all, "idle.service") {
		t.Fatalf("idle.service loaded before anyone asked:\n%s", all)
	}
	out, _, code := e.steadctl("is-active", "idle")
	if code != 3 || out != "inactive\n" {
		t.Errorf("is-active idle: exit %d, %q", code, out)
	}
	out, errOut, code := e.steadctl("status", "idle")
	if code != 3 || !strings.Contains(out, "○ idle.service - Idle one") ||
		!strings.Contains(out, "Loaded: loaded (/etc/systemd/system/idle.service)") || !strings.Contains(out, "Active: inactive (dead)") {
		t.Errorf("status idle: exit %d\n%s%s", code, out, errOut)
	}
	// A pattern without a suffix or glob is a service name, as for systemctl.
	if got := e.must(0, "list-units", "--all", "--no-legend", "idle"); !strings.Contains(got, "idle.service") {
		t.Errorf("list-units --all idle: %q", got)
	}
	if got := e.must(0, "show", "idle", "-p", "LoadState,FragmentPath,CanStart"); got != "LoadState=loaded\nFragmentPath=/etc/systemd/system/idle.service\nCanStart=yes\n" {
		t.Errorf("show idle:\n%s", got)
	}

	out, errOut, code = e.steadctl("status", "later")
	if code != 4 || strings.TrimSpace(errOut) != "Unit later.service could not be found." || out != "" {
		t.Errorf("status of a missing unit: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// As systemctl: the first unit's non-zero status is the exit status.
	if _, errOut, code = e.steadctl("status", "idle", "later"); code != 3 || !strings.Contains(errOut, "later.service could not be found") {
		t.Errorf("status idle later: exit %d (want 3, idle's), stderr %q", code, errOut)
	}
	// As systemctl (LSB "status unknown"): 4 when no unit named exists, else 3.
	if out, _, code = e.steadctl("is-active", "later"); code != 4 || out != "inactive\n" {
		t.Errorf("is-active of a missing unit: exit %d, %q", code, out)
	}
	if out, _, code = e.steadctl("is-failed", "later"); code != 4 || out != "inactive\n" {
		t.Errorf("is-failed of a missing unit: exit %d, %q", code, out)
	}
	if out, _, code = e.steadctl("is-active", "later", "idle"); code != 3 || out != "inactive\ninactive\n" {
		t.Errorf("is-active later idle: exit %d, %q", code, out)
	}
	if got := e.must(0, "show", "later", "-p", "LoadState"); got != "LoadState=not-found\n" {
		t.Errorf("show of a missing unit: %q", got)
	}
	if all := e.must(0, "list-units", "--all"); strings.Contains(all, "later.service") {
		t.Errorf("a missing unit asked about is kept:\n%s", all)
	}
	initWriteUnit(t, e.root, "later.service", "[Service]\nExecStart=/bin/sleep 600\n")
	if out, _, code = e.steadctl("status", "later"); code != 3 || !strings.Contains(out, "Loaded: loaded") {
		t.Errorf("status after the file appeared: exit %d\n%s", code, out)
	}
}

// TestInitGapsDescribeVirtualization: io.systemd.Manager.Describe reports what init detects from
// the DMI strings and CPU flags under the root.
func TestInitGapsDescribeVirtualization(t *testing.T) {
	e := newGapsEnv(t, nil, map[string]string{
		"sys/class/dmi/id/sys_vendor":   "QEMU\n",
		"sys/class/dmi/id/product_name": "Standard PC (Q35 + ICH9, 2009)\n",
		"proc/cpuinfo":                  "processor\t: 0\nflags\t\t: fpu sev sev_es hypervisor\n",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	vc, err := varlinkd.Dial(ctx, "unix:"+filepath.Join(e.root, "run/systemd/io.systemd.Manager"))
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	d, err := iosystemdmanager.NewClient(vc).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Runtime.Virtualization != "qemu" || d.Runtime.ConfidentialVirtualization != "sev-es" {
		t.Errorf("Describe: Virtualization=%q ConfidentialVirtualization=%q, want qemu sev-es",
			d.Runtime.Virtualization, d.Runtime.ConfidentialVirtualization)
	}
}

// TestInitGapsKernelCommandLineCredentials: systemd.set_credential= and
// systemd.set_credential_binary= on the root's /proc/cmdline become system credentials in
// run/credentials/@system that units import; the first assignment of a name wins, and one
// already in the directory is kept.
func TestInitGapsKernelCommandLineCredentials(t *testing.T) {
	out := t.TempDir()
	bin := []byte("bin\x00ary\n")
	cmdline := "console=ttyS0 systemd.set_credential=greeting:hello:world " +
		"systemd.set_credential_binary=blob:" + base64.StdEncoding.EncodeToString(bin) + " " +
		"systemd.set_credential=greeting:second systemd.set_credential=pre:new quiet\n"
	e := newGapsEnv(t, map[string]string{
		"creds.service": "[Unit]\nConditionCredential=greeting\n[Service]\nType=oneshot\nRemainAfterExit=yes\n" +
			"ImportCredential=greeting\nImportCredential=blob\nImportCredential=pre\n" +
			"ExecStart=/bin/sh -c 'cp $CREDENTIALS_DIRECTORY/greeting $CREDENTIALS_DIRECTORY/blob $CREDENTIALS_DIRECTORY/pre " + out + "/'\n",
	}, map[string]string{
		"proc/cmdline":                cmdline,
		"run/credentials/@system/pre": "old",
	})
	e.must(0, "start", "creds")
	for name, want := range map[string]string{"greeting": "hello:world", "blob": string(bin), "pre": "old"} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || string(got) != want {
			t.Errorf("credential %s: %q (%v), want %q", name, got, err, want)
		}
	}
	dir := filepath.Join(e.root, "run/credentials/@system")
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("@system: %v %v", st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Join(dir, "greeting")); err != nil || st.Mode().Perm() != 0o400 {
		t.Errorf("@system/greeting: %v", err)
	}
}
