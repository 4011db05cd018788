package conf

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// devNull is the masking target. Under a fake root it usually does not
// exist, so it is recognised by name before the file system is asked.
const devNull = "/dev/null"

// maxSymlinks bounds symlink resolution, as the kernel does (ELOOP).
const maxSymlinks = 40

// cleanRoot turns the caller's root into a host prefix: "" for the real
// root, else a cleaned path without a trailing slash.
func cleanRoot(root string) string {
	if root == "" {
		return ""
	}
	root = filepath.Clean(root)
	if root == "/" {
		return ""
	}
	return root
}

// hostPath maps a path inside root to the host.
func hostPath(root, p string) string {
	if root == "" {
		return p
	}
	return root + p
}

// resolve follows the symlinks of the in-root absolute path p as if root
// were "/": absolute link targets and ".." stop at root, so nothing
// outside the tree is read. It returns the resolved in-root path, or
// "/dev/null" as soon as a link points there.
func resolve(root, p string) (string, error) {
	if root == "" && path.IsAbs(p) {
		// Under the real root the kernel resolves as we would: one lstat
		// answers for a missing file or one that is no symlink itself (the
		// path it returns then leads to the same file). Only a final
		// symlink, which may point to /dev/null, needs the walk below.
		fi, err := os.Lstat(p)
		if err != nil && notFound(err) {
			return "", err
		}
		if err == nil && fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
	}
	todo := p
	resolved := "/"
	links := 0
	for todo != "" {
		var comp string
		comp, todo, _ = strings.Cut(todo, "/")
		switch comp {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, comp)
		if next == devNull && strings.Trim(todo, "/") == "" {
			return devNull, nil
		}
		fi, err := os.Lstat(hostPath(root, next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		links++
		if links > maxSymlinks {
			return "", &fs.PathError{Op: "resolve", Path: hostPath(root, p), Err: syscall.ELOOP}
		}
		target, err := os.Readlink(hostPath(root, next))
		if err != nil {
			return "", err
		}
		if strings.Trim(todo, "/") == "" {
			// Recognise a mask without walking into /dev, which a fake
			// root usually lacks. Relative ".." cannot climb above root.
			abs := target
			if !path.IsAbs(abs) {
				abs = path.Join(resolved, abs)
			}
			if path.Clean(abs) == devNull {
				return devNull, nil
			}
		}
		if path.IsAbs(target) {
			resolved = "/"
		}
		todo = target + "/" + todo
	}
	return resolved, nil
}

// kind is what a configuration path turned out to be.
type kind int

const (
	missing kind = iota // absent, a dangling link, or not a file
	masked              // /dev/null, another device, or an empty file
	regular             // a file with content
)

// classify resolves p under root and tells whether it is a usable file, a
// mask, or nothing. Other errors (permission denied, loops) are returned.
func classify(root, p string) (kind, string, error) {
	r, err := resolve(root, p)
	if err != nil {
		if notFound(err) {
			return missing, "", nil
		}
		return missing, "", err
	}
	if r == devNull {
		return masked, r, nil
	}
	fi, err := os.Stat(hostPath(root, r))
	if err != nil {
		if notFound(err) {
			return missing, "", nil
		}
		return missing, "", err
	}
	switch {
	case fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		return masked, r, nil
	case fi.Mode().IsRegular() && fi.Size() == 0:
		// An empty file contributes nothing and, like systemd, counts as
		// a mask for same-named files of lower priority.
		return masked, r, nil
	case fi.Mode().IsRegular():
		return regular, r, nil
	}
	return missing, "", nil
}

// notFound covers every way of a path not leading to a file: ENOENT, and
// ENOTDIR when a component is a file.
func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
