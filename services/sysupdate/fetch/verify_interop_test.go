package fetch

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
)

// TestVerifyDetachedGnuPG checks signatures made by GnuPG, which is what signs the
// SHA256SUMS of real update servers (upstream's tooling uses gpg), for an Ed25519 and an
// RSA key, armored and binary, against keyrings exported by gpg.
func TestVerifyDetachedGnuPG(t *testing.T) {
	gpg := harness.NeedCommand(t, "gpg", "gpg")
	home, err := os.MkdirTemp("/tmp", "gpg-") // short: the agent's socket path must fit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
		os.RemoveAll(home)
	})
	run := func(stdin []byte, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(gpg, append([]string{"--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}
	data := []byte(strings64 + "  usr_7.raw.xz\n")
	dataPath := filepath.Join(home, "SHA256SUMS")
	if err := os.WriteFile(dataPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, algo := range []string{"ed25519", "rsa2048"} {
		uid := algo + " <" + algo + "@example.invalid>"
		run(nil, "--quick-gen-key", uid, algo, "sign", "never")
		ring := run(nil, "--export", uid)
		armoredRing := run(nil, "--armor", "--export", uid)
		sig := run(nil, "--local-user", uid, "--detach-sign", "--output", "-", dataPath)
		armoredSig := run(nil, "--local-user", uid, "--armor", "--detach-sign", "--output", "-", dataPath)
		for _, r := range [][]byte{ring, armoredRing} {
			for _, s := range [][]byte{sig, armoredSig} {
				if err := VerifyDetached(bytes.NewReader(r), data, s); err != nil {
					t.Errorf("%s: gpg's signature refused: %v", algo, err)
				}
				if err := VerifyDetached(bytes.NewReader(r), append(bytes.Clone(data), '\n'), s); !errors.Is(err, ErrBadSignature) {
					t.Errorf("%s: changed data: %v", algo, err)
				}
			}
		}
	}
}

// TestVerifyDetachedUpstreamKeyring loads the import keyring that upstream systemd ships
// (/usr/lib/systemd/import-pubring.pgp, RSA keys): it parses, and a signature by a key not
// in it is ErrUnknownKey, not a keyring error.
func TestVerifyDetachedUpstreamKeyring(t *testing.T) {
	up := harness.NeedUpstream(t)
	ring, err := os.ReadFile(filepath.Join(up.Dir, "usr/lib/systemd/import-pubring.pgp"))
	if err != nil {
		t.Fatal(err)
	}
	k := testKey(t, "stranger", time.Now().Add(-time.Hour), 0)
	data := []byte("x")
	if err := VerifyDetached(bytes.NewReader(ring), data, sign(t, k, data, false, time.Now())); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("upstream keyring: %v", err)
	}
}
