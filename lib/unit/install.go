package unit

// [Install]: enable, disable, reenable, mask, unmask and the unit file
// state, as pure file-system work below a root, so steadctl and an
// installer can share it. The rules (which symlinks, where, pointing
// where; which names are followed; which states) are upstream's
// (systemd's shared/install.c), re-implemented from its documented and
// observed behaviour; the differential test TestInitUnitsInstall compares
// the trees both produce.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/stead-os/stead/lib/conf"
)

// Installer changes and reads the enablement of units below Root.
type Installer struct {
	Root    string // host directory of the tree; "" or "/" for the real root
	Runtime bool   // write to /run/systemd/system instead of /etc/systemd/system
	Force   bool   // replace conflicting symlinks
	// Warn, if set, is told about problems in [Install] sections
	// (file:line) that do not stop the operation.
	Warn func(error)
}

// ChangeType says what a Change is.
type ChangeType int

// Change types, named as upstream's install change types.
const (
	ChangeSymlink               ChangeType = iota // Path was created, pointing to Source
	ChangeUnlink                                  // Path was removed
	ChangeIsMasked                                // Path is masked: ignored
	ChangeIsDangling                              // Path is an alias whose unit is missing: ignored
	ChangeDestinationNotPresent                   // Source was added as a dependency of the missing unit Path
	ChangeAuxiliaryFailed                         // the Also= unit Path could not be enabled
	ChangeError                                   // Err happened on Path (Source: a related name or link target)
)

// Change is one thing an operation did, or one problem it met. Paths are
// in-root; Installer.Display puts the root in front as upstream prints them.
type Change struct {
	Type         ChangeType
	Path, Source string
	Err          syscall.Errno // ChangeError only
}

// Changes is the result of an operation, in the order things happened.
type Changes []Change

// Modified reports whether any symlink was created or removed.
func (cs Changes) Modified() bool {
	for _, c := range cs {
		if c.Type == ChangeSymlink || c.Type == ChangeUnlink {
			return true
		}
	}
	return false
}

// add records a change; for ChangeError it returns the error so callers
// can "return cs.add(…)".
func (cs *Changes) add(t ChangeType, p, src string) {
	*cs = append(*cs, Change{Type: t, Path: path.Clean(p), Source: cleanOpt(src)})
}

func (cs *Changes) fail(err error, p, src string) error {
	var e syscall.Errno
	if !errors.As(err, &e) {
		e = syscall.EIO
	}
	*cs = append(*cs, Change{Type: ChangeError, Path: path.Clean(p), Source: cleanOpt(src), Err: e})
	return e
}

func cleanOpt(s string) string {
	if s == "" {
		return ""
	}
	return path.Clean(s)
}

// installMode is what a name turned out to be on disk.
type installMode int

const (
	modeInvalid installMode = iota // not looked up yet
	modeRegular                    // a unit file
	modeLinked                     // a symlink to a file outside the search path
	modeAlias                      // a symlink to another name inside the search path
	modeMasked                     // empty, or a symlink to /dev/null
)

// installInfo is one unit name being worked on and its [Install] section.
type installInfo struct {
	name, path      string // in-root path of the file or symlink found
	mode            installMode
	symlinkTarget   string
	aliases         []string
	wantedBy        []string
	requiredBy      []string
	upheldBy        []string
	also            []string
	defaultInstance string
	auxiliary       bool // reached through Also=: failures are only reported
}

func (i *installInfo) hasRules() bool {
	return len(i.aliases)+len(i.wantedBy)+len(i.requiredBy)+len(i.upheldBy) > 0
}

// installCtx is the set of names one operation processes, in the order
// they were added (Also= adds names while files are read).
type installCtx struct {
	in   *Installer
	will []*installInfo
	have map[string]*installInfo
	all  map[string]*installInfo
}

func (in *Installer) newCtx() *installCtx {
	return &installCtx{in: in, have: map[string]*installInfo{}, all: map[string]*installInfo{}}
}

func (c *installCtx) find(name string) *installInfo { return c.all[name] }

// add registers name (or the file at p) for processing, or returns the
// entry already there.
func (c *installCtx) add(name, p string, auxiliary bool) (*installInfo, error) {
	if name == "" {
		name = path.Base(p)
	}
	if !validName(name, nameAny) {
		return nil, syscall.EINVAL
	}
	if i := c.all[name]; i != nil {
		i.auxiliary = i.auxiliary && auxiliary
		return i, nil
	}
	i := &installInfo{name: name, path: p, auxiliary: auxiliary}
	c.all[name] = i
	c.will = append(c.will, i)
	return i, nil
}

// next moves the first waiting entry to the processed ones.
func (c *installCtx) next() *installInfo {
	if len(c.will) == 0 {
		return nil
	}
	i := c.will[0]
	c.will = c.will[1:]
	c.have[i.name] = i
	return i
}

// Search flags, as upstream's.
type searchFlags int

const (
	searchLoad searchFlags = 1 << iota
	searchFollowConfigSymlinks
	searchDropin
)

// configDir is where this operation writes.
func (in *Installer) configDir() string {
	if in.Runtime {
		return RuntimeConfigDir
	}
	return PersistentConfigDir
}

// nullOrEmpty reports a masking file: empty, or the null device.
func nullOrEmpty(fi fs.FileInfo) bool {
	if fi.Mode().IsRegular() {
		return fi.Size() == 0
	}
	if fi.Mode()&fs.ModeCharDevice != 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			return st.Rdev == 0x103 // 1:3, /dev/null
		}
	}
	return false
}

// nullOrEmptyPath is nullOrEmpty for an in-root path, following links;
// /dev/null counts even where the root has no device node.
func (in *Installer) nullOrEmptyPath(p string) (bool, error) {
	t, err := in.chase(p, true)
	if err != nil {
		return false, err
	}
	if t == "/dev/null" {
		return true, nil
	}
	fi, err := os.Stat(in.host(t))
	if err != nil {
		return false, err
	}
	return nullOrEmpty(fi), nil
}

// load reads the file at p into info: its kind, and with searchLoad its
// [Install] section. It returns ELOOP for a symlink (without searchDropin).
func (c *installCtx) load(info *installInfo, p string, flags searchFlags) error {
	in := c.in
	if flags&searchDropin == 0 {
		typ := unitType(info.name)
		if validName(info.name, nameTemplate|nameInstance) && !mayTemplate(typ) {
			return syscall.EINVAL
		}
		fi, err := os.Lstat(in.host(p))
		if err != nil {
			return errnoOf(err)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return syscall.ELOOP
		case fi.IsDir():
			return syscall.EISDIR
		case nullOrEmpty(fi):
			info.mode = modeMasked
			return nil
		case !fi.Mode().IsRegular():
			return syscall.ENOTTY
		}
		if flags&searchLoad == 0 {
			info.mode = modeRegular
			return nil
		}
	} else if flags&searchLoad == 0 {
		return nil
	}
	real, err := in.chase(p, true)
	if err != nil {
		return errnoOf(err)
	}
	b, err := os.ReadFile(in.host(real))
	if err != nil {
		return errnoOf(err)
	}
	if len(b) == 0 {
		if flags&searchDropin == 0 {
			info.mode = modeMasked
		}
		return nil
	}
	f, err := conf.Parse(bytes.NewReader(b), in.host(p), &conf.Options{Warn: in.Warn})
	if err != nil {
		return errnoOf(err)
	}
	c.parseInstall(info, f)
	if flags&searchDropin == 0 {
		info.mode = modeRegular
	}
	return nil
}

func errnoOf(err error) error {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

func (in *Installer) warn(e conf.Entry, format string, a ...any) {
	if in.Warn != nil {
		in.Warn(e.Wrap(fmt.Errorf(format, a...)))
	}
}

// parseInstall applies the [Install] assignments of f to info. List
// settings add words; an empty assignment clears the list.
func (c *installCtx) parseInstall(info *installInfo, f *conf.File) {
	in := c.in
	for _, sec := range f.SectionsNamed("Install") {
		for _, e := range sec.Entries {
			var list *[]string
			switch e.Key {
			case "WantedBy":
				list = &info.wantedBy
			case "RequiredBy":
				list = &info.requiredBy
			case "UpheldBy":
				list = &info.upheldBy
			case "Alias":
				if !mayAlias(unitType(info.name)) {
					in.warn(e, "Alias= is not allowed for %s units, ignoring", unitType(info.name))
					continue
				}
				list = &info.aliases
			case "Also":
				for _, w := range installWords(e.Value) {
					n, err := installPrintf(info, w)
					if err != nil {
						in.warn(e, "failed to resolve unit name in Also=%q: %v", w, err)
						continue
					}
					if _, err := c.add(n, "", true); err != nil {
						in.warn(e, "invalid unit name %q in Also=", n)
						continue
					}
					info.also = append(info.also, n)
				}
				continue
			case "DefaultInstance":
				if validName(info.name, nameInstance) {
					continue // an instance of the template: ignored silently
				}
				if !validName(info.name, nameTemplate) {
					in.warn(e, "DefaultInstance= only makes sense for template units, ignoring")
					continue
				}
				v, err := installPrintf(info, e.Value)
				if err != nil {
					in.warn(e, "failed to resolve instance name in DefaultInstance=%q: %v", e.Value, err)
					continue
				}
				if v != "" && !validInstance(v) {
					in.warn(e, "invalid DefaultInstance= value %q", v)
					continue
				}
				info.defaultInstance = v
				continue
			default:
				if in.Warn != nil {
					in.Warn(e.Wrap(errors.New("unknown setting in [Install], ignoring")))
				}
				continue
			}
			if e.Value == "" {
				*list = nil
				continue
			}
			*list = append(*list, installWords(e.Value)...)
		}
	}
}

// installWords splits an [Install] list value into words, honouring quotes.
func installWords(s string) []string {
	var out []string
	var b strings.Builder
	in, q := false, byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case q != 0 && ch == q:
			q = 0
		case q == 0 && (ch == '"' || ch == '\''):
			q, in = ch, true
		case q == 0 && (ch == ' ' || ch == '\t' || ch == '\n'):
			if in {
				out = append(out, b.String())
				b.Reset()
				in = false
			}
		case ch == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			in = true
		default:
			b.WriteByte(ch)
			in = true
		}
	}
	if in {
		out = append(out, b.String())
	}
	return out
}

// installPrintf expands the specifiers upstream allows in [Install]
// values that depend on the unit's name. Host-dependent ones (%H, %m, …)
// are refused rather than guessed.
func installPrintf(info *installInfo, s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	name := info.name
	if validName(name, nameTemplate) && info.defaultInstance != "" {
		name = replaceInstance(name, info.defaultInstance)
	}
	prefix := name[:strings.LastIndexByte(name, '.')]
	inst := ""
	if at := strings.IndexByte(prefix, '@'); at >= 0 {
		prefix, inst = prefix[:at], prefix[at+1:]
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i++; i >= len(s) {
			return "", syscall.EBADSLT
		}
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case 'n':
			b.WriteString(name)
		case 'N':
			b.WriteString(name[:strings.LastIndexByte(name, '.')])
		case 'p':
			b.WriteString(prefix)
		case 'P':
			b.WriteString(UnescapeString(prefix))
		case 'i':
			b.WriteString(inst)
		case 'I':
			b.WriteString(UnescapeString(inst))
		case 'j':
			b.WriteString(prefix[strings.LastIndexByte(prefix, '-')+1:])
		case 'J':
			b.WriteString(UnescapeString(prefix[strings.LastIndexByte(prefix, '-')+1:]))
		default:
			return "", syscall.EBADSLT
		}
	}
	return b.String(), nil
}

// resolveSymlink reads the unit symlink at p: the in-root path it points
// to (simplified, not followed) and whether that lies outside the search
// path (a linked unit file or a mask) rather than being an alias.
func (in *Installer) resolveSymlink(p string) (target string, outside bool, err error) {
	t, err := os.Readlink(in.host(p))
	if err != nil {
		return "", false, errnoOf(err)
	}
	if !path.IsAbs(t) {
		t = path.Join(path.Dir(p), t)
	}
	t, err = in.chase(t, false)
	if err != nil {
		return "", false, err
	}
	if !underDirs(InstallSearchPath, t) {
		return t, true, nil
	}
	if err := validateAlias(path.Base(p), path.Base(t)); err != nil {
		return "", false, err
	}
	return t, false, nil
}

// loadOrReadlink is load, and for a symlink its target and mode.
func (c *installCtx) loadOrReadlink(info *installInfo, p string, flags searchFlags) error {
	err := c.load(info, p, flags)
	if err != syscall.ELOOP || flags&searchDropin != 0 {
		return err
	}
	t, outside, err := c.in.resolveSymlink(p)
	if err != nil {
		return err
	}
	info.symlinkTarget = t
	null, err := c.in.nullOrEmptyPath(t)
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return errnoOf(err)
	case null:
		info.mode = modeMasked
	case outside:
		info.mode = modeLinked
	default:
		info.mode = modeAlias
	}
	return nil
}

func missing(err error) bool {
	return err == syscall.ENOENT || err == syscall.ENOTDIR || err == syscall.EACCES
}

// search finds info's file in the search path (or its template's), then
// reads its drop-ins.
func (c *installCtx) search(info *installInfo, flags searchFlags) error {
	if info.mode != modeInvalid {
		return nil
	}
	if info.path != "" {
		return c.loadOrReadlink(info, info.path, flags)
	}
	tmpl, isInst := templateOf(info.name)
	isInst = isInst && validName(info.name, nameInstance)
	found := false
	try := func(n string) error {
		for _, d := range InstallSearchPath {
			p := path.Join(d, n)
			err := c.loadOrReadlink(info, p, flags)
			if err == nil {
				info.path, found = p, true
				return nil
			}
			if !missing(err) {
				return err
			}
		}
		return nil
	}
	if err := try(info.name); err != nil {
		return err
	}
	if !found && isInst {
		if err := try(tmpl); err != nil {
			return err
		}
	}
	if !found {
		return syscall.ENOENT
	}
	if info.mode == modeMasked {
		return nil
	}
	var dirs []string
	for _, d := range InstallSearchPath {
		dirs = append(dirs, path.Join(d, info.name+".d"))
	}
	if isInst {
		for _, d := range InstallSearchPath {
			dirs = append(dirs, path.Join(d, tmpl+".d"))
		}
	}
	for _, f := range c.in.confFiles(dirs, ".conf") {
		if err := c.loadOrReadlink(info, f, flags|searchDropin); err != nil {
			return err
		}
	}
	return nil
}

// confFiles lists the files ending in suffix in dirs, each name once (the
// first directory's wins), sorted by name; a file that is a symlink to
// /dev/null or empty masks the name. Paths are in-root.
func (in *Installer) confFiles(dirs []string, suffix string) []string {
	byName := map[string]string{}
	var names []string
	for _, d := range dirs {
		ents, err := os.ReadDir(in.host(d))
		if err != nil {
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if !strings.HasSuffix(n, suffix) || strings.HasPrefix(n, ".") {
				continue
			}
			if _, ok := byName[n]; ok {
				continue
			}
			byName[n] = path.Join(d, n)
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		p := byName[n]
		if null, err := in.nullOrEmptyPath(p); err != nil || null {
			continue
		}
		out = append(out, p)
	}
	return out
}

// follow replaces an alias or linked entry by what its symlink points to.
func (c *installCtx) follow(info *installInfo, flags searchFlags, ignoreDifferentName bool) error {
	if info.mode != modeAlias && info.mode != modeLinked || info.symlinkTarget == "" {
		return syscall.EINVAL
	}
	if !ignoreDifferentName && path.Base(info.symlinkTarget) != info.name {
		return syscall.EXDEV
	}
	info.path, info.symlinkTarget = info.symlinkTarget, ""
	info.mode = modeInvalid
	return c.loadOrReadlink(info, info.path, flags)
}

// traverse searches for start and follows its symlinks to the unit file
// they lead to, propagating the instance; it returns the final entry.
func (c *installCtx) traverse(start *installInfo, flags searchFlags) (*installInfo, error) {
	if err := c.search(start, flags); err != nil {
		return nil, err
	}
	i := start
	for k := 0; i.mode == modeAlias || i.mode == modeLinked; k++ {
		if k >= 64 {
			return nil, syscall.ELOOP
		}
		if flags&searchFollowConfigSymlinks == 0 {
			if d := path.Dir(i.path); d == PersistentConfigDir || d == RuntimeConfigDir {
				return nil, syscall.ELOOP
			}
		}
		err := c.follow(i, flags, i.mode == modeLinked)
		if err == syscall.EXDEV && i.symlinkTarget != "" {
			// The target has another name: continue with a new entry.
			bn := path.Base(i.symlinkTarget)
			if validName(i.name, nameInstance) && validName(bn, nameTemplate) {
				filled := replaceInstance(bn, instanceOf(i.name))
				if filled == i.name {
					if err := c.follow(i, flags, true); err != nil {
						return nil, err
					}
					continue
				}
				bn = filled
			}
			ni, err := c.add(bn, "", false)
			if err != nil {
				return nil, err
			}
			i = ni
			if err := c.search(i, flags); err != nil {
				if err == syscall.ENOENT {
					return nil, syscall.ENOLINK
				}
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	return i, nil
}

// addAuto adds an argument: an absolute path (in the root) or a name.
func (c *installCtx) addAuto(nameOrPath string) (*installInfo, error) {
	if path.IsAbs(nameOrPath) {
		return c.add("", path.Clean(nameOrPath), false)
	}
	return c.add(nameOrPath, "", false)
}

// discover looks up a command-line argument; failures are recorded.
func (c *installCtx) discover(arg string, flags searchFlags, cs *Changes) (*installInfo, error) {
	i, err := c.addAuto(arg)
	if err == nil {
		i, err = c.traverse(i, flags)
	}
	if err != nil {
		return nil, cs.fail(err, arg, "")
	}
	return i, nil
}

// mayProcess refuses masked, generated and transient units.
func (in *Installer) mayProcess(i *installInfo, cs *Changes) error {
	if i.mode == modeMasked {
		return cs.fail(syscall.ERFKILL, i.path, "")
	}
	d := path.Dir(i.path)
	if isGeneratorDir(d) || d == TransientDir {
		return cs.fail(syscall.EADDRNOTAVAIL, i.path, "")
	}
	return nil
}

func (c *installCtx) discoverAndCheck(arg string, flags searchFlags, cs *Changes) (*installInfo, error) {
	i, err := c.discover(arg, flags, cs)
	if err != nil {
		return nil, err
	}
	return i, c.in.mayProcess(i, cs)
}

// symlinksEquivalent reports whether an existing link target a serves
// as well as b for the link at src: the same file, or the same name
// inside the search path.
func (in *Installer) symlinksEquivalent(src, a, b string) bool {
	abs := func(t string) string {
		if path.IsAbs(t) {
			return path.Clean(t)
		}
		return path.Join(path.Dir(src), t)
	}
	pa, pb := abs(a), abs(b)
	if pa == pb {
		return true
	}
	fa, errA := os.Stat(in.host(pa))
	fb, errB := os.Stat(in.host(pb))
	if errA == nil && errB == nil && os.SameFile(fa, fb) {
		return true
	}
	return path.Base(pa) == path.Base(pb) && underDirs(InstallSearchPath, pa) && underDirs(InstallSearchPath, pb)
}

// createSymlink makes newPath point to oldPath (both in-root), unless an
// equivalent link is there; force replaces a different one.
func (in *Installer) createSymlink(oldPath, newPath string, force bool, cs *Changes) error {
	h := in.host(newPath)
	_ = os.MkdirAll(path.Dir(h), 0o755)
	err := os.Symlink(oldPath, h)
	if err == nil {
		cs.add(ChangeSymlink, newPath, oldPath)
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return cs.fail(err, newPath, "")
	}
	dest, err := os.Readlink(h)
	if err != nil {
		return cs.fail(syscall.EEXIST, newPath, "")
	}
	if in.symlinksEquivalent(newPath, dest, oldPath) {
		return nil
	}
	if !force {
		return cs.fail(syscall.EEXIST, newPath, dest)
	}
	tmp := h + ".stead-tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(oldPath, tmp); err != nil {
		return cs.fail(err, newPath, "")
	}
	if err := os.Rename(tmp, h); err != nil {
		os.Remove(tmp)
		return cs.fail(err, newPath, "")
	}
	cs.add(ChangeUnlink, newPath, "")
	cs.add(ChangeSymlink, newPath, oldPath)
	return nil
}

// gather keeps the first error, as upstream's RET_GATHER.
func gather(r *error, err error) {
	if *r == nil && err != nil {
		*r = err
	}
}

// verifyAlias checks an Alias= name dst for info and returns the name to
// link (instance propagated). ELOOP: a self-alias, skipped quietly.
func verifyAlias(info *installInfo, dst string, cs *Changes) (string, error) {
	if strings.Contains(dst, "/") {
		// Legacy: Alias=foo.target.wants/bar.service.
		dir, base := path.Split(dst)
		dir = strings.TrimSuffix(dir, "/")
		unitDir, ok := strings.CutSuffix(dir, ".wants")
		if !ok {
			unitDir, ok = strings.CutSuffix(dir, ".requires")
		}
		k := classify(unitDir)
		if !ok || k == 0 {
			return "", cs.fail(syscall.EXDEV, dst, "")
		}
		want := info.name
		if k == nameTemplate && validName(info.name, nameTemplate) && validName(base, nameInstance) {
			want = replaceInstance(info.name, instanceOf(base))
		}
		if base != want {
			return "", cs.fail(syscall.EXDEV, dst, info.name)
		}
		return dst, nil
	}
	updated := dst
	if validName(dst, nameTemplate) {
		switch classify(info.name) {
		case 0, namePlain:
			return "", cs.fail(syscall.EUCLEAN, info.name, "")
		case nameInstance:
			updated = replaceInstance(dst, instanceOf(info.name))
		}
	}
	err := validateAlias(updated, info.name)
	if err == syscall.ELOOP {
		return "", err
	}
	if err != nil {
		if err == syscall.EINVAL {
			err = syscall.EXDEV
		}
		return "", cs.fail(err, updated, info.name)
	}
	return updated, nil
}

func (c *installCtx) symlinkAliases(info *installInfo, force bool, cs *Changes) error {
	in := c.in
	var r error
	for _, s := range info.aliases {
		dst, err := installPrintf(info, s)
		if err != nil {
			gather(&r, cs.fail(err, s, ""))
			continue
		}
		dst, err = verifyAlias(info, dst, cs)
		if err == syscall.ELOOP {
			continue
		}
		if err != nil {
			gather(&r, err)
			continue
		}
		aliasPath := path.Join(in.configDir(), dst)
		t, err := in.chase(aliasPath, true)
		broken := false
		if err == nil {
			_, serr := os.Lstat(in.host(t))
			broken = serr != nil
		}
		gather(&r, in.createSymlink(info.path, aliasPath, force || broken, cs))
	}
	return r
}

// ignoreAuxiliaryFailure: presets skip WantedBy= names that do not fit.
func (c *installCtx) symlinkWants(info *installInfo, list []string, suffix string, presetting bool, cs *Changes) error {
	if len(list) == 0 {
		return nil
	}
	in := c.in
	n := info.name
	validDst := nameAny
	switch {
	case validName(info.name, namePlain|nameInstance):
	case info.defaultInstance != "":
		inst := &installInfo{name: replaceInstance(info.name, info.defaultInstance)}
		if err := (&installCtx{in: in, have: map[string]*installInfo{}, all: map[string]*installInfo{}}).search(inst, searchFollowConfigSymlinks); err != nil {
			return err
		}
		if inst.mode == modeMasked {
			return cs.fail(syscall.ERFKILL, inst.path, "")
		}
		n = inst.name
	default:
		validDst = nameInstance | nameTemplate
	}
	var r error
	for _, s := range list {
		dst, err := installPrintf(info, s)
		if err != nil {
			gather(&r, cs.fail(err, s, ""))
			continue
		}
		if !validName(dst, validDst) {
			if presetting {
				continue
			}
			if validName(dst, nameAny) {
				gather(&r, cs.fail(syscall.EIDRM, dst, n))
			} else {
				gather(&r, cs.fail(syscall.EUCLEAN, dst, ""))
			}
			continue
		}
		p := path.Join(in.configDir(), dst+suffix, n)
		gather(&r, in.createSymlink(info.path, p, true, cs))
		if !in.exists(dst) {
			cs.add(ChangeDestinationNotPresent, dst, info.path)
		}
	}
	return r
}

// exists is upstream's unit_file_exists: the name resolves to a file
// (without following symlinks in the config directories).
func (in *Installer) exists(name string) bool {
	c := in.newCtx()
	i, err := c.add(name, "", false)
	if err == nil {
		_, err = c.traverse(i, 0)
	}
	return err != syscall.ENOENT
}

// apply creates every symlink info's [Install] section asks for.
func (c *installCtx) apply(info *installInfo, presetting bool, cs *Changes) error {
	if info.mode != modeRegular {
		return nil
	}
	in := c.in
	if !inDirs(InstallSearchPath, info.path) {
		// A file outside the search path is linked in first.
		if err := in.createSymlink(info.path, path.Join(in.configDir(), info.name), in.Force, cs); err != nil {
			return err
		}
	}
	r := c.symlinkAliases(info, in.Force, cs)
	gather(&r, c.symlinkWants(info, info.wantedBy, ".wants", presetting, cs))
	gather(&r, c.symlinkWants(info, info.requiredBy, ".requires", presetting, cs))
	gather(&r, c.symlinkWants(info, info.upheldBy, ".upholds", presetting, cs))
	return r
}

// applyAll processes every waiting entry; it returns how many symlink
// rules the units carry (0: no [Install] information at all).
func (c *installCtx) applyAll(flags searchFlags, presetting bool, cs *Changes) (int, error) {
	n := 0
	for i := c.next(); i != nil; i = c.next() {
		fin, err := c.traverse(i, flags)
		if err != nil {
			if i.auxiliary {
				cs.add(ChangeAuxiliaryFailed, i.name, "")
				continue
			}
			return n, cs.fail(err, i.name, "")
		}
		if fin.mode == modeMasked {
			cs.add(ChangeIsMasked, fin.path, "")
			n++
			continue
		}
		if fin.mode != modeRegular {
			continue
		}
		if err := c.apply(fin, presetting, cs); err != nil {
			return n, err
		}
		n += len(fin.aliases) + len(fin.wantedBy) + len(fin.requiredBy) + len(fin.upheldBy)
	}
	return n, nil
}

// Enable creates the symlinks the [Install] sections of the named units
// (names, or absolute in-root paths of unit files) ask for, and of their
// Also= units. carries is false when none of them has any [Install]
// rule (upstream then explains why enabling does nothing).
func (in *Installer) Enable(names []string) (cs Changes, carries bool, err error) {
	c := in.newCtx()
	for _, n := range names {
		if _, err := c.discoverAndCheck(n, searchLoad|searchFollowConfigSymlinks, &cs); err != nil {
			return cs, false, err
		}
	}
	n, err := c.applyAll(searchLoad, false, &cs)
	return cs, n > 0, err
}

// markForRemoval resolves every waiting entry and collects the names
// whose symlinks are to go.
func (c *installCtx) markForRemoval(remove map[string]bool, cs *Changes) {
	for i := c.next(); i != nil; i = c.next() {
		_, err := c.traverse(i, searchLoad|searchFollowConfigSymlinks)
		p := i.path
		if p == "" {
			p = i.name
		}
		switch {
		case err == syscall.ENOLINK:
			cs.add(ChangeIsDangling, p, "")
		case err == syscall.ENOENT:
			if !i.auxiliary {
				cs.fail(err, p, "")
			}
		case err != nil:
			cs.fail(err, p, "")
		case i.mode == modeMasked:
			cs.add(ChangeIsMasked, p, "")
			continue
		case i.mode != modeRegular:
			continue
		}
		remove[i.name] = true
	}
}

// removeMarked deletes every unit symlink below the config directory
// whose name or target is marked, again until nothing more goes (a
// removed link marks what pointed to it).
func (in *Installer) removeMarked(remove map[string]bool, dryRun bool, cs *Changes) error {
	if len(remove) == 0 {
		return nil
	}
	var r error
	for restart := true; restart; {
		restart = false
		gather(&r, in.removeMarkedDir(remove, in.configDir(), dryRun, &restart, cs))
	}
	return r
}

func (in *Installer) removeMarkedDir(remove map[string]bool, dir string, dryRun bool, restart *bool, cs *Changes) error {
	ents, err := os.ReadDir(in.host(dir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return errnoOf(err)
	}
	var r error
	for _, e := range ents {
		p := path.Join(dir, e.Name())
		if e.IsDir() {
			gather(&r, in.removeMarkedDir(remove, p, dryRun, restart, cs))
			continue
		}
		if e.Type()&fs.ModeSymlink == 0 || !validName(e.Name(), nameAny) {
			continue
		}
		found := remove[e.Name()]
		if !found {
			if t, ok := templateOf(e.Name()); ok {
				found = remove[t]
			}
		}
		if !found {
			dest, err := in.chase(p, true)
			if err != nil {
				gather(&r, cs.fail(err, p, ""))
				continue
			}
			found = remove[dest] || remove[path.Base(dest)]
		}
		if !found {
			continue
		}
		if !dryRun {
			if err := os.Remove(in.host(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				gather(&r, cs.fail(err, p, ""))
				continue
			}
			in.rmdirParents(p)
		}
		cs.add(ChangeUnlink, p, "")
		if !remove[p] {
			remove[p] = true
			if !dryRun {
				*restart = true
			}
		}
	}
	return r
}

// rmdirParents removes the now empty directories between p and the
// config directory.
func (in *Installer) rmdirParents(p string) {
	for d := path.Dir(p); d != in.configDir() && strings.HasPrefix(d, in.configDir()+"/"); d = path.Dir(d) {
		if os.Remove(in.host(d)) != nil {
			return
		}
	}
}

// Disable removes the symlinks to the named units and their Also= units
// from the config directory. carries is as for Enable.
func (in *Installer) Disable(names []string) (Changes, bool, error) {
	return in.disable(names, false)
}

// Links lists the symlinks Disable would remove, removing nothing
// (is-enabled --full).
func (in *Installer) Links(name string) (Changes, error) {
	cs, _, err := in.disable([]string{name}, true)
	return cs, err
}

func (in *Installer) disable(names []string, dryRun bool) (cs Changes, carries bool, err error) {
	c := in.newCtx()
	for _, n := range names {
		if !validName(n, nameAny) {
			return cs, false, cs.fail(syscall.EUCLEAN, n, "")
		}
		i, err := c.add(n, "", false)
		if err == nil {
			_, err = c.traverse(i, searchLoad|searchFollowConfigSymlinks)
		}
		if err != nil {
			return cs, false, cs.fail(err, n, "")
		}
		carries = carries || i.hasRules() || len(i.also) > 0
	}
	remove := map[string]bool{}
	c.markForRemoval(remove, &cs)
	if err := in.removeMarked(remove, dryRun, &cs); err != nil {
		return cs, false, err
	}
	return cs, cs.Modified() || carries, nil
}

// Reenable disables the units, then enables them again.
func (in *Installer) Reenable(names []string) (Changes, bool, error) {
	var bases, files []string
	for _, a := range names {
		n := path.Base(a)
		bases = append(bases, n)
		f := a
		if !strings.Contains(a, "/") && !validName(a, nameInstance) {
			c := in.newCtx()
			if i, err := c.discover(n, searchLoad|searchFollowConfigSymlinks, new(Changes)); err == nil && i.path != "" {
				f = i.path
			}
		}
		files = append(files, f)
	}
	cs, _, err := in.Disable(bases)
	if err != nil {
		return cs, false, err
	}
	more, carries, err := in.Enable(files)
	return append(cs, more...), carries, err
}

// Mask links each name to /dev/null in the config directory.
func (in *Installer) Mask(names []string) (Changes, error) {
	var cs Changes
	var r error
	for _, n := range names {
		if !validName(n, nameAny) {
			gather(&r, syscall.EINVAL)
			continue
		}
		gather(&r, in.createSymlink("/dev/null", path.Join(in.configDir(), n), in.Force, &cs))
	}
	return cs, r
}

// Unmask removes the masks of the names from the config directory, and
// the symlinks that pointed to them.
func (in *Installer) Unmask(names []string) (Changes, error) {
	var cs Changes
	remove := map[string]bool{}
	var todo []string
	for _, n := range names {
		if !validName(n, nameAny) {
			return cs, syscall.EINVAL
		}
		p := path.Join(in.configDir(), n)
		null, err := in.nullOrEmptyPath(p)
		if err != nil && errors.Is(err, fs.ErrNotExist) || err == nil && !null {
			continue
		}
		if err != nil {
			return cs, errnoOf(err)
		}
		if !containsStr(todo, n) {
			todo = append(todo, n)
		}
	}
	var r error
	for _, n := range todo {
		p := path.Join(in.configDir(), n)
		if err := os.Remove(in.host(p)); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				gather(&r, cs.fail(err, p, ""))
			}
			continue
		}
		cs.add(ChangeUnlink, p, "")
		remove[p] = true
	}
	gather(&r, in.removeMarked(remove, false, &cs))
	return cs, r
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
