package hwdb

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Dirs are udev's hwdb source directories, highest priority first (systemd-hwdb reads no
// others; /run is not among them).
var Dirs = []string{"/etc/udev/hwdb.d", "/usr/lib/udev/hwdb.d"}

// Suffix is the file name suffix of hwdb source files.
const Suffix = ".hwdb"

// DB is a set of parsed hwdb files ready for queries. It is immutable, so Query may be called
// from several goroutines at once.
type DB struct {
	entries []Entry
	files   []string

	literal   map[string][]int  // pattern without wildcards → indexes into entries
	byPrefix  map[string][]glob // literal prefix of a wildcard pattern → patterns
	prefixLen []int             // the distinct lengths of the keys of byPrefix, ascending
}

type glob struct {
	rest  string // the pattern from its first wildcard on
	entry int
}

// Load reads the hwdb files of udev's directories (Dirs) and then of extraDirs, each resolved
// under root ("" or "/" is the host). A file name present in several directories is read only
// from the first of them, so /etc/udev/hwdb.d/X.hwdb masks /usr/lib/udev/hwdb.d/X.hwdb, and
// both mask X.hwdb of an extra directory; a symlink to /dev/null masks without being read.
// The files are then read in the lexical order of their names, whatever their directories,
// which is the order that decides between conflicting properties (see Query).
//
// Missing directories are fine. Unreadable files and bad lines are returned as errors (with
// file:line where there is one) and skipped; the DB holds everything else.
func Load(root string, extraDirs ...string) (*DB, []error) {
	dirs := make([]string, 0, len(Dirs)+len(extraDirs))
	for _, d := range append(slices.Clone(Dirs), extraDirs...) {
		dirs = append(dirs, underRoot(root, d))
	}
	return load(root, dirs)
}

// LoadDirs is Load for directories given as they are (no root, no udev directories), highest
// priority first.
func LoadDirs(dirs ...string) (*DB, []error) {
	return load("", dirs)
}

func underRoot(root, path string) string {
	if root == "" || root == "/" {
		return path
	}
	return filepath.Join(root, path)
}

func load(root string, dirs []string) (*DB, []error) {
	var errs []error
	chosen := map[string]string{} // file name → path of the copy that is used
	for _, dir := range dirs {
		des, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		for _, de := range des {
			name := de.Name()
			if !strings.HasSuffix(name, Suffix) || strings.HasPrefix(name, ".") || de.IsDir() {
				continue
			}
			if _, taken := chosen[name]; taken {
				continue
			}
			chosen[name] = filepath.Join(dir, name)
		}
	}
	names := make([]string, 0, len(chosen))
	for name := range chosen {
		names = append(names, name)
	}
	sort.Strings(names)

	var entries []Entry
	var files []string
	for _, name := range names {
		path := chosen[name]
		f, err := openSource(root, path)
		if err != nil {
			errs = append(errs, &ParseError{File: path, Msg: err.Error()})
			continue
		}
		if f == nil { // masked
			continue
		}
		es, perrs := ParseFile(f, path)
		f.Close()
		entries = append(entries, es...)
		errs = append(errs, perrs...)
		files = append(files, path)
	}
	db := New(entries)
	db.files = files
	return db, errs
}

// openSource opens a hwdb file, following a symlink with an absolute target inside root. It
// returns nil for a file that masks (a symlink to /dev/null, or /dev/null itself) and an error
// for anything but a regular file.
func openSource(root, path string) (*os.File, error) {
	if target, err := os.Readlink(path); err == nil {
		if target == os.DevNull {
			return nil, nil
		}
		if filepath.IsAbs(target) && root != "" {
			path = underRoot(root, target)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	switch {
	case st.Mode().IsRegular():
		return f, nil
	case st.Mode()&fs.ModeCharDevice != 0: // /dev/null reached through a relative link
		f.Close()
		return nil, nil
	}
	f.Close()
	return nil, errors.New("not a regular file")
}

// New builds a DB from parsed entries, given in priority order (later entries win).
func New(entries []Entry) *DB {
	db := &DB{entries: entries, literal: map[string][]int{}, byPrefix: map[string][]glob{}}
	for i, e := range entries {
		for _, m := range e.Matches {
			g := globIndex(m)
			if g < 0 {
				db.literal[m] = appendOnce(db.literal[m], i)
				continue
			}
			prefix := m[:g]
			if _, ok := db.byPrefix[prefix]; !ok {
				db.prefixLen = append(db.prefixLen, len(prefix))
			}
			db.byPrefix[prefix] = append(db.byPrefix[prefix], glob{rest: m[g:], entry: i})
		}
	}
	slices.Sort(db.prefixLen)
	db.prefixLen = slices.Compact(db.prefixLen)
	return db
}

func appendOnce(s []int, i int) []int {
	if len(s) > 0 && s[len(s)-1] == i {
		return s
	}
	return append(s, i)
}

// Files lists the files Load read, in the order they were read.
func (db *DB) Files() []string { return slices.Clone(db.files) }

// Entries returns the records of the DB in priority order.
func (db *DB) Entries() []Entry { return slices.Clone(db.entries) }

// Query returns the properties of every record with a match pattern that matches s (see
// Match), or nil if none does. When several records set the same key, the value read last
// wins: the one from the file whose name sorts last, and within a file the one furthest down.
// How specific a pattern is plays no part. This is the order systemd-hwdb gives its compiled
// database (file priority, then line number).
func (db *DB) Query(s string) map[string]string {
	hits := db.literal[s]
	if len(hits) > 0 {
		hits = slices.Clone(hits)
	}
	for _, l := range db.prefixLen {
		if l > len(s) {
			break
		}
		for _, g := range db.byPrefix[s[:l]] {
			if Fnmatch(g.rest, s[l:]) {
				hits = append(hits, g.entry)
			}
		}
	}
	if len(hits) == 0 {
		return nil
	}
	slices.Sort(hits)
	hits = slices.Compact(hits)
	props := map[string]string{}
	for _, i := range hits {
		for _, p := range db.entries[i].Properties {
			props[p.Key] = p.Value
		}
	}
	return props
}
