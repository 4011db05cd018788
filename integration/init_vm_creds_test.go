//go:build integration

package integration

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm"
	"github.com/stead-os/stead/integration/vm/suite"
)

// initVMCredsUnit copies the credentials it imports to /run/creds-out, where the test reads
// them through the agent.
const initVMCredsUnit = `[Unit]
Description=A unit that imports system credentials
ConditionCredential=greeting
[Service]
Type=oneshot
RemainAfterExit=yes
ImportCredential=greeting
ImportCredential=blob
ImportCredential=cmd
ExecStart=/bin/sh -c 'mkdir -p /run/creds-out && cp "$CREDENTIALS_DIRECTORY"/* /run/creds-out/'
`

// TestInitVMCreds boots stead's init as PID 1 with SMBIOS OEM strings (qemu -smbios
// type=11,value=io.systemd.credential:…, text and binary) and system credentials on the
// kernel command line: init imports both into /run/credentials/@system, the SMBIOS value
// winning for a name both set, and a unit with ImportCredential= reads them from
// $CREDENTIALS_DIRECTORY.
func TestInitVMCreds(t *testing.T) {
	files, err := suite.Files(harness.RepoRoot(), func(pkg string) (string, error) { return harness.Binary(t, pkg), nil })
	if err != nil {
		t.Fatal(err)
	}
	files["/etc/systemd/system/creds.service"] = vm.File{Data: []byte(initVMCredsUnit)}
	files["/etc/systemd/system/default.target"] = vm.File{Data: []byte(suite.DefaultTarget("creds.service"))}
	blob := "bin\x00ary,\xff"
	m := vm.Boot(t, vm.Options{
		Init:  harness.Binary(t, "cmd/init"),
		Agent: vm.AgentByInit,
		Files: files,
		SMBIOS: []string{vm.SMBIOS(11, "value=io.systemd.credential:greeting=hello",
			"value=OEM string of the vendor",
			"value=io.systemd.credential.binary:blob="+base64.StdEncoding.EncodeToString([]byte(blob)))},
		KernelCmdline: "systemd.set_credential=greeting:from-cmdline systemd.set_credential=cmd:line",
	})

	if got := m.MustRun(t, "sh", "-c", "ls /sys/firmware/dmi/entries | grep '^11-'"); got != "11-0\n" && got != "11-0" {
		t.Errorf("type 11 entries in the guest: %q", got)
	}
	if r := initVMWaitState(t, m, "creds.service", "active", 30*time.Second); r.Runtime.ActiveState != "active" {
		t.Fatalf("creds.service: %+v; console:\n%s", r.Runtime, m.Console())
	}
	for name, want := range map[string]string{"greeting": "hello", "blob": blob, "cmd": "line"} {
		if got := m.MustRun(t, "cat", "/run/creds-out/"+name); got != want {
			t.Errorf("$CREDENTIALS_DIRECTORY/%s: %q, want %q", name, got, want)
		}
		if got := m.MustRun(t, "cat", "/run/credentials/@system/"+name); got != want {
			t.Errorf("/run/credentials/@system/%s: %q, want %q", name, got, want)
		}
	}
	if got := m.MustRun(t, "stat", "-c", "%a", "/run/credentials/@system", "/run/credentials/@system/greeting"); got != "700\n400\n" && got != "700\n400" {
		t.Errorf("modes of @system and a credential: %q", got)
	}
	m.Stop()
}
