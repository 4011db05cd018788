package tpm

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMeasuredOS(t *testing.T) {
	root := t.TempDir()
	write := func(p, data string) {
		t.Helper()
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, want bool) {
		t.Helper()
		if got, why := MeasuredOS(root); got != want {
			t.Errorf("%s: measured %v (%s), want %v", what, got, why, want)
		}
	}
	t.Setenv("SYSTEMD_PROC_CMDLINE", "") // lib/kcmdline reads it before ROOT/proc/cmdline
	os.Unsetenv("SYSTEMD_PROC_CMDLINE")
	t.Setenv("SYSTEMD_FORCE_MEASURE", "1")
	check("forced, no TPM", true)
	t.Setenv("SYSTEMD_FORCE_MEASURE", "0")
	write(MeasuredMarker, "")
	write(KernelTPMClass+"/tpmrm0/dev", "253:65536\n")
	check("forced off", false)
	t.Setenv("SYSTEMD_FORCE_MEASURE", "maybe") // not a boolean: ignored
	check("marker and a TPM", true)
	os.Unsetenv("SYSTEMD_FORCE_MEASURE")
	os.Remove(filepath.Join(root, MeasuredMarker))
	check("a TPM only", false)
	write(StubPCRKernelImageVariable, "\x06\x00\x00\x00\x0b\x00\x00\x00")
	check("stub variable", true)
	write("proc/cmdline", "quiet systemd.tpm2_measured_os=0\n")
	check("systemd.tpm2_measured_os=0", false)
	os.Remove(filepath.Join(root, StubPCRKernelImageVariable))
	write("proc/cmdline", "systemd.tpm2_measured_os=yes\n")
	check("systemd.tpm2_measured_os=yes", true)
	os.RemoveAll(filepath.Join(root, KernelTPMClass))
	check("systemd.tpm2_measured_os=yes without a TPM", false)
}
