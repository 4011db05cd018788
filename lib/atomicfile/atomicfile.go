// Package atomicfile writes files through a temporary file in the same directory, so that
// readers see the old content or the new one, never a part. Temporary files are named
// ".NAME.DIGITS": directory scanners skip them as hidden files, and RemoveStale clears those a
// killed writer left behind.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Write replaces path with data, mode applied before the rename.
func Write(path string, data []byte, mode os.FileMode) error {
	tmp, err := temp(path, data, mode)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// WriteNew creates path with data and mode unless a file of that name exists: an existing
// file is never replaced, even one that appears while data is being written. created
// reports whether path was written.
func WriteNew(path string, data []byte, mode os.FileMode) (created bool, err error) {
	if _, err := os.Lstat(path); err == nil {
		return false, nil
	}
	tmp, err := temp(path, data, mode)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	// A hard link fails if the name appeared meanwhile, where a rename would replace it.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// temp writes data to a new temporary file beside path and returns its name.
func temp(path string, data []byte, mode os.FileMode) (string, error) {
	// os.CreateTemp replaces the "*" with decimal digits, which IsTemp relies on.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// IsTemp reports whether a file name has the form of this package's temporary files:
// ".NAME.DIGITS", NAME not empty.
func IsTemp(name string) bool {
	dot := strings.LastIndexByte(name, '.')
	if !strings.HasPrefix(name, ".") || dot < 2 || dot == len(name)-1 {
		return false
	}
	for _, c := range name[dot+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// RemoveStale deletes the temporary files in dir (not below it) that a writer killed between
// creating and renaming them left behind; nothing else cleans them up. It is meant for a
// daemon's start-up, while it is the only writer in dir: a temporary file of a write in
// progress would be taken from under it. Only regular files are removed. A missing dir has
// nothing stale. It returns how many files it removed and the errors it met.
func RemoveStale(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	n := 0
	var errs []error
	if err != nil {
		errs = append(errs, err) // ReadDir returns what it read before the error
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !IsTemp(e.Name()) {
			continue
		}
		switch err := os.Remove(filepath.Join(dir, e.Name())); {
		case err == nil:
			n++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}
