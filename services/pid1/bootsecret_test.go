package pid1

import (
	"os"
	"path/filepath"
	"testing"
)

func TestProvideBootSecret(t *testing.T) {
	root := t.TempDir()
	if ok, err := ProvideBootSecret(root); ok || err != nil {
		t.Fatalf("no secret: %v %v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(root, BootSecret)); !os.IsNotExist(err) {
		t.Fatalf("no secret, yet %s: %v", BootSecret, err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	if err := os.MkdirAll(filepath.Join(root, ".extra"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, InitrdBootSecret), secret, 0o400); err != nil {
		t.Fatal(err)
	}
	if ok, err := ProvideBootSecret(root); !ok || err != nil {
		t.Fatalf("copy: %v %v", ok, err)
	}
	dst := filepath.Join(root, BootSecret)
	b, err := os.ReadFile(dst)
	fi, _ := os.Stat(dst)
	di, _ := os.Stat(filepath.Dir(dst))
	if err != nil || string(b) != string(secret) || fi.Mode().Perm() != 0o400 || di.Mode().Perm() != 0o700 {
		t.Fatalf("copied: %q %v, modes %v %v", b, err, fi.Mode(), di.Mode())
	}
	// One already there is kept.
	if err := os.WriteFile(filepath.Join(root, InitrdBootSecret), []byte("other"), 0o400); err != nil {
		t.Fatal(err)
	}
	if ok, err := ProvideBootSecret(root); ok || err != nil {
		t.Fatalf("second copy: %v %v", ok, err)
	}
	if b, _ := os.ReadFile(dst); string(b) != string(secret) {
		t.Fatalf("overwritten: %q", b)
	}
}
