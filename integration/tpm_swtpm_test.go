//go:build integration

package integration

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/tpm"
	"github.com/stead-os/stead/services/tpm2swtpm"
)

// hashDir hashes the TPM's state in dir (names and contents).
func hashDir(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(e.Name() + "\x00"))
		h.Write(b)
	}
	return string(h.Sum(nil))
}

// TestTPMSwtpmHost runs tpm2-swtpm with the real swtpm and swtpm_setup on the host. The
// vtpm proxy (/dev/vtpmx) is not there, so the TPM is served on a unix socket
// (--test-server, `swtpm socket`): manufacture once under the boot secret's key, READY=1 once
// the TPM answers, a measurement, stop through swtpm_ioctl; a second start uses the state
// without manufacturing; a wrong boot secret fails and leaves the state as it was.
func TestTPMSwtpmHost(t *testing.T) {
	for _, p := range []string{"swtpm", "swtpm_setup", "swtpm_ioctl"} {
		if _, err := exec.LookPath(p); err != nil {
			harness.Require(t, p+" not installed", "swtpm", "swtpm-tools")
		}
	}
	bin := harness.Binary(t, "cmd/tpm2-swtpm")
	root := t.TempDir()
	secret := bytes.Repeat([]byte{0x5a}, 32)
	harness.WriteFile(t, filepath.Join(root, tpm2swtpm.BootSecret), string(secret), 0o400)
	sock := filepath.Join(root, "run/tpm.sock")
	state := filepath.Join(root, "var/lib/systemd/swtpm")
	start := func() *harness.Daemon {
		cmd := exec.Command(bin, "--root="+root, "--test-server=/run/tpm.sock")
		cmd.Env = append(os.Environ(), "RUNTIME_DIRECTORY=")
		return harness.StartDaemon(t, cmd, harness.WaitReadyWithin(2*time.Minute))
	}

	d := start()
	if !strings.Contains(d.Out.String(), "manufacturing") {
		t.Errorf("first start did not manufacture:\n%s", d.Out)
	}
	if ok, _ := tpm2swtpm.Manufactured(state); !ok {
		t.Fatal("no manufacture marker")
	}
	if _, err := os.Stat(filepath.Join(root, "run/systemd/swtpm/secret")); !os.IsNotExist(err) {
		t.Errorf("the key file stayed: %v", err)
	}
	before := pcrValues(t, sock, 11)
	tp, err := tpm.Open(sock)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := tpm.Measure([]byte("hello"), nil, []tpm.Bank{tpm.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Extend(11, ms); err != nil {
		t.Fatal(err)
	}
	tp.Close()
	if bytes.Equal(pcrValues(t, sock, 11)[tpm.SHA256], before[tpm.SHA256]) {
		t.Fatal("PCR 11 unchanged")
	}
	d.StopWith(syscall.SIGTERM)
	<-d.Done()
	if err := d.Err(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.Out)
	}
	if d.NotifyCount("STOPPING=1") != 1 {
		t.Errorf("no STOPPING=1")
	}

	// The same secret again: the state is used, not remade; the PCRs start from reset.
	d = start()
	if strings.Contains(d.Out.String(), "manufacturing") {
		t.Errorf("manufactured again:\n%s", d.Out)
	}
	if v := pcrValues(t, sock, 11)[tpm.SHA256]; !bytes.Equal(v, make([]byte, 32)) {
		t.Errorf("PCR 11 after a restart: %x", v)
	}
	d.StopWith(syscall.SIGTERM)
	<-d.Done()
	sum := hashDir(t, state)

	// A wrong secret: exit 1, loudly, the state untouched.
	harness.WriteFile(t, filepath.Join(root, tpm2swtpm.BootSecret), string(bytes.Repeat([]byte{0xa5}, 32)), 0o400)
	cmd := exec.Command(bin, "--root="+root, "--test-server=/run/tpm.sock")
	cmd.Env = append(os.Environ(), "RUNTIME_DIRECTORY=")
	_, errOut, code := harness.Run(t, cmd)
	if code != 1 || !strings.Contains(errOut, "does not decrypt") {
		t.Errorf("wrong secret: exit %d\n%s", code, errOut)
	}
	if hashDir(t, state) != sum {
		t.Error("the wrong secret changed the state")
	}
}
