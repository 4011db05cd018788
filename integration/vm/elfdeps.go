package vm

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// libDirs are searched for a DT_NEEDED library after the object's own RUNPATH, in the
// order glibc's loader uses on Debian without an ld.so.cache. The /usr ones come first so
// that the guest (whose /lib is a real directory, not merged-usr) gets them where the
// loader looks.
var libDirs = []string{"/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib"}

// DynamicFiles returns guest files for dynamically linked programs taken from another root
// file system (e.g. the upstream systemd chroot): each program at its own path, every
// shared library it needs (DT_NEEDED, transitively, found through DT_RUNPATH/DT_RPATH and
// the default directories) at the path the loader will look in, and the dynamic loader at
// the program's PT_INTERP path. It reads the ELF headers itself, so it needs no chroot and
// runs nothing from root. Libraries loaded with dlopen() are not found: list them in progs.
func DynamicFiles(root string, progs ...string) (map[string]File, error) {
	files := map[string]File{}
	// A library without a run path of its own finds a dependency the loader already loaded
	// through another object's run path (libsystemd-core needs libsystemd-shared, which
	// only the program's RUNPATH names): those directories are searched last.
	var seen []string
	queue := append([]string{}, progs...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if _, ok := files[p]; ok {
			continue
		}
		host, err := resolveIn(root, p)
		if err != nil {
			return nil, err
		}
		files[p] = File{Source: host}
		needed, interp, search, err := elfDeps(host, path.Dir(p))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if interp != "" {
			queue = append(queue, interp)
		}
		seen = append(seen, search...)
		for _, lib := range needed {
			g, err := findLib(root, lib, append(append(search, libDirs...), seen...))
			if err != nil {
				return nil, fmt.Errorf("%s (needed by %s): %w", lib, p, err)
			}
			queue = append(queue, g)
		}
	}
	return files, nil
}

// elfDeps reads an ELF file's needed libraries, its interpreter and its run path (with
// $ORIGIN expanded to dir, the object's directory as the guest sees it).
func elfDeps(host, dir string) (needed []string, interp string, search []string, err error) {
	f, err := elf.Open(host)
	if err != nil {
		return nil, "", nil, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return nil, "", nil, err
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if needed, err = f.DynString(elf.DT_NEEDED); err != nil {
		return nil, "", nil, err
	}
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		l, err := f.DynString(tag)
		if err != nil {
			return nil, "", nil, err
		}
		for _, s := range l {
			for _, d := range strings.Split(s, ":") {
				d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", dir), "$ORIGIN", dir)
				if d != "" {
					search = append(search, path.Clean(d))
				}
			}
		}
	}
	return needed, interp, search, nil
}

// findLib returns the guest path of the first dirs/name that exists under root.
func findLib(root, name string, dirs []string) (string, error) {
	for _, d := range dirs {
		g := path.Join(d, name)
		if _, err := resolveIn(root, g); err == nil {
			return g, nil
		}
	}
	return "", fmt.Errorf("not found under %s in %s", root, strings.Join(dirs, ":"))
}

// resolveIn returns the host path of the regular file p inside root, following symlinks
// (absolute ones relative to root) as the guest would.
func resolveIn(root, p string) (string, error) {
	rest := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur := "/"
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		next := path.Join(cur, c)
		st, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if st.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many symlinks", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(cur, target)
		}
		rest = append(strings.Split(strings.Trim(path.Clean(target), "/"), "/"), rest...)
		cur = "/"
	}
	host := filepath.Join(root, cur)
	st, err := os.Stat(host)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", errors.New(p + ": not a regular file")
	}
	return host, nil
}
