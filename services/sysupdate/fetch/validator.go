package fetch

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// validatorXattr holds "VALIDATOR\nURL" on the partial file; sidecarSuffix names the file
// used instead where the file system refuses user xattrs.
const (
	validatorXattr = "user.stead.validator"
	sidecarSuffix  = ".validator"
	maxValidator   = 64 << 10
)

func xattrUnsupported(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPERM)
}

func readValidator(f *os.File, partialPath string) (validator, url string, ok bool) {
	var data []byte
	if n, err := unix.Fgetxattr(int(f.Fd()), validatorXattr, nil); err == nil && n > 0 && n <= maxValidator {
		buf := make([]byte, n)
		if n, err = unix.Fgetxattr(int(f.Fd()), validatorXattr, buf); err == nil {
			data = buf[:n]
		}
	}
	if data == nil {
		b, err := os.ReadFile(partialPath + sidecarSuffix)
		if err != nil || len(b) > maxValidator {
			return "", "", false
		}
		data = b
	}
	validator, url, ok = strings.Cut(string(data), "\n")
	return validator, url, ok && validator != ""
}

func writeValidator(f *os.File, partialPath, validator, url string) error {
	data := []byte(validator + "\n" + url)
	if len(data) > maxValidator {
		return nil // too long to keep: this download simply cannot be resumed
	}
	// Any xattr failure (unsupported, or a value too large for the file system) falls back
	// to the sidecar file.
	if err := unix.Fsetxattr(int(f.Fd()), validatorXattr, data, 0); err == nil {
		os.Remove(partialPath + sidecarSuffix)
		return f.Sync()
	}
	tmp := partialPath + sidecarSuffix + ".tmp"
	s, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	_, werr := s.Write(data)
	serr := s.Sync()
	cerr := s.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("fetch: %w", err)
	}
	if err := os.Rename(tmp, partialPath+sidecarSuffix); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	return nil
}

func clearValidator(f *os.File, partialPath string) error {
	if err := unix.Fremovexattr(int(f.Fd()), validatorXattr); err != nil && !errors.Is(err, unix.ENODATA) && !xattrUnsupported(err) {
		return fmt.Errorf("fetch: clearing the validator of %s: %w", partialPath, err)
	}
	if err := os.Remove(partialPath + sidecarSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fetch: %w", err)
	}
	return nil
}

// Finish forgets the resume state of a completed, verified partialPath (its validator xattr
// or sidecar file); call it before renaming the file into place.
func Finish(partialPath string) error {
	f, err := os.Open(partialPath)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	defer f.Close()
	return clearValidator(f, partialPath)
}

// Discard removes a partial download and its resume state, e.g. after a hash mismatch.
func Discard(partialPath string) error {
	err := os.Remove(partialPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fetch: %w", err)
	}
	for _, p := range []string{partialPath + sidecarSuffix, partialPath + sidecarSuffix + ".tmp"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("fetch: %w", err)
		}
	}
	return nil
}
