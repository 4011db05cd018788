// Package tpm2swtpm is stead's systemd-tpm2-swtpm: a software TPM (swtpm) as the fallback
// when a machine has no TPM of its own. It derives the key of the TPM's state from the boot
// secret, manufactures the TPM once (swtpm_setup, then a marker), and runs
// `swtpm chardev --vtpm-proxy`, so that the kernel drives it as /dev/tpm0 and /dev/tpmrm0.
// The generator half (generator.go) decides whether the service is wanted. See
// docs/tpm2-swtpm.md.
package tpm2swtpm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Exit codes.
const (
	ExitSuccess = 0
	ExitFailure = 1
)

// Paths.
const (
	// BootSecret is where the boot secret is on the running system; init copies it there from
	// the initramfs's InitrdBootSecret (upstream's systemd-stub passes it the same way).
	BootSecret       = "/run/systemd/stub/boot-secret"
	InitrdBootSecret = "/.extra/boot-secret"
	// DefaultStateDir holds the TPM's state. Upstream keeps it on the EFI system partition
	// (/loader/swtpm); stead ships no boot loader and keeps it on persistent storage.
	DefaultStateDir = "/var/lib/systemd/swtpm"
	// DefaultRuntimeDir is the unit's RuntimeDirectory= (swtpm's control socket, the key file
	// while swtpm reads it) when $RUNTIME_DIRECTORY is not set.
	DefaultRuntimeDir = "/run/systemd/swtpm"
	// ManufacturedMarker, in the state directory, says the TPM there was manufactured
	// completely; without it the directory's contents are an interrupted attempt.
	ManufacturedMarker = ".manufactured"
	// volatileState is the TPM's RAM as `swtpm_ioctl -v` saved it at the last stop.
	volatileState = "tpm2-00.volatilestate"
)

// keyLabel is the message of the HMAC that turns the boot secret into the state key, as
// upstream's.
const keyLabel = "systemd swtpm tag v1"

// KeySize is the state key's size: AES-128, swtpm's aes-cbc.
const KeySize = 16

// MinSecretSize is the shortest boot secret accepted (systemd-stub's is a SHA-256, 32 bytes).
const MinSecretSize = 32

// DeriveKey turns a boot secret into the key of the TPM's state: the first KeySize bytes of
// HMAC-SHA256 keyed by the secret over "systemd swtpm tag v1".
func DeriveKey(secret []byte) ([]byte, error) {
	if len(secret) < MinSecretSize {
		return nil, fmt.Errorf("boot secret of %d bytes is too short (at least %d), refusing", len(secret), MinSecretSize)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(keyLabel))
	return m.Sum(nil)[:KeySize], nil
}

// KeyHex is the key as swtpm's --key=…,format=hex reads it.
func KeyHex(key []byte) string { return hex.EncodeToString(key) }

// LoadKey reads the boot secret under root and derives the state key.
func LoadKey(root string) ([]byte, error) {
	secret, err := os.ReadFile(filepath.Join(root, BootSecret))
	if err != nil {
		return nil, fmt.Errorf("boot secret: %w", err)
	}
	defer clear(secret)
	return DeriveKey(secret)
}

// Manufactured reports whether the state directory holds a completely manufactured TPM.
func Manufactured(stateDir string) (bool, error) {
	_, err := os.Stat(filepath.Join(stateDir, ManufacturedMarker))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// clearDir removes everything in dir (an interrupted manufacture).
func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// syncDir flushes a directory's entries to disk.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// keyMismatch reports whether swtpm's messages say its state did not decrypt: the key is not
// the one the state was written with.
func keyMismatch(messages string) bool {
	return strings.Contains(messages, "Verification of HMAC failed") ||
		strings.Contains(messages, "GetDecryptedData") ||
		strings.Contains(messages, "Could not initialize libtpms")
}
