// Package creds reads the credentials the service manager passed to a service: the files in
// the directory named by $CREDENTIALS_DIRECTORY (set by ImportCredential=, LoadCredential=,
// SetCredential= and friends). The directory is an absolute path chosen by the manager, so it
// is used as given, never under a --root prefix.
package creds

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// EnvDirectory names the variable holding the credentials directory.
const EnvDirectory = "CREDENTIALS_DIRECTORY"

// MaxSize is the largest credential Read accepts, systemd's own limit for one credential.
const MaxSize = 1 << 20

// ErrNoDirectory is returned (wrapping fs.ErrNotExist) when no credentials were passed.
var ErrNoDirectory = fmt.Errorf("$%s not set: %w", EnvDirectory, fs.ErrNotExist)

// Dir returns the credentials directory, or "" when the service got none.
func Dir() string {
	d := os.Getenv(EnvDirectory)
	if d == "" || !filepath.IsAbs(d) {
		return ""
	}
	return d
}

// ValidName reports whether name can be a credential's name: not empty, not "." or "..", no
// '/', at most 255 bytes (a file name).
func ValidName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsRune(name, '/') &&
		!strings.ContainsRune(name, 0) && len(name) <= 255
}

// Read returns the content of credential name. A credential that was not passed gives an
// error wrapping fs.ErrNotExist.
func Read(name string) ([]byte, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("credential %q: invalid name", name)
	}
	d := Dir()
	if d == "" {
		return nil, ErrNoDirectory
	}
	f, err := os.Open(filepath.Join(d, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("credential %s: not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("credential %s: larger than %d bytes", name, MaxSize)
	}
	return b, nil
}

// ReadString is Read for text credentials; ok is false when the credential was not passed,
// and err reports any other failure.
func ReadString(name string) (value string, ok bool, err error) {
	b, err := Read(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return string(b), true, nil
}

// List returns the names of the credentials that were passed, sorted; none without a
// credentials directory.
func List() ([]string, error) {
	d := Dir()
	if d == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(d)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}
