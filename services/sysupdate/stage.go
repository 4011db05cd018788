package sysupdate

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/services/sysupdate/fetch"
)

// Staging: every payload is first written under a hidden name (tempPrefix) beside its target
// (in the state directory for partitions): first the download as it comes
// (".download", resumable), then, once its hash is checked, the decompressed payload
// (".staged"). Nothing under such a name is visible as an instance, and the install step only
// renames staged payloads (partitions: copies them into a slot and relabels it).

// stageDir is where transfer t stages its payloads.
func (c *Context) stageDir(t *Transfer) string {
	if t.Target.Type == Partition {
		return filepath.Join(c.StateDir, "staged")
	}
	return t.Target.Path
}

func (c *Context) stagePath(t *Transfer, version, suffix string) string {
	return filepath.Join(c.stageDir(t), tempPrefix+t.ID+"@"+version+suffix)
}

// stagedComplete reports whether t's payload for version is downloaded, verified and staged.
func (c *Context) stagedComplete(t *Transfer, version string) bool {
	_, err := os.Lstat(c.stagePath(t, version, ".staged"))
	return err == nil
}

// stage downloads (or copies), verifies and unpacks src for t into its staged name.
func (c *Context) stage(ctx context.Context, t *Transfer, src *Instance) error {
	staged := c.stagePath(t, src.Version, ".staged")
	if _, err := os.Lstat(staged); err == nil {
		return nil
	}
	if err := os.MkdirAll(c.stageDir(t), 0o755); err != nil {
		return err
	}
	dl := c.stagePath(t, src.Version, ".download")
	if err := writeSourceRecord(c.stagePath(t, src.Version, ".source"), src); err != nil {
		return err
	}
	switch t.Source.Type {
	case URLFile, URLTar:
		c.Progress.Start(t.ID, src.Name)
		began := time.Now()
		// The hash is computed while the download is written (a resumed one: the part
		// already there first); it is checked here, before anything else uses the file.
		n, sum, err := fetch.Download(ctx, c.Fetch.Client, src.Path, dl, c.Progress.Update)
		c.Progress.Done()
		if err != nil {
			return fmt.Errorf("transfer %s: downloading %s: %w (the partial download is kept and resumed by the next attempt)", t.ID, src.Path, err)
		}
		c.Log.Info(fmt.Sprintf("Acquired and hashed %s (%s) in %v.", src.Path, conf.FormatBytes(uint64(n)),
			time.Since(began).Round(time.Millisecond)))
		if sum != src.SHA256 {
			return c.refuseSet(src.Version, fmt.Errorf("transfer %s: %s: SHA256 %x does not match the manifest's %x; the version's downloads were removed",
				t.ID, src.Name, sum, src.SHA256))
		}
		if err := fetch.Finish(dl); err != nil {
			return err
		}
	case RegularFile, Tar:
		sum, err := copyFile(src.Path, dl)
		if err != nil {
			return fmt.Errorf("transfer %s: %w", t.ID, err)
		}
		if src.Meta.SHA256 != nil {
			if sum != *src.Meta.SHA256 {
				os.Remove(dl)
				return fmt.Errorf("transfer %s: %s: SHA256 does not match the name's @h", t.ID, src.Path)
			}
		}
	case Directory:
		tmp := staged + ".tmp"
		os.RemoveAll(tmp)
		if err := copyTree(src.Path, tmp); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("transfer %s: %w", t.ID, err)
		}
		return commitStaged(tmp, staged)
	}
	tmp := staged + ".tmp"
	os.RemoveAll(tmp)
	stripped, open := fetch.Decompressor(src.Name)
	switch t.Source.Type {
	case URLFile, RegularFile:
		if stripped != src.Name {
			break
		}
		// Not compressed: the verified download itself becomes the staged payload.
		if err := os.Chmod(dl, c.fileMode(t, src)); err != nil {
			return err
		}
		if err := os.Rename(dl, tmp); err != nil {
			return err
		}
		if src.Meta.Mtime != nil {
			mt := time.UnixMicro(int64(*src.Meta.Mtime))
			os.Chtimes(tmp, mt, mt)
		}
		return commitStaged(tmp, staged)
	}
	switch t.Source.Type {
	case URLTar, Tar:
		if err := untarFile(dl, tmp, open); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("transfer %s: unpacking %s: %w", t.ID, src.Name, err)
		}
	default:
		if err := decompressFile(dl, tmp, open, c.fileMode(t, src)); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("transfer %s: decompressing %s: %w", t.ID, src.Name, err)
		}
		if src.Meta.Mtime != nil {
			mt := time.UnixMicro(int64(*src.Meta.Mtime))
			os.Chtimes(tmp, mt, mt)
		}
	}
	if err := commitStaged(tmp, staged); err != nil {
		return err
	}
	return os.Remove(dl)
}

// refuseSet removes everything staged or downloaded for version in every transfer: its
// source is corrupt, and nothing of it may stay behind.
func (c *Context) refuseSet(version string, err error) error {
	for _, t := range c.Transfers {
		fetch.Discard(c.stagePath(t, version, ".download"))
		for _, suf := range []string{".staged", ".staged.tmp", ".source", ".source.tmp"} {
			os.RemoveAll(c.stagePath(t, version, suf))
		}
	}
	return err
}

// fileMode is the mode of an installed file: Mode=, else the source name's @m, else 0644;
// ReadOnly=yes drops the write bits.
func (c *Context) fileMode(t *Transfer, src *Instance) fs.FileMode {
	m := fs.FileMode(0o644)
	if t.Mode != nil {
		m = fs.FileMode(*t.Mode)
	} else if src.Meta.Mode != nil {
		m = fs.FileMode(*src.Meta.Mode)
	}
	if t.ReadOnly != nil && *t.ReadOnly {
		m &^= 0o222
	}
	return m
}

// commitStaged renames tmp to its staged name after syncing it, and syncs the directory.
func commitStaged(tmp, staged string) error {
	if err := syncPath(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, staged); err != nil {
		return err
	}
	return syncDir(filepath.Dir(staged))
}

// copyFile copies src to dst durably and returns the SHA-256 of the bytes copied, computed
// as they are written.
func copyFile(src, dst string) ([32]byte, error) {
	var sum [32]byte
	in, err := os.Open(src)
	if err != nil {
		return sum, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return sum, err
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(io.MultiWriter(out, h), in, make([]byte, 1<<20)); err != nil {
		out.Close()
		return sum, err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, out.Close()
}

func decompressFile(src, dst string, open func(io.Reader) (io.ReadCloser, error), mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	r, err := open(in)
	if err != nil {
		return err
	}
	defer r.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(out, r, make([]byte, 1<<20))
	if err == nil {
		err = out.Chmod(mode)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// untarFile unpacks a (compressed) tar archive into a new directory dst. Names that would
// leave dst are refused.
func untarFile(src, dst string, open func(io.Reader) (io.ReadCloser, error)) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	r, err := open(in)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if name == "." {
			continue
		}
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("archive entry %q leaves the directory", h.Name)
		}
		p := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := fs.FileMode(h.Mode) & fs.ModePerm
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, mode|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeLink:
			ln := filepath.Clean(h.Linkname)
			if filepath.IsAbs(ln) || strings.HasPrefix(ln, "../") {
				return fmt.Errorf("archive hard link %q leaves the directory", h.Linkname)
			}
			if err := os.Link(filepath.Join(dst, ln), p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("archive entry %q: unsupported type %q", h.Name, h.Typeflag)
		}
		os.Chtimes(p, h.ModTime, h.ModTime)
	}
}

// copyTree copies a directory tree (files, directories, symlinks).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			return os.MkdirAll(out, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, out)
		case info.Mode().IsRegular():
			if _, err := copyFile(p, out); err != nil {
				return err
			}
			return os.Chmod(out, info.Mode().Perm())
		}
		return fmt.Errorf("%s: unsupported file type", p)
	})
}

// syncPath fsyncs a file, or every file of a directory tree.
func syncPath(p string) error {
	return filepath.WalkDir(p, func(q string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		f, err := os.Open(q)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}

func syncDir(d string) error {
	f, err := os.Open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

var _ = context.Background

// The source record beside a staged payload keeps what the source's name said (UUID, flags,
// hash …), so that a set acquired earlier can be installed offline under the right names.

func writeSourceRecord(p string, src *Instance) error {
	b, err := json.Marshal(src)
	if err != nil {
		return err
	}
	return writeSynced(p, b)
}

func readSourceRecord(p string) (*Instance, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var in Instance
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &in, nil
}

// stagedSources lists the versions staged for t, from their source records.
func (c *Context) stagedSources(t *Transfer) *Discovered {
	d := &Discovered{}
	ents, _ := os.ReadDir(c.stageDir(t))
	own := tempPrefix + t.ID + "@"
	for _, de := range ents {
		v, ok := strings.CutPrefix(de.Name(), own)
		if !ok {
			continue
		}
		if v, ok = strings.CutSuffix(v, ".source"); !ok || !c.stagedComplete(t, v) {
			continue
		}
		if in, err := readSourceRecord(filepath.Join(c.stageDir(t), de.Name())); err == nil {
			d.Instances = append(d.Instances, in)
		}
	}
	sortInstances(d.Instances)
	return d
}
