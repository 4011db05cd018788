package conf

import (
	"os"
	"path"
)

// DirCache remembers which names the directories of a search path hold, for
// a batch of lookups made at one moment (the service manager loading a unit
// and everything it pulls in): a name its directory does not list is
// answered as missing without asking the file system again, so each
// directory is read once instead of every absent file, drop-in directory or
// .wants directory costing a path walk. Names that are listed are looked up
// as without a cache. A DirCache does not notice later changes: drop it
// after the batch. The nil *DirCache caches nothing.
type DirCache struct {
	root    string
	started bool
	dirs    map[string]map[string]bool // in-root directory → its entries; nil: no such directory
}

// NewDirCache returns an empty cache.
func NewDirCache() *DirCache { return &DirCache{dirs: map[string]map[string]bool{}} }

// Absent reports whether the in-root path p (absolute and clean) certainly
// does not exist under root: its directory does not exist or does not list
// it. False means "look it up".
func (c *DirCache) Absent(root, p string) bool {
	if c == nil || !path.IsAbs(p) || p == "/" {
		return false
	}
	root = cleanRoot(root)
	if !c.started {
		c.root, c.started = root, true
	} else if c.root != root {
		return false
	}
	dir, name := path.Split(p)
	dir = path.Clean(dir)
	ents, ok := c.dirs[dir]
	if !ok {
		var err error
		if ents, ok, err = c.list(root, dir); err != nil {
			return false
		}
		c.dirs[dir] = ents
	}
	return ents == nil || !ents[name]
}

// list reads the directory dir (in-root) under root; ents is nil when it
// does not exist (or is no directory).
func (c *DirCache) list(root, dir string) (ents map[string]bool, ok bool, err error) {
	r, err := resolve(root, dir)
	if err != nil {
		if notFound(err) {
			return nil, true, nil
		}
		return nil, false, err
	}
	des, err := os.ReadDir(hostPath(root, r))
	if err != nil {
		if notFound(err) {
			return nil, true, nil
		}
		return nil, false, err
	}
	ents = make(map[string]bool, len(des))
	for _, e := range des {
		ents[e.Name()] = true
	}
	return ents, true, nil
}

// FindMain is FindMain with the cache: names their directory does not list
// are skipped.
func (c *DirCache) FindMain(root string, dirs []string, name string) (p string, isMask bool, err error) {
	if c == nil {
		return FindMain(root, dirs, name)
	}
	var left []string
	for _, d := range dirs {
		if !c.Absent(root, path.Join(d, name)) {
			left = append(left, d)
		}
	}
	return FindMain(root, left, name)
}

// FindDropins is FindDropins with the cache: drop-in directories their
// parent does not list are skipped.
func (c *DirCache) FindDropins(root string, dirs []string) ([]string, error) {
	if c == nil {
		return FindDropins(root, dirs)
	}
	var left []string
	for _, d := range dirs {
		if !c.Absent(root, d) {
			left = append(left, d)
		}
	}
	return FindDropins(root, left)
}
