package sysupdate

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/gpt"
)

// ResourceType is a [Source] or [Target] Type=.
type ResourceType string

// Resource types (sysupdate.d(5)).
const (
	URLFile     ResourceType = "url-file"
	URLTar      ResourceType = "url-tar"
	Tar         ResourceType = "tar"
	RegularFile ResourceType = "regular-file"
	Directory   ResourceType = "directory"
	Subvolume   ResourceType = "subvolume"
	Partition   ResourceType = "partition"
)

// sourceTargets says which target types each source type can feed.
var sourceTargets = map[ResourceType][]ResourceType{
	URLFile:     {RegularFile, Partition},
	RegularFile: {RegularFile, Partition},
	URLTar:      {Directory, Subvolume},
	Tar:         {Directory, Subvolume},
	Directory:   {Directory, Subvolume},
	Subvolume:   {Directory, Subvolume},
}

var targetTypes = []ResourceType{Partition, RegularFile, Directory, Subvolume}

// Resource is a transfer's [Source] or [Target].
type Resource struct {
	Type     ResourceType
	Path     string // a URL, or a path on the host (the root prefix included); a device for partitions
	Patterns []*Pattern

	PathRelativeTo    string   // root, esp, xbootldr, boot, explicit
	PartitionType     gpt.GUID // partition targets: MatchPartitionType=
	PartitionTypeName string
}

// IsURL reports whether the resource is fetched over HTTP.
func (r *Resource) IsURL() bool { return r.Type == URLFile || r.Type == URLTar }

// Transfer is one *.transfer file.
type Transfer struct {
	ID   string // file name without ".transfer"
	File string // as read (host path)

	MinVersion        string
	ProtectVersions   []string
	Verify            bool
	ChangeLog         []string
	AppStream         string
	Features          []string
	RequisiteFeatures []string

	Source, Target Resource

	InstancesMax    int
	RemoveTemporary bool
	CurrentSymlink  string
	PartitionUUID   *string
	PartitionFlags  *uint64
	NoAuto, GrowFS  *bool
	ReadOnly        *bool
	Mode            *uint32
	TriesDone       *uint64
	TriesLeft       *uint64
}

// DefaultInstancesMax is InstancesMax= unset: two, an A/B scheme.
const DefaultInstancesMax = 2

// Env is what definitions are read against.
type Env struct {
	Root           string // "/" or a directory holding the OS tree
	AutoDisk       string // with --image=: the loop device, what Path=auto partition targets mean
	Definitions    string // --definitions=: a host directory replacing the search path
	Component      string // --component=
	TransferSource string // --transfer-source= (PathRelativeTo=explicit)
	Spec           *Specifiers
	Warn           func(error) // each unknown key, bad value, bad file (file:line)
}

func (e *Env) warn(err error) {
	if e.Warn != nil {
		e.Warn(err)
	}
}

// DefinitionDirs are the directories (in-root, most important first) *.transfer and
// *.feature files are read from.
func (e *Env) DefinitionDirs() []string {
	if e.Definitions != "" {
		return []string{e.Definitions}
	}
	name := "sysupdate.d"
	if e.Component != "" {
		name = "sysupdate." + e.Component + ".d"
	}
	var dirs []string
	for _, d := range conf.SearchDirs() {
		dirs = append(dirs, path.Join(d, name))
	}
	return dirs
}

// confRoot is the root the definition files are opened under: --definitions= is a host path.
func (e *Env) confRoot() string {
	if e.Definitions != "" {
		return "/"
	}
	return e.Root
}

// hostPath puts an in-root path under the root.
func (e *Env) hostPath(p string) string {
	if e.Root == "" || e.Root == "/" {
		return p
	}
	return filepath.Join(e.Root, p)
}

// listFiles finds the files with suffix in dirs (in-root), the first of each name winning;
// one that is empty or a symlink to /dev/null masks the name. Sorted by name.
func listFiles(root string, dirs []string, suffix string) ([]string, error) {
	seen := map[string]bool{}
	var found []string
	for _, d := range dirs {
		host := d
		if root != "" && root != "/" {
			host = filepath.Join(root, d)
		}
		ents, err := os.ReadDir(host)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, de := range ents {
			n := de.Name()
			if !strings.HasSuffix(n, suffix) || strings.HasPrefix(n, ".") || seen[n] {
				continue
			}
			seen[n] = true
			p := filepath.Join(host, n)
			if masked(p) {
				continue
			}
			found = append(found, path.Join(d, n))
		}
	}
	slices.SortFunc(found, func(a, b string) int { return strings.Compare(path.Base(a), path.Base(b)) })
	return found, nil
}

func masked(p string) bool {
	if t, err := os.Readlink(p); err == nil && t == "/dev/null" {
		return true
	}
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Size() == 0
}

// loadFile reads one definition with its NAME.d/*.conf drop-ins.
func (e *Env) loadFile(p string) (*conf.File, error) {
	var dd []string
	for _, d := range e.DefinitionDirs() {
		dd = append(dd, path.Join(d, path.Base(p)+".d"))
	}
	dropins, err := conf.FindDropins(e.confRoot(), dd)
	if err != nil {
		return nil, err
	}
	return conf.LoadFiles(e.confRoot(), p, dropins, &conf.Options{Warn: e.Warn})
}

// LoadTransfers reads every *.transfer of the selected component. A transfer with an error
// that makes it unusable fails the load (as upstream does); unknown keys are warnings.
func (e *Env) LoadTransfers() ([]*Transfer, error) {
	files, err := listFiles(e.confRoot(), e.DefinitionDirs(), ".transfer")
	if err != nil {
		return nil, err
	}
	var ts []*Transfer
	for _, p := range files {
		f, err := e.loadFile(p)
		if err != nil {
			return nil, err
		}
		t, err := e.parseTransfer(strings.TrimSuffix(path.Base(p), ".transfer"), f)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// transferKeys are the keys each section knows.
var transferKeys = map[string][]string{
	"Transfer": {"MinVersion", "ProtectVersion", "Verify", "ChangeLog", "AppStream", "Features", "RequisiteFeatures"},
	"Source":   {"Type", "Path", "MatchPattern"},
	"Target": {"Type", "Path", "PathRelativeTo", "MatchPattern", "MatchPartitionType", "PartitionUUID",
		"PartitionFlags", "PartitionNoAuto", "PartitionGrowFileSystem", "ReadOnly", "Mode", "TriesDone",
		"TriesLeft", "InstancesMax", "RemoveTemporary", "CurrentSymlink"},
}

// located makes an error that names the entry's file and line.
func located(en conf.Entry, format string, args ...any) error {
	return en.Wrap(fmt.Errorf(format, args...))
}

func (e *Env) parseTransfer(id string, f *conf.File) (*Transfer, error) {
	t := &Transfer{ID: id, Verify: true, InstancesMax: DefaultInstancesMax, RemoveTemporary: true}
	if len(f.Paths) > 0 {
		t.File = f.Paths[0]
	}
	for _, s := range f.Sections() {
		keys, ok := transferKeys[s.Name]
		if !ok {
			e.warn(&conf.Error{File: s.File, Line: s.Line, Msg: "unknown section [" + s.Name + "], ignoring"})
			continue
		}
		for _, en := range s.Entries {
			if !slices.Contains(keys, en.Key) {
				e.warn(located(en, "unknown key in [%s], ignoring", s.Name))
			}
		}
	}
	var errs []error
	fail := func(err error) { errs = append(errs, err) }
	spec := func(en conf.Entry) (string, bool) {
		v, err := e.Spec.Expand(en.Value)
		if err != nil {
			fail(en.Wrap(err))
			return "", false
		}
		return v, true
	}
	last := func(sec, key string) (conf.Entry, bool) {
		en, ok := f.Lookup(sec, key)
		return en, ok && en.Value != ""
	}

	// [Transfer]
	if en, ok := last("Transfer", "MinVersion"); ok {
		if v, ok := spec(en); ok {
			if !ValidVersion(v) {
				fail(located(en, "invalid version %q", v))
			}
			t.MinVersion = v
		}
	}
	for _, en := range f.Entries("Transfer", "ProtectVersion") {
		for _, w := range strings.Fields(en.Value) {
			v, err := e.Spec.Expand(w)
			if err != nil {
				fail(en.Wrap(err))
				continue
			}
			if v == "" { // %A of an OS without IMAGE_VERSION=: nothing to protect
				continue
			}
			if !ValidVersion(v) {
				fail(located(en, "invalid version %q", v))
				continue
			}
			t.ProtectVersions = append(t.ProtectVersions, v)
		}
	}
	if en, ok := last("Transfer", "Verify"); ok {
		b, err := conf.Bool(en)
		if err != nil {
			fail(err)
		}
		t.Verify = b
	}
	for _, en := range f.Entries("Transfer", "ChangeLog") {
		if v, ok := spec(en); ok {
			t.ChangeLog = append(t.ChangeLog, v)
		}
	}
	if en, ok := last("Transfer", "AppStream"); ok {
		if v, ok := spec(en); ok {
			t.AppStream = v
		}
	}
	for _, en := range f.Entries("Transfer", "Features") {
		t.Features = append(t.Features, strings.Fields(en.Value)...)
	}
	for _, en := range f.Entries("Transfer", "RequisiteFeatures") {
		t.RequisiteFeatures = append(t.RequisiteFeatures, strings.Fields(en.Value)...)
	}

	// [Source] and [Target]
	t.Source = e.parseResource(f, "Source", t, fail)
	t.Target = e.parseResource(f, "Target", t, fail)

	if en, ok := last("Target", "PartitionUUID"); ok {
		if u, ok := canonicalUUID(en.Value); ok {
			t.PartitionUUID = &u
		} else {
			fail(located(en, "invalid UUID %q", en.Value))
		}
	}
	if en, ok := last("Target", "PartitionFlags"); ok {
		n, err := strconv.ParseUint(strings.TrimPrefix(en.Value, "0x"), 16, 64)
		if err != nil {
			fail(located(en, "invalid flags %q", en.Value))
		}
		t.PartitionFlags = &n
	}
	for key, dst := range map[string]**bool{"PartitionNoAuto": &t.NoAuto, "PartitionGrowFileSystem": &t.GrowFS, "ReadOnly": &t.ReadOnly} {
		if en, ok := last("Target", key); ok {
			b, err := conf.Bool(en)
			if err != nil {
				fail(err)
				continue
			}
			*dst = &b
		}
	}
	if t.ReadOnly != nil && *t.ReadOnly && t.Target.Type == Directory {
		en, _ := last("Target", "ReadOnly")
		fail(located(en, "ReadOnly= for directory targets (the immutable attribute) is not supported by stead"))
	}
	if en, ok := last("Target", "Mode"); ok {
		n, err := strconv.ParseUint(en.Value, 8, 32)
		if err != nil || n > 0o7777 {
			fail(located(en, "invalid mode %q", en.Value))
		}
		m := uint32(n)
		t.Mode = &m
	}
	for key, dst := range map[string]**uint64{"TriesDone": &t.TriesDone, "TriesLeft": &t.TriesLeft} {
		if en, ok := last("Target", key); ok {
			n, err := strconv.ParseUint(en.Value, 10, 64)
			if err != nil {
				fail(located(en, "invalid number %q", en.Value))
				continue
			}
			*dst = &n
		}
	}
	if en, ok := last("Target", "InstancesMax"); ok {
		n, err := conf.Int("count", 2, 1<<20)(en)
		if err != nil {
			fail(err)
		}
		t.InstancesMax = n
	}
	if en, ok := last("Target", "RemoveTemporary"); ok {
		b, err := conf.Bool(en)
		if err != nil {
			fail(err)
		}
		t.RemoveTemporary = b
	}
	if en, ok := last("Target", "CurrentSymlink"); ok {
		if v, ok := spec(en); ok {
			t.CurrentSymlink = v
			if t.Target.Type == Partition {
				fail(located(en, "CurrentSymlink= is not supported for partition targets"))
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("transfer %s: %w", t.ID, errors.Join(errs...))
	}
	return t, nil
}

func (e *Env) parseResource(f *conf.File, sec string, t *Transfer, fail func(error)) Resource {
	r := Resource{PathRelativeTo: "root"}
	where := func() string {
		if ss := f.SectionsNamed(sec); len(ss) > 0 {
			return fmt.Sprintf("%s:%d", ss[0].File, ss[0].Line)
		}
		return t.File
	}
	en, ok := f.Lookup(sec, "Type")
	switch {
	case !ok || en.Value == "":
		fail(fmt.Errorf("%s: [%s] Type= is missing", where(), sec))
	case sec == "Source" && sourceTargets[ResourceType(en.Value)] == nil:
		fail(located(en, "unknown source type %q", en.Value))
	case sec == "Target" && !slices.Contains(targetTypes, ResourceType(en.Value)):
		fail(located(en, "unknown target type %q", en.Value))
	default:
		r.Type = ResourceType(en.Value)
	}
	if sec == "Target" && r.Type != "" && t.Source.Type != "" && !slices.Contains(sourceTargets[t.Source.Type], r.Type) {
		fail(located(en, "target type %s cannot be fed from source type %s", r.Type, t.Source.Type))
	}
	if r.Type == Subvolume {
		// stead writes plain directories; a btrfs subvolume target would silently be a
		// directory, so it is refused instead.
		fail(located(en, "subvolume resources are not supported by stead (use directory)"))
	}
	source := sec == "Source"
	for _, en := range f.Entries(sec, "MatchPattern") {
		for _, w := range strings.Fields(en.Value) {
			v, err := e.Spec.Expand(w)
			if err != nil {
				fail(en.Wrap(err))
				continue
			}
			p, err := ParsePattern(v, source)
			if err != nil {
				fail(en.Wrap(err))
				continue
			}
			if p.AnyDir && (r.Type == Directory || r.Type == Subvolume) {
				fail(located(en, "the \"**/\" prefix is not supported for %s sources", r.Type))
				continue
			}
			r.Patterns = append(r.Patterns, p)
		}
	}
	if len(r.Patterns) == 0 {
		fail(fmt.Errorf("%s: [%s] MatchPattern= is missing", where(), sec))
	}
	if en, ok := f.Lookup(sec, "PathRelativeTo"); ok && en.Value != "" {
		switch en.Value {
		case "root", "explicit":
			r.PathRelativeTo = en.Value
		case "esp", "xbootldr", "boot":
			if r.Type != RegularFile && r.Type != Directory {
				fail(located(en, "PathRelativeTo=%s needs a regular-file or directory target", en.Value))
			}
			r.PathRelativeTo = en.Value
		default:
			fail(located(en, "unknown anchor %q", en.Value))
		}
	}
	pe, ok := f.Lookup(sec, "Path")
	if !ok || pe.Value == "" {
		fail(fmt.Errorf("%s: [%s] Path= is missing", where(), sec))
	} else if v, err := e.Spec.Expand(pe.Value); err != nil {
		fail(pe.Wrap(err))
	} else {
		p, err := e.resolvePath(r, v)
		if err != nil {
			fail(pe.Wrap(err))
		}
		r.Path = p
	}
	if sec == "Target" && r.Type == Partition {
		r.PartitionTypeName = "linux-generic"
		if en, ok := f.Lookup(sec, "MatchPartitionType"); ok && en.Value != "" {
			r.PartitionTypeName = en.Value
		}
		g, ok := gpt.TypeByName(r.PartitionTypeName)
		if !ok {
			fail(located(en, "unknown partition type %q", r.PartitionTypeName))
		}
		r.PartitionType = g
	}
	return r
}

// resolvePath turns a Path= into what the resource is read from: URLs stay, local paths go
// under the root (or the anchor PathRelativeTo= names).
func (e *Env) resolvePath(r Resource, v string) (string, error) {
	if r.Type == URLFile || r.Type == URLTar {
		if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
			return "", fmt.Errorf("not an HTTP or HTTPS URL: %q", v)
		}
		return strings.TrimSuffix(v, "/"), nil
	}
	if r.Type == Partition && v == "auto" {
		if e.AutoDisk != "" {
			return e.AutoDisk, nil
		}
		return "auto", nil
	}
	if !path.IsAbs(v) {
		return "", fmt.Errorf("path %q is not absolute", v)
	}
	v = path.Clean(v)
	switch r.PathRelativeTo {
	case "explicit":
		if e.TransferSource == "" {
			return "", errors.New("PathRelativeTo=explicit needs --transfer-source=")
		}
		return filepath.Join(e.TransferSource, v), nil
	case "esp", "xbootldr", "boot":
		anchor, err := e.bootAnchor(r.PathRelativeTo)
		if err != nil {
			return "", err
		}
		return e.hostPath(path.Join(anchor, v)), nil
	}
	if r.Type == Partition {
		// A device or disk image: a host path, not one inside the OS tree, unless it exists
		// under the root.
		if _, err := os.Stat(e.hostPath(v)); err == nil {
			return e.hostPath(v), nil
		}
		return v, nil
	}
	return e.hostPath(v), nil
}

// bootAnchor finds the ESP or XBOOTLDR mount point under the root as the Boot Loader
// Specification places them: /efi or /boot (ESP), /boot (XBOOTLDR); "boot" prefers XBOOTLDR.
func (e *Env) bootAnchor(which string) (string, error) {
	cands := map[string][]string{"esp": {"/efi", "/boot"}, "xbootldr": {"/boot"}, "boot": {"/boot", "/efi"}}[which]
	for _, c := range cands {
		if st, err := os.Stat(e.hostPath(c)); err == nil && st.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("no %s directory found under the root (looked at %s)", which, strings.Join(cands, ", "))
}
