package unit

// The unit file state (systemctl is-enabled) and presets.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/stead-os/stead/lib/conf"
)

// Unit file states, as upstream names them.
const (
	StateEnabled        = "enabled"
	StateEnabledRuntime = "enabled-runtime"
	StateLinked         = "linked"
	StateLinkedRuntime  = "linked-runtime"
	StateAlias          = "alias"
	StateMasked         = "masked"
	StateMaskedRuntime  = "masked-runtime"
	StateStatic         = "static"
	StateDisabled       = "disabled"
	StateIndirect       = "indirect"
	StateGenerated      = "generated"
	StateTransient      = "transient"
	StateBad            = "bad"
)

// StateCountsAsEnabled is whether `is-enabled` succeeds for a state.
func StateCountsAsEnabled(s string) bool {
	switch s {
	case StateEnabled, StateEnabledRuntime, StateStatic, StateAlias, StateIndirect, StateGenerated:
		return true
	}
	return false
}

// ErrNoUnitFile is State's error for a name no unit file answers to.
var ErrNoUnitFile = syscall.ENOENT

// State is the unit file state of name: whether and how it is enabled.
// A name without a unit file gives ErrNoUnitFile.
func (in *Installer) State(name string) (string, error) {
	if !validName(name, nameAny) {
		return "", syscall.EINVAL
	}
	c := in.newCtx()
	i, err := c.add(name, "", false)
	if err == nil {
		i, err = c.traverse(i, searchLoad|searchFollowConfigSymlinks)
	}
	if err != nil {
		return "", err
	}
	if i.mode == modeMasked {
		if isRuntimePath(i.path) {
			return StateMaskedRuntime, nil
		}
		return StateMasked, nil
	}
	if name != path.Base(i.path) && !validName(i.name, nameInstance) {
		return StateAlias, nil
	}
	d := path.Dir(i.path)
	if isGeneratorDir(d) {
		return StateGenerated, nil
	}
	if d == TransientDir {
		return StateTransient, nil
	}
	if s, ok := in.findSymlinksInScope(i, true); ok {
		return s, nil
	}
	if _, ok := in.findSymlinksInScope(i, false); ok {
		return StateIndirect, nil
	}
	switch {
	case i.hasRules():
		return StateDisabled, nil
	case len(i.also) > 0:
		return StateIndirect, nil
	}
	return StateStatic, nil
}

// knownName reports whether a symlink name is one enable would create
// for info: its own name, an Alias=, or the DefaultInstance= instance.
func knownName(i *installInfo, name string) bool {
	if name == i.name || containsStr(i.aliases, name) {
		return true
	}
	return i.defaultInstance != "" && validName(i.name, nameTemplate) && name == replaceInstance(i.name, i.defaultInstance)
}

// findSymlinksInDir looks through one directory's symlinks for links to
// info. ignoreDest: only the link names count (the .wants/ directories).
func (in *Installer) findSymlinksInDir(dir string, i *installInfo, ignoreDest, matchName, ignoreSameName bool, configDir string, sameNameLink *bool) bool {
	ents, err := os.ReadDir(in.host(dir))
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		foundPath, foundDest := false, false
		if !ignoreDest {
			dest, err := os.Readlink(in.host(path.Join(dir, e.Name())))
			if err != nil {
				continue
			}
			foundDest = path.Base(dest) == i.name
		}
		if ignoreDest || !ignoreSameName {
			foundPath = e.Name() == i.name
		}
		if !foundPath && ignoreDest {
			if t, ok := templateOf(e.Name()); ok {
				foundDest = t == i.name
			}
		}
		if foundPath && foundDest && path.Join(dir, e.Name()) == path.Join(configDir, i.name) {
			*sameNameLink = true
			continue
		}
		if foundPath || foundDest {
			if !matchName || knownName(i, e.Name()) {
				return true
			}
		}
	}
	return false
}

// findSymlinks looks for links to info in one search directory: first in
// its .wants/, .requires/ and .upholds/ directories, then in it.
func (in *Installer) findSymlinks(i *installInfo, matchName, ignoreSameName bool, dir string, sameNameLink *bool) bool {
	ents, err := os.ReadDir(in.host(dir))
	if err != nil {
		return false
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		n := e.Name()
		if !strings.HasSuffix(n, ".wants") && !strings.HasSuffix(n, ".requires") && !strings.HasSuffix(n, ".upholds") {
			continue
		}
		if in.findSymlinksInDir(path.Join(dir, n), i, true, matchName, ignoreSameName, dir, sameNameLink) {
			return true
		}
	}
	return in.findSymlinksInDir(dir, i, false, matchName, ignoreSameName, dir, sameNameLink)
}

// findSymlinksInScope walks the search path for links to info and names
// the state they give, if any.
func (in *Installer) findSymlinksInScope(i *installInfo, matchName bool) (string, bool) {
	var sameRuntime, sameConfig, inRuntime, atAll, ignoreSame bool
	for _, d := range InstallSearchPath {
		same := false
		if in.findSymlinks(i, matchName, ignoreSame, d, &same) {
			if d == PersistentConfigDir {
				return StateEnabled, true
			}
			if isRuntimePath(d) {
				inRuntime = true
			} else {
				atAll = true
			}
		} else if same {
			if d == PersistentConfigDir {
				sameConfig = true
			} else if isRuntimePath(d) {
				sameRuntime = true
			}
		}
		if !ignoreSame && strings.HasPrefix(i.path, d+"/") {
			ignoreSame = true
		}
	}
	switch {
	case inRuntime:
		return StateEnabledRuntime, true
	case atAll && validName(i.name, nameInstance):
		return StateStatic, true
	case sameConfig:
		return StateLinked, true
	case sameRuntime:
		return StateLinkedRuntime, true
	}
	return "", false
}

// PresetDirs are where preset files are read from, most important first.
var PresetDirs = []string{
	"/etc/systemd/system-preset",
	"/run/systemd/system-preset",
	"/usr/local/lib/systemd/system-preset",
	"/usr/lib/systemd/system-preset",
}

// Preset actions.
const (
	PresetEnable  = "enable"
	PresetDisable = "disable"
	PresetIgnore  = "ignore"
)

// presetRule is one line of a preset file.
type presetRule struct {
	pattern   string
	action    string
	instances []string // enable foo@.service a b c
}

// Presets are the rules of all preset files, in the order they apply:
// the first matching rule wins.
type Presets struct{ rules []presetRule }

// ReadPresets reads the *.preset files of PresetDirs (a name in an
// earlier directory hides the same name in later ones; files are read in
// name order). Lines that cannot be parsed are reported through Warn.
func (in *Installer) ReadPresets() (*Presets, error) {
	ps := &Presets{}
	for _, f := range in.confFiles(PresetDirs, ".preset") {
		b, err := os.ReadFile(in.host(f))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, conf.LongLineMax)
		n := 0
		for sc.Scan() {
			n++
			line := strings.TrimSpace(sc.Text())
			if line == "" || line[0] == '#' || line[0] == ';' {
				continue
			}
			word, rest, _ := strings.Cut(line, " ")
			if i := strings.IndexAny(line, " \t"); i >= 0 {
				word, rest = line[:i], strings.TrimLeft(line[i:], " \t")
			}
			bad := func() {
				if in.Warn != nil {
					in.Warn(&conf.Error{File: in.host(f), Line: n, Msg: fmt.Sprintf("couldn't parse line '%s', ignoring", line)})
				}
			}
			if rest == "" || (word != PresetEnable && word != PresetDisable && word != PresetIgnore) {
				bad()
				continue
			}
			r := presetRule{pattern: rest, action: word}
			if word == PresetEnable {
				fields := strings.Fields(rest)
				r.pattern = fields[0]
				if len(fields) > 1 {
					if !validName(r.pattern, nameTemplate) {
						bad()
						continue
					}
					r.instances = fields[1:]
				}
			}
			ps.rules = append(ps.rules, r)
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// Query returns the preset action for name (enable when no rule
// matches) and, for a template enabled with an instance list, the
// instances to enable.
func (ps *Presets) Query(name string) (action string, instances []string) {
	for _, r := range ps.rules {
		if r.instances != nil {
			if t, ok := templateOf(name); ok && t == r.pattern {
				if validName(name, nameTemplate) {
					for _, i := range r.instances {
						instances = append(instances, replaceInstance(name, i))
					}
					return r.action, instances
				}
				if containsStr(r.instances, instanceOf(name)) {
					return r.action, nil
				}
			}
		}
		// fnmatch(FNM_NOESCAPE): a backslash is an ordinary character.
		if ok, _ := filepath.Match(strings.ReplaceAll(r.pattern, `\`, `\\`), name); ok {
			return r.action, nil
		}
	}
	return PresetEnable, nil
}

// PresetMode limits what Preset does.
type PresetMode string

// Preset modes, as systemctl's --preset-mode=.
const (
	PresetFull        PresetMode = "full"
	PresetEnableOnly  PresetMode = "enable-only"
	PresetDisableOnly PresetMode = "disable-only"
)

// presetIgnored are the errors preset-all skips a unit for.
func presetIgnored(err error) bool {
	switch err {
	case syscall.EEXIST, syscall.ERFKILL, syscall.EADDRNOTAVAIL, syscall.EBADSLT, syscall.EIDRM,
		syscall.EUCLEAN, syscall.ELOOP, syscall.ENOENT, syscall.EUNATCH, syscall.EXDEV, syscall.ENOLINK:
		return true
	}
	return false
}

// presetPrepare sorts one name into the units to enable (plus) or to
// disable (minus) according to the presets.
func (in *Installer) presetPrepare(plus, minus *installCtx, name string, ps *Presets, cs *Changes) error {
	if plus.find(name) != nil || minus.find(name) != nil {
		return nil
	}
	tmp := in.newCtx()
	i, err := tmp.discover(name, searchFollowConfigSymlinks, cs)
	if err != nil {
		return err
	}
	if i.name != name {
		return nil // an alias of another unit
	}
	action, instances := ps.Query(name)
	switch action {
	case PresetEnable:
		if instances != nil {
			for _, s := range instances {
				if _, err := plus.discoverAndCheck(s, searchLoad|searchFollowConfigSymlinks, cs); err != nil {
					return err
				}
			}
			return nil
		}
		_, err = plus.discoverAndCheck(name, searchLoad|searchFollowConfigSymlinks, cs)
	case PresetDisable:
		_, err = minus.discover(name, searchFollowConfigSymlinks, cs)
	}
	return err
}

// executePreset removes the links of minus and creates those of plus.
func (in *Installer) executePreset(plus, minus *installCtx, mode PresetMode, cs *Changes) error {
	if mode != PresetEnableOnly {
		remove := map[string]bool{}
		minus.markForRemoval(remove, cs)
		if err := in.removeMarked(remove, false, cs); err != nil {
			return err
		}
	}
	if mode != PresetDisableOnly {
		if _, err := plus.applyAll(searchLoad, true, cs); err != nil {
			return err
		}
	}
	return nil
}

// Preset enables or disables the named units as the preset files say.
func (in *Installer) Preset(names []string, mode PresetMode) (Changes, error) {
	var cs Changes
	ps, err := in.ReadPresets()
	if err != nil {
		return cs, err
	}
	// A unit that cannot be preset is reported; the others still are.
	plus, minus := in.newCtx(), in.newCtx()
	var r error
	for _, n := range names {
		gather(&r, in.presetPrepare(plus, minus, n, ps, &cs))
	}
	gather(&r, in.executePreset(plus, minus, mode, &cs))
	return cs, r
}

// PresetAll applies the presets to every unit file in the search path.
func (in *Installer) PresetAll(mode PresetMode) (Changes, error) {
	var cs Changes
	ps, err := in.ReadPresets()
	if err != nil {
		return cs, err
	}
	plus, minus := in.newCtx(), in.newCtx()
	for _, d := range InstallSearchPath {
		ents, err := readDirUnsorted(in.host(d))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return cs, err
		}
		for _, e := range ents {
			if !validName(e.Name(), nameAny) || !(e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0) {
				continue
			}
			// Errors about single units are recorded and skipped.
			if err := in.presetPrepare(plus, minus, e.Name(), ps, &cs); err != nil && !presetIgnored(err) {
				return cs, err
			}
		}
	}
	return cs, in.executePreset(plus, minus, mode, &cs)
}

// readDirUnsorted lists a directory in the order the file system returns
// it, as upstream's readdir loops see it: which unit preset-all meets
// first decides whether an Also= unit is enabled with its main unit or
// disabled on its own.
func readDirUnsorted(dir string) ([]os.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}
