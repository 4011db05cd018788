package pid1

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Boot secret paths: the initramfs's, and where the running system's programs
// (tpm2-swtpm) read it, as upstream's systemd-stub and initrd pass it on.
const (
	InitrdBootSecret = "/.extra/boot-secret"
	BootSecret       = "/run/systemd/stub/boot-secret"
)

// ProvideBootSecret copies the initramfs's boot secret, when there is one, to
// BootSecret (mode 0400, directory 0700), under root. stead ships no EFI
// stub: an image that wants the software TPM fallback puts the secret into
// its initramfs. A BootSecret already there is kept. It reports whether it
// copied.
func ProvideBootSecret(root string) (bool, error) {
	data, err := os.ReadFile(filepath.Join(root, InitrdBootSecret))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("boot secret: %w", err)
	}
	defer clear(data)
	dst := filepath.Join(root, BootSecret)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return false, fmt.Errorf("boot secret: %w", err)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("boot secret: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return false, fmt.Errorf("boot secret: %w", err)
	}
	return true, nil
}
