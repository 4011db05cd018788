// Package atomicfile writes files through a temporary file in the same directory, so that
// readers see the old content or the new one, never a part. Temporary files are named
// ".NAME.*": directory scanners skip them as hidden files.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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
