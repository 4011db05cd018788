package conf

// Entry is one Key=Value assignment. It remembers where it was read so that
// a value rejected later by a typed parser can still be reported with its
// file and line.
type Entry struct {
	Key   string
	Value string // may be empty: an empty assignment resets list settings
	File  string
	Line  int // first physical line of the assignment
}

// Wrap turns a problem with this entry's value (typically a *ValueError)
// into an *Error located at the entry: "FILE:LINE: Key: cause".
func (e Entry) Wrap(err error) *Error {
	return &Error{File: e.File, Line: e.Line, Msg: e.Key + ": " + err.Error(), Err: err}
}

// Section is one "[Name]" block. Repeated headers are separate Sections
// because some formats give each repetition its own meaning (every [Route]
// of a .network file is one route).
type Section struct {
	Name    string
	File    string  // file the header is in
	Line    int     // line of the header
	Entries []Entry // in file order, empty assignments included
}

// Lookup returns the last assignment of key in this section.
func (s *Section) Lookup(key string) (Entry, bool) {
	for i := len(s.Entries) - 1; i >= 0; i-- {
		if s.Entries[i].Key == key {
			return s.Entries[i], true
		}
	}
	return Entry{}, false
}

// Get returns the value of the last assignment of key in this section.
func (s *Section) Get(key string) (string, bool) {
	e, ok := s.Lookup(key)
	return e.Value, ok
}

// Values returns the values assigned to key in this section after the last
// empty assignment, in order. See File.Values.
func (s *Section) Values(key string) []string {
	return values(s.entries(key, nil))
}

func (s *Section) entries(key string, acc []Entry) []Entry {
	for _, e := range s.Entries {
		if e.Key != key {
			continue
		}
		if e.Value == "" {
			acc = acc[:0] // "Key=" forgets everything assigned before
			continue
		}
		acc = append(acc, e)
	}
	return acc
}

func values(es []Entry) []string {
	if len(es) == 0 {
		return nil
	}
	v := make([]string, len(es))
	for i, e := range es {
		v[i] = e.Value
	}
	return v
}

// File is the merged result of reading a configuration: a main file and
// its drop-ins, in the order they apply. Sections from all files are kept
// in order, so "later wins" and list resets work across files.
type File struct {
	// Paths lists the files read, in the order they were applied, as
	// opened (root prefix included). A masked or missing main file is not
	// listed.
	Paths []string
	// MainMasked is set when the highest-priority main file was a mask
	// (a symlink to /dev/null, a device or an empty file): no main file
	// was read, lower-priority ones included.
	MainMasked bool
	// Warnings collects every line (or file) that was reported and
	// skipped; each is an *Error.
	Warnings []error

	sections []*Section
	// used records the section/key pairs a reader asked for while tracking is on
	// (TrackUse): what is left over was never applied.
	used map[usedKey]bool
}

type usedKey struct{ section, key string }

// TrackUse starts recording which keys Lookup, Get, Entries and Values are asked for,
// so that a reader can report the assignments it never looked at (Unused). Tracking is
// for the one goroutine that parses the file; StopTracking ends it.
func (f *File) TrackUse() { f.used = map[usedKey]bool{} }

// StopTracking ends what TrackUse started; later reads record nothing.
func (f *File) StopTracking() { f.used = nil }

// MarkUsed records keys of section as read, for readers that walk the entries
// themselves instead of asking by key.
func (f *File) MarkUsed(section string, keys ...string) {
	if f.used == nil {
		return
	}
	for _, k := range keys {
		f.used[usedKey{section, k}] = true
	}
}

// Used reports whether key of section was asked for since TrackUse.
func (f *File) Used(section, key string) bool { return f.used[usedKey{section, key}] }

func (f *File) mark(section, key string) {
	if f.used != nil {
		f.used[usedKey{section, key}] = true
	}
}

// Sections returns all sections in file order. The slice is the File's
// own and must not be modified.
func (f *File) Sections() []*Section { return f.sections }

// SectionsNamed returns the sections called name, in order.
func (f *File) SectionsNamed(name string) []*Section {
	var r []*Section
	for _, s := range f.sections {
		if s.Name == name {
			r = append(r, s)
		}
	}
	return r
}

// Lookup returns the last assignment of key in any section called section.
func (f *File) Lookup(section, key string) (Entry, bool) {
	f.mark(section, key)
	for i := len(f.sections) - 1; i >= 0; i-- {
		if s := f.sections[i]; s.Name == section {
			if e, ok := s.Lookup(key); ok {
				return e, true
			}
		}
	}
	return Entry{}, false
}

// Get returns the value of the last assignment of key in any section
// called section: later assignments, sections and drop-ins override
// earlier ones. An empty assignment yields ("", true).
func (f *File) Get(section, key string) (string, bool) {
	e, ok := f.Lookup(section, key)
	return e.Value, ok
}

// Entries returns the non-empty assignments of key, across every section
// called section and every file, that follow the last empty assignment.
// This is how list settings accumulate: each assignment adds, "Key=" on
// its own clears what came before (for example in a drop-in).
func (f *File) Entries(section, key string) []Entry {
	f.mark(section, key)
	var acc []Entry
	for _, s := range f.sections {
		if s.Name == section {
			acc = s.entries(key, acc)
		}
	}
	return acc
}

// Values is Entries reduced to the values. Each value is one assignment's
// text; splitting it into words is up to the caller, since the rules for
// that differ between settings.
func (f *File) Values(section, key string) []string {
	return values(f.Entries(section, key))
}
