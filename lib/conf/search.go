package conf

import (
	"errors"
	"os"
	"path"
	"sort"
	"strings"
)

// SearchDirs returns the directories configuration is looked up in, most
// important first: local administration (/etc), runtime (/run), local
// software (/usr/local/lib), then the vendor defaults (/usr/lib). A new
// slice is returned each time, so callers may modify it.
func SearchDirs() []string {
	return []string{"/etc", "/run", "/usr/local/lib", "/usr/lib"}
}

// LoadSearch loads the configuration called name (a relative path such as
// "systemd/oomd.conf") from the standard search directories under root
// ("" or "/" for the real root), with its drop-ins; see LoadDirs.
func LoadSearch(root, name string, opts *Options) (*File, error) {
	return LoadDirs(root, SearchDirs(), name, opts)
}

// LoadDirs loads the configuration called name from dirs (in-root
// directories, most important first) under root:
//
//   - the main file is the first dirs[i]/name that exists; it masks the
//     same name in later directories, and when it is a symlink to
//     /dev/null (or empty) no main file is read at all (File.MainMasked);
//   - the drop-ins are the *.conf files of every dirs[i]/name.d, selected
//     and ordered by FindDropins, and applied after the main file.
//
// Nothing existing is not an error: the result is an empty File. Syntax
// problems end up in File.Warnings; the error is for I/O failures, after
// which the caller should keep its previous configuration.
func LoadDirs(root string, dirs []string, name string, opts *Options) (*File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	main, _, err := FindMain(root, dirs, name)
	if err != nil {
		return nil, err
	}
	dd := make([]string, len(dirs))
	for i, d := range dirs {
		dd[i] = path.Join(d, name+".d")
	}
	dropins, err := FindDropins(root, dd)
	if err != nil {
		return nil, err
	}
	return LoadFiles(root, main, dropins, opts)
}

func checkName(name string) error {
	if name == "" || path.IsAbs(name) || path.Clean(name) != name || name == ".." || strings.HasPrefix(name, "../") {
		return errors.New("conf: configuration name " + name + " is not a clean relative path")
	}
	return nil
}

// FindMain returns the in-root path of the first dirs[i]/name that exists
// under root, and whether that file is a mask (a symlink to /dev/null, a
// device, or an empty file). It returns "" when there is none. Directories
// and dangling symlinks do not count as existing.
func FindMain(root string, dirs []string, name string) (p string, isMask bool, err error) {
	root = cleanRoot(root)
	for _, d := range dirs {
		p := path.Join(d, name)
		k, _, err := classify(root, p)
		if err != nil {
			return "", false, ioErr(hostPath(root, p), err)
		}
		switch k {
		case masked:
			return p, true, nil
		case regular:
			return p, false, nil
		}
	}
	return "", false, nil
}

// FindDropins lists the drop-in files of dirs (in-root directories, most
// important first) under root, in the order they apply. Only files named
// *.conf count, hidden ones excepted. A file name found in an earlier
// directory hides the same name in later ones, so /etc can override or,
// with a symlink to /dev/null (or an empty file), disable a drop-in from
// /usr/lib; masks themselves are not returned. The result is sorted by
// file name alone, whatever directory each came from, so a drop-in's name
// decides its place (conventionally a number prefix, "50-foo.conf").
//
// Units reuse this with their own list of drop-in directories.
func FindDropins(root string, dirs []string) ([]string, error) {
	root = cleanRoot(root)
	seen := map[string]bool{}
	var found []string
	for _, d := range dirs {
		r, err := resolve(root, d)
		if err != nil {
			if notFound(err) {
				continue
			}
			return nil, ioErr(hostPath(root, d), err)
		}
		ents, err := os.ReadDir(hostPath(root, r))
		if err != nil {
			if notFound(err) {
				continue
			}
			return nil, ioErr(hostPath(root, d), err)
		}
		for _, e := range ents {
			n := e.Name()
			if !strings.HasSuffix(n, ".conf") || strings.HasPrefix(n, ".") || seen[n] {
				continue
			}
			p := path.Join(d, n)
			k, _, err := classify(root, p)
			if err != nil {
				return nil, ioErr(hostPath(root, p), err)
			}
			switch k {
			case masked:
				seen[n] = true
			case regular:
				seen[n] = true
				found = append(found, p)
			}
		}
	}
	sort.Slice(found, func(i, j int) bool { return path.Base(found[i]) < path.Base(found[j]) })
	return found, nil
}

// LoadFiles reads main (an in-root path, or "" for none) and then each of
// dropins (in-root paths, in order) under root into one File. A main file
// that is a mask sets File.MainMasked and is not read; masked drop-ins are
// skipped; a file that has disappeared is reported as a warning. The
// returned error is for I/O failures only.
func LoadFiles(root, main string, dropins []string, opts *Options) (*File, error) {
	root = cleanRoot(root)
	f := &File{}
	if main != "" {
		isMask, err := f.load(root, main, opts)
		if err != nil {
			return nil, err
		}
		f.MainMasked = isMask
	}
	for _, d := range dropins {
		if _, err := f.load(root, d, opts); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// load parses one in-root file into f. Messages name the file by its path
// under root as opened, not by a symlink's target, because that is the
// name the administrator put there.
func (f *File) load(root, p string, opts *Options) (isMask bool, err error) {
	name := hostPath(root, p)
	k, r, err := classify(root, p)
	if err != nil {
		return false, ioErr(name, err)
	}
	switch k {
	case masked:
		return true, nil
	case missing:
		w := &Error{File: name, Msg: "file disappeared or is not a regular file, ignoring"}
		f.Warnings = append(f.Warnings, w)
		if opts != nil && opts.Warn != nil {
			opts.Warn(w)
		}
		return false, nil
	}
	fd, err := os.Open(hostPath(root, r))
	if err != nil {
		return false, ioErr(name, err)
	}
	defer fd.Close()
	return false, f.parse(fd, name, opts, LongLineMax)
}

// ioErr wraps an I/O failure as an *Error for the file, keeping the cause
// for errors.Is (fs.ErrPermission, …).
func ioErr(name string, err error) error {
	var pe *os.PathError
	msg := err.Error()
	if errors.As(err, &pe) {
		msg = pe.Err.Error() // the path is already in File
	}
	return &Error{File: name, Msg: msg, Err: err}
}
