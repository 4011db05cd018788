package tpm2swtpm

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, p, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// The vectors are HMAC-SHA256(secret, "systemd swtpm tag v1")[:16], computed apart from this
// code (Python's hmac module).
func TestDeriveKey(t *testing.T) {
	seq := make([]byte, 32)
	for i := range seq {
		seq[i] = byte(i)
	}
	for _, c := range []struct {
		secret []byte
		want   string
	}{
		{seq, "8c9604264516523fa54ae5fac043e9d6"},
		{bytes.Repeat([]byte{0xaa}, 32), "8d9ee8e979b25e51d955e649f370fb11"},
	} {
		k, err := DeriveKey(c.secret)
		if err != nil || KeyHex(k) != c.want {
			t.Errorf("DeriveKey(%x) = %s, %v; want %s", c.secret, KeyHex(k), err, c.want)
		}
	}
	if _, err := DeriveKey(seq[:31]); err == nil {
		t.Error("a 31-byte secret was accepted")
	}
	root := t.TempDir()
	if _, err := LoadKey(root); err == nil {
		t.Error("LoadKey without a secret")
	}
	write(t, filepath.Join(root, BootSecret), string(seq), 0o400)
	if k, err := LoadKey(root); err != nil || KeyHex(k) != "8c9604264516523fa54ae5fac043e9d6" {
		t.Errorf("LoadKey: %x %v", k, err)
	}
}

func TestWantedAndGenerate(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "usr/bin")
	t.Setenv("PATH", "/usr/bin")
	os.Unsetenv("SYSTEMD_PROC_CMDLINE")
	check := func(what string, want bool) {
		t.Helper()
		dir := t.TempDir()
		done, why, err := Generate(root, dir)
		if err != nil || done != want {
			t.Fatalf("%s: generated %v (%s, %v), want %v", what, done, why, err, want)
		}
		target, err := os.Readlink(filepath.Join(dir, "sysinit.target.wants", Unit))
		if want != (err == nil) || (want && target != UnitPath) {
			t.Fatalf("%s: link %q %v", what, target, err)
		}
	}
	write(t, filepath.Join(root, "proc/cmdline"), "quiet\n", 0o644)
	write(t, filepath.Join(root, BootSecret), strings.Repeat("x", 32), 0o400)
	write(t, filepath.Join(bin, "swtpm"), "#!/bin/sh\n", 0o755)
	check("no switch", false)
	write(t, filepath.Join(root, "proc/cmdline"), "quiet systemd.tpm2_software_fallback=0\n", 0o644)
	check("switch off", false)
	write(t, filepath.Join(root, "proc/cmdline"), "quiet systemd.tpm2_software_fallback\n", 0o644)
	check("everything there", true)
	write(t, filepath.Join(root, "sys/class/tpmrm/tpmrm0/dev"), "253:65536\n", 0o644)
	check("a kernel TPM", false)
	os.RemoveAll(filepath.Join(root, "sys/class/tpmrm"))
	write(t, filepath.Join(root, firmwareTPM), "TPM2", 0o444)
	check("a firmware TPM", false)
	os.Remove(filepath.Join(root, firmwareTPM))
	os.Remove(filepath.Join(root, BootSecret))
	check("no boot secret", false)
	write(t, filepath.Join(root, BootSecret), strings.Repeat("x", 32), 0o400)
	os.Chmod(filepath.Join(bin, "swtpm"), 0o644)
	check("swtpm not executable", false)
	os.Chmod(filepath.Join(bin, "swtpm"), 0o755)
	check("back", true)
}

// fakeSwtpm puts swtpm, swtpm_setup and swtpm_ioctl scripts first in $PATH. swtpm_setup
// records its arguments and writes a state file; swtpm prints what scenario says.
func fakeSwtpm(t *testing.T, swtpm string) (calls string) {
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	write(t, filepath.Join(dir, "swtpm_setup"), `#!/bin/sh
echo "swtpm_setup $*" >> `+calls+`
while [ $# -gt 0 ]; do [ "$1" = --tpm-state ] && echo state > "$2/tpm2-00.permall"; shift; done
`, 0o755)
	write(t, filepath.Join(dir, "swtpm"), "#!/bin/sh\necho \"swtpm $*\" >> "+calls+"\n"+swtpm, 0o755)
	write(t, filepath.Join(dir, "swtpm_ioctl"), "#!/bin/sh\necho \"swtpm_ioctl $*\" >> "+calls+"\n", 0o755)
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return calls
}

func TestManufactureOnce(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, BootSecret), strings.Repeat("s", 32), 0o400)
	// swtpm exits at once: the service fails, after manufacturing.
	calls := fakeSwtpm(t, "exit 3\n")
	t.Setenv("RUNTIME_DIRECTORY", "")
	o := Options{Root: root, RuntimeDir: "/run/systemd/swtpm", Log: slog.New(slog.DiscardHandler), ReadyTimeout: time.Second}
	state := filepath.Join(root, DefaultStateDir)
	write(t, filepath.Join(state, "leftover"), "x", 0o600) // an interrupted manufacture
	write(t, filepath.Join(root, DefaultStateDir+"/"+volatileState), "", 0o600)
	if code := Main(context.Background(), o); code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	b, _ := os.ReadFile(calls)
	if !strings.Contains(string(b), "swtpm_setup --tpm2 --tpm-state "+state+" --keyfile") ||
		!strings.Contains(string(b), "swtpm chardev --vtpm-proxy --tpm2 --flags=startup-clear --ctrl=type=unixio,path="+filepath.Join(root, "run/systemd/swtpm/socket")+
			" --key=file="+filepath.Join(root, "run/systemd/swtpm/secret")+",format=hex,mode=aes-cbc,remove=true --tpmstate=dir="+state+",mode=0600") {
		t.Fatalf("calls:\n%s", b)
	}
	if ok, _ := Manufactured(state); !ok {
		t.Fatal("no marker after manufacturing")
	}
	if _, err := os.Stat(filepath.Join(state, "leftover")); !os.IsNotExist(err) {
		t.Error("the interrupted attempt's file was kept")
	}
	// Once manufactured, never again; the state is left alone.
	os.Remove(calls)
	write(t, filepath.Join(state, "tpm2-00.permall"), "precious", 0o600)
	if code := Main(context.Background(), o); code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	b, _ = os.ReadFile(calls)
	if strings.Contains(string(b), "swtpm_setup") {
		t.Errorf("manufactured again:\n%s", b)
	}
	if p, _ := os.ReadFile(filepath.Join(state, "tpm2-00.permall")); string(p) != "precious" {
		t.Errorf("state changed: %q", p)
	}
}

func TestKeyMismatchReported(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, BootSecret), strings.Repeat("s", 32), 0o400)
	state := filepath.Join(root, DefaultStateDir)
	write(t, filepath.Join(state, ManufacturedMarker), "", 0o600)
	write(t, filepath.Join(state, "tpm2-00.permall"), "precious", 0o600)
	write(t, filepath.Join(state, volatileState), "ram", 0o600)
	fakeSwtpm(t, "echo 'swtpm: Verification of HMAC failed. Data integrity is compromised' >&2\necho 'swtpm: Error: Could not initialize libtpms.' >&2\nexit 1\n")
	var logs bytes.Buffer
	o := Options{Root: root, RuntimeDir: "/rt", Log: slog.New(slog.NewTextHandler(&logs, nil)), ReadyTimeout: 5 * time.Second}
	if code := Main(context.Background(), o); code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(logs.String(), "does not decrypt with the key derived from the boot secret") {
		t.Errorf("logs:\n%s", logs.String())
	}
	if p, _ := os.ReadFile(filepath.Join(state, volatileState)); string(p) != "ram" {
		t.Errorf("volatile state changed: %q", p)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 3 {
		t.Errorf("state directory holds %d entries, want the 3 it had", len(ents))
	}
	if p, _ := os.ReadFile(filepath.Join(state, "tpm2-00.permall")); string(p) != "precious" {
		t.Errorf("state changed: %q", p)
	}
}
