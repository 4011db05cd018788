package sysupdate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/gpt"
	"github.com/stead-os/stead/services/sysupdate/fetch"
)

// Instance is one version of a resource: a file, a directory, a partition or a manifest
// entry.
type Instance struct {
	Version string
	Meta    Metadata
	Name    string // the name the pattern matched (relative path, label or manifest entry)
	Path    string // host path, URL, or the disk holding the partition

	// Files and directories.
	Mtime time.Time
	Mode  fs.FileMode
	Size  int64

	// url-* sources: the manifest's hash of the file.
	SHA256    [32]byte
	HasSHA256 bool

	// Partitions.
	Partition *gpt.Partition
}

// Slot is a partition of a partition target's type: an instance or "_empty".
type Slot struct {
	Part     gpt.Partition
	Instance *Instance // nil for an empty slot or a label no pattern matches
	Empty    bool
}

// EmptyLabel marks a free partition slot.
const EmptyLabel = "_empty"

// tempPrefix starts every name stead writes before an update completes; no pattern can
// match it (patterns must match the whole name, and none starts with it).
const tempPrefix = ".#sysupdate."

// Discovered is what one resource holds.
type Discovered struct {
	Instances []*Instance // newest first
	Slots     []Slot      // partition targets
	Table     *gpt.Table  // partition targets
	Manifest  []byte      // url-* sources: SHA256SUMS as fetched (and verified)
}

// Fetcher fetches manifests and payloads.
type Fetcher struct {
	Client  *http.Client
	Keyring func() ([]byte, error) // the import keyring
	Offline bool
	Verify  *bool // --verify=: overrides each transfer's Verify=
}

// discoverSource lists the versions a transfer's source offers.
func (c *Context) discoverSource(ctx context.Context, t *Transfer) (*Discovered, error) {
	r := &t.Source
	switch r.Type {
	case URLFile, URLTar:
		if c.Fetch.Offline {
			return &Discovered{}, nil
		}
		return c.discoverManifest(ctx, t)
	case RegularFile, Tar:
		return discoverDir(r, false)
	case Directory:
		return discoverDir(r, true)
	}
	return nil, fmt.Errorf("transfer %s: unsupported source type %s", t.ID, r.Type)
}

// discoverTarget lists the versions a transfer's target holds.
func (c *Context) discoverTarget(t *Transfer) (*Discovered, error) {
	r := &t.Target
	switch r.Type {
	case RegularFile:
		return discoverDir(r, false)
	case Directory:
		return discoverDir(r, true)
	case Partition:
		return discoverPartitions(t)
	}
	return nil, fmt.Errorf("transfer %s: unsupported target type %s", t.ID, r.Type)
}

// discoverDir lists files (or directories) below r.Path that a pattern matches. Patterns
// with slashes match paths below the directory; "**/" ones match at any depth.
func discoverDir(r *Resource, dirs bool) (*Discovered, error) {
	d := &Discovered{}
	depth := 0
	any := false
	for _, p := range r.Patterns {
		depth = max(depth, strings.Count(p.Text, "/"))
		any = any || p.AnyDir
	}
	err := filepath.WalkDir(r.Path, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if p == r.Path && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if p == r.Path {
			return nil
		}
		rel, _ := filepath.Rel(r.Path, p)
		if strings.HasPrefix(de.Name(), ".") {
			if de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if m, ok := MatchAny(r.Patterns, filepath.ToSlash(rel)); ok {
			st, err := os.Stat(p)
			if err == nil && st.IsDir() == dirs && (dirs || st.Mode().IsRegular()) {
				d.Instances = append(d.Instances, &Instance{Version: m.Version, Meta: m, Name: filepath.ToSlash(rel),
					Path: p, Mtime: st.ModTime(), Mode: st.Mode().Perm(), Size: st.Size()})
			}
			if de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if de.IsDir() && !any && strings.Count(rel, "/")+1 > depth {
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortInstances(d.Instances)
	return d, nil
}

func sortInstances(is []*Instance) {
	// newest first; equal versions keep their order
	for i := 1; i < len(is); i++ {
		for j := i; j > 0 && CompareVersions(is[j].Version, is[j-1].Version) > 0; j-- {
			is[j], is[j-1] = is[j-1], is[j]
		}
	}
}

// discoverManifest reads SHA256SUMS (checking SHA256SUMS.gpg when verification is on).
func (c *Context) discoverManifest(ctx context.Context, t *Transfer) (*Discovered, error) {
	data, err := c.Fetch.get(ctx, t.Source.Path+"/SHA256SUMS")
	if err != nil {
		return nil, fmt.Errorf("transfer %s: %w", t.ID, err)
	}
	if c.verify(t) {
		sig, err := c.Fetch.get(ctx, t.Source.Path+"/SHA256SUMS.gpg")
		if err != nil {
			return nil, fmt.Errorf("transfer %s: signature: %w", t.ID, err)
		}
		kr, err := c.Fetch.Keyring()
		if err != nil {
			return nil, fmt.Errorf("transfer %s: import keyring: %w", t.ID, err)
		}
		if err := fetch.VerifyDetached(strings.NewReader(string(kr)), data, sig); err != nil {
			return nil, fmt.Errorf("transfer %s: %s/SHA256SUMS: signature check failed: %w", t.ID, t.Source.Path, err)
		}
	}
	sums, err := fetch.ParseSHA256SUMS(data)
	if err != nil {
		return nil, fmt.Errorf("transfer %s: %s/SHA256SUMS: %w", t.ID, t.Source.Path, err)
	}
	d := &Discovered{Manifest: data}
	for name, sum := range sums {
		if bb, ok := strings.CutPrefix(name, "BEST-BEFORE-"); ok {
			day, err := time.Parse("2006-01-02", bb)
			if err == nil && c.now().After(day.Add(24*time.Hour)) {
				return nil, fmt.Errorf("transfer %s: %s/SHA256SUMS is past its best-before date %s", t.ID, t.Source.Path, bb)
			}
			continue
		}
		if !validManifestName(name) {
			continue
		}
		m, ok := MatchAny(t.Source.Patterns, name)
		if !ok {
			continue
		}
		d.Instances = append(d.Instances, &Instance{Version: m.Version, Meta: m, Name: name,
			Path: t.Source.Path + "/" + name, SHA256: sum, HasSHA256: true})
	}
	sortInstances(d.Instances)
	// Equal versions from two entries: keep the first name in sort order, deterministically.
	return d, nil
}

// validManifestName refuses manifest entries that are absolute, not normalized, or hold '%'.
func validManifestName(n string) bool {
	return n != "" && !path.IsAbs(n) && path.Clean(n) == n && !strings.Contains(n, "%") &&
		!strings.HasPrefix(n, "../") && n != ".." && !strings.Contains(n, "//")
}

func (c *Context) verify(t *Transfer) bool {
	if c.Fetch.Verify != nil {
		return *c.Fetch.Verify
	}
	return t.Verify
}

// get fetches a small file (a manifest or a signature).
func (f *Fetcher) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

// discoverPartitions reads the partition table of a partition target.
func discoverPartitions(t *Transfer) (*Discovered, error) {
	if t.Target.Path == "auto" {
		return nil, fmt.Errorf("transfer %s: Path=auto is only supported by stead with --image= (the image's disk); name the disk", t.ID)
	}
	tab, err := gpt.ReadFile(t.Target.Path)
	if err != nil {
		return nil, fmt.Errorf("transfer %s: %s: %w", t.ID, t.Target.Path, err)
	}
	d := &Discovered{Table: tab}
	for _, p := range tab.Partitions {
		if p.Type != t.Target.PartitionType {
			continue
		}
		s := Slot{Part: p}
		if p.Label == EmptyLabel {
			s.Empty = true
		} else if m, ok := MatchAny(t.Target.Patterns, p.Label); ok {
			pp := p
			s.Instance = &Instance{Version: m.Version, Meta: m, Name: p.Label, Path: t.Target.Path,
				Size: p.Size(tab.SectorSize), Partition: &pp}
			d.Instances = append(d.Instances, s.Instance)
		}
		d.Slots = append(d.Slots, s)
	}
	sortInstances(d.Instances)
	return d, nil
}

// find returns the instance of version v.
func (d *Discovered) find(v string) *Instance {
	for _, i := range d.Instances {
		if CompareVersions(i.Version, v) == 0 {
			return i
		}
	}
	return nil
}
