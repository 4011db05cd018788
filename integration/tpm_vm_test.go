//go:build integration

package integration

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm"
	"github.com/stead-os/stead/integration/vm/suite"
)

// tpmVMUnits: the state disk mounted before the software TPM (the agent, which loads the
// modules, starts at the same time: the unit loads what it needs itself), and a unit that only runs on a
// measured OS and measures a word into PCR 15. Nothing names the software TPM: init runs the
// real systemd-tpm2-generator, which links it into sysinit.target.wants/ when the fallback is
// on, and default.target wants sysinit.target.
var tpmVMUnits = map[string]string{
	"stead-tpm-state.service": `[Unit]
DefaultDependencies=no
Before=systemd-tpm2-swtpm.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'modprobe virtio_blk; modprobe tpm_vtpm_proxy; for i in $(seq 100); do [ -b /dev/vda ] && [ -c /dev/vtpmx ] && break; sleep 0.1; done; mkdir -p /var/lib/systemd/swtpm && mount -t ext4 /dev/vda /var/lib/systemd/swtpm'
`,
	"systemd-tpm2-swtpm.service.d/state.conf": `[Unit]
Requires=stead-tpm-state.service
After=stead-tpm-state.service
`,
	"measured.service": `[Unit]
ConditionSecurity=measured-os
After=systemd-tpm2-swtpm.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c '/usr/lib/stead/pcrextend --tpm2-device=/dev/tpmrm0 --pcr=15 stead-vm && touch /run/measured-ran'
`,
}

// TestTPMVMSoftwareFallback boots the stead suite with no TPM device, a boot secret in the
// initramfs and systemd.tpm2_software_fallback=1: tpm2-swtpm manufactures a TPM on the
// virtio disk and brings it up through the vtpm proxy, the measured-os unit extends PCR 15.
// After a reboot the same state is used (not manufactured again) and the measurement gives
// the same PCR value from the reset TPM; with the fallback off nothing starts and the
// measured-os unit is skipped.
func TestTPMVMSoftwareFallback(t *testing.T) {
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		harness.Require(t, "mkfs.ext4 not installed", "e2fsprogs")
	}
	disk := filepath.Join(t.TempDir(), "state.img")
	harness.WriteFile(t, disk, string(make([]byte, 32<<20)), 0o644)
	if out, err := exec.Command(mkfs, "-q", "-F", disk).CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v %s", err, out)
	}
	files, err := suite.Files(harness.RepoRoot(), func(pkg string) (string, error) { return harness.Binary(t, pkg), nil })
	if err != nil {
		t.Fatal(err)
	}
	files["/usr/lib/stead/tpm2-swtpm"] = vm.File{Source: harness.Binary(t, "cmd/tpm2-swtpm"), Mode: 0o755}
	files["/usr/lib/stead/pcrextend"] = vm.File{Source: harness.Binary(t, "cmd/pcrextend"), Mode: 0o755}
	files["/usr/lib/systemd/system-generators/systemd-tpm2-generator"] = vm.File{Source: harness.Binary(t, "cmd/tpm2-generator"), Mode: 0o755}
	sw, err := vm.DynamicFiles("/", "/usr/bin/swtpm", "/usr/bin/swtpm_setup", "/usr/bin/swtpm_ioctl")
	if err != nil {
		t.Fatalf("swtpm: %v", err)
	}
	for p, f := range sw {
		files[p] = f
	}
	files["/.extra/boot-secret"] = vm.File{Data: bytes.Repeat([]byte{0x42}, 32), Mode: 0o400}
	for name, content := range tpmVMUnits {
		files["/etc/systemd/system/"+name] = vm.File{Data: []byte(content)}
	}
	files["/usr/lib/systemd/system/sysinit.target"] = vm.File{Data: []byte("[Unit]\nDescription=System Initialization\n")}
	files["/etc/systemd/system/default.target"] = vm.File{Data: []byte(suite.DefaultTarget("sysinit.target", "measured.service"))}
	const generated = "/run/systemd/generator/sysinit.target.wants/systemd-tpm2-swtpm.service"

	boot := func(t *testing.T, fallback bool) *vm.VM {
		cmdline := "systemd.tpm2_measured_os=1"
		if fallback {
			cmdline += " systemd.tpm2_software_fallback=1"
		}
		m := vm.Boot(t, vm.Options{
			Init: harness.Binary(t, "cmd/init"), Agent: vm.AgentByInit, Files: files,
			Modules: []string{"tpm_vtpm_proxy", "ext4"}, Disk: disk, KernelCmdline: cmdline,
		})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := m.WaitConsole(ctx, `msg="reached default.target"`); err != nil {
			t.Fatal(err)
		}
		if r, _ := m.Run(ctx, "test", "-L", generated); (r.ExitCode == 0) != fallback {
			t.Errorf("init's generator run: %s exists %v, want %v", generated, r.ExitCode == 0, fallback)
		}
		if !fallback { // with the software TPM up the generator sees a TPM and declines
			m.MustRun(t, "/usr/lib/systemd/system-generators/systemd-tpm2-generator", "/tmp/gen")
			if r, _ := m.Run(ctx, "test", "-e", "/tmp/gen/sysinit.target.wants/systemd-tpm2-swtpm.service"); r.ExitCode == 0 {
				t.Error("the generator pulled the software TPM in with the fallback off")
			}
		}
		return m
	}
	pcr15 := func(t *testing.T, m *vm.VM) string {
		return m.MustRun(t, "cat", "/sys/class/tpm/tpm0/pcr-sha256/15")
	}

	var first string
	t.Run("FirstBoot", func(t *testing.T) {
		m := boot(t, true)
		m.MustRun(t, "test", "-c", "/dev/tpmrm0")
		m.MustRun(t, "test", "-e", "/run/measured-ran")
		m.MustRun(t, "test", "-e", "/var/lib/systemd/swtpm/.manufactured")
		first = pcr15(t, m)
		if strings.Trim(first, "0") == "" {
			t.Errorf("PCR 15 not extended: %q", first)
		}
		if err := m.Poweroff(); err != nil {
			t.Error(err)
		}
	})
	t.Run("Reboot", func(t *testing.T) {
		m := boot(t, true)
		m.MustRun(t, "test", "-e", "/run/measured-ran")
		if strings.Contains(m.Console(), "manufacturing one") {
			t.Error("manufactured again after the reboot")
		}
		if got := pcr15(t, m); got != first {
			t.Errorf("PCR 15 after the reboot %s, first boot %s", got, first)
		}
		if err := m.Poweroff(); err != nil {
			t.Error(err)
		}
	})
	t.Run("FallbackOff", func(t *testing.T) {
		m := boot(t, false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, p := range []string{"/dev/tpmrm0", "/run/measured-ran", "/run/systemd/swtpm/socket"} {
			if r, _ := m.Run(ctx, "test", "-e", p); r.ExitCode == 0 {
				t.Errorf("%s exists with the fallback off", p)
			}
		}
	})
}
