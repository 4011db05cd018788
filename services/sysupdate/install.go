package sysupdate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/stead-os/stead/lib/gpt"
)

// The install step. Once every payload of a set is staged and verified, the changes it
// takes to install the set are written down first, as a journal of idempotent steps
// (journal.go's file in the state directory), and then carried out in order, the journal
// recording each finished step. A run that finds a journal finishes it before anything else,
// so a kill at any point ends, after the next run, with the set installed: never with a
// half-renamed set left behind, nor with a retry refusing to go on.

// Step kinds.
const (
	stepRemove  = "remove"     // delete Path (a file or directory tree)
	stepEmpty   = "empty-slot" // relabel partition Index of Disk "_empty"
	stepWrite   = "write-slot" // copy Staged into partition Index of Disk
	stepRename  = "rename"     // rename Staged to Path
	stepLabel   = "label"      // set partition Index's label, UUID and flags
	stepSymlink = "symlink"    // point the symlink Path at Target
	stepUnstage = "unstage"    // delete the staged partition payload Staged
)

// step is one idempotent change.
type step struct {
	Op       string `json:"op"`
	Transfer string `json:"transfer"`
	Path     string `json:"path,omitempty"`
	Staged   string `json:"staged,omitempty"`
	Target   string `json:"target,omitempty"`
	Disk     string `json:"disk,omitempty"`
	Index    int    `json:"index,omitempty"`
	Label    string `json:"label,omitempty"`
	UUID     string `json:"uuid,omitempty"`
	Flags    uint64 `json:"flags,omitempty"`
}

// journal is an install in progress.
type journal struct {
	Version string `json:"version"`
	Steps   []step `json:"steps"`
	Done    int    `json:"done"` // steps finished
}

func (c *Context) journalPath() string {
	name := "install.journal"
	if c.Env.Component != "" {
		name = "install@" + c.Env.Component + ".journal"
	}
	return filepath.Join(c.StateDir, name)
}

func (c *Context) writeJournal(j *journal) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.StateDir, 0o755); err != nil {
		return err
	}
	return writeSynced(c.journalPath(), b)
}

// writeSynced replaces p with data durably: temporary file, fsync, rename, fsync of the
// directory (lib/atomicfile does not sync, which a journal needs).
func writeSynced(p string, data []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(p))
}

// loadJournal returns the unfinished install, nil when there is none.
func (c *Context) loadJournal() (*journal, error) {
	b, err := os.ReadFile(c.journalPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%s: %w", c.journalPath(), err)
	}
	return &j, nil
}

// Resume finishes an install a previous run left unfinished; it reports the version.
func (c *Context) Resume() (string, error) {
	j, err := c.loadJournal()
	if err != nil || j == nil {
		return "", err
	}
	c.Log.Info("Finishing the interrupted installation of version " + j.Version + ".")
	return j.Version, c.run(j)
}

// run carries out the journal's steps from the first unfinished one, then removes it.
func (c *Context) run(j *journal) error {
	hook(c, "install-start")
	for j.Done < len(j.Steps) {
		s := j.Steps[j.Done]
		if err := c.do(s); err != nil {
			return fmt.Errorf("transfer %s: %s: %w", s.Transfer, s.Op, err)
		}
		j.Done++
		if err := c.writeJournal(j); err != nil {
			return err
		}
		hook(c, "after-"+s.Op)
	}
	if err := os.Remove(c.journalPath()); err != nil {
		return err
	}
	return syncDir(c.StateDir)
}

func (c *Context) do(s step) error {
	switch s.Op {
	case stepRemove:
		if err := os.RemoveAll(s.Path); err != nil {
			return err
		}
		removeEmptyParents(filepath.Dir(s.Path), s.Target)
		return syncDir(filepath.Dir(s.Path))
	case stepRename:
		if _, err := os.Lstat(s.Staged); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Lstat(s.Path); err == nil {
				return nil // renamed before the last kill
			}
			return fmt.Errorf("%s: staged payload is gone", s.Staged)
		}
		if err := os.MkdirAll(filepath.Dir(s.Path), 0o755); err != nil {
			return err
		}
		if err := os.Rename(s.Staged, s.Path); err != nil {
			return err
		}
		return syncDir(filepath.Dir(s.Path))
	case stepSymlink:
		tmp := filepath.Join(filepath.Dir(s.Path), tempPrefix+filepath.Base(s.Path)+".link")
		os.Remove(tmp)
		if err := os.Symlink(s.Target, tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, s.Path); err != nil {
			return err
		}
		return syncDir(filepath.Dir(s.Path))
	case stepEmpty:
		return relabel(s.Disk, s.Index, func(p *gpt.Partition) { p.Label = EmptyLabel })
	case stepLabel:
		return relabel(s.Disk, s.Index, func(p *gpt.Partition) {
			p.Label = s.Label
			p.Flags = s.Flags
			if s.UUID != "" {
				if g, err := gpt.ParseGUID(s.UUID); err == nil {
					p.UUID = g
				}
			}
		})
	case stepWrite:
		return writeSlot(s.Disk, s.Index, s.Staged)
	case stepUnstage:
		err := os.Remove(s.Staged)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return fmt.Errorf("unknown step %q", s.Op)
}

// removeEmptyParents removes directories emptied by a removal, up to (not including) top.
func removeEmptyParents(d, top string) {
	for top != "" && d != top && len(d) > len(top) {
		if os.Remove(d) != nil {
			return
		}
		d = filepath.Dir(d)
	}
}

// relabel rewrites one partition entry of disk.
func relabel(disk string, index int, change func(*gpt.Partition)) error {
	tab, err := gpt.ReadFile(disk)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(tab.Partitions, func(p gpt.Partition) bool { return p.Index == index })
	if i < 0 {
		return fmt.Errorf("%s: no partition %d", disk, index)
	}
	p := tab.Partitions[i]
	change(&p)
	if err := tab.Update(p); err != nil {
		return err
	}
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tab.Write(f); err != nil {
		return err
	}
	rereadPartitions(f)
	return nil
}

// writeSlot copies a staged payload into a partition.
func writeSlot(disk string, index int, staged string) error {
	tab, err := gpt.ReadFile(disk)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(tab.Partitions, func(p gpt.Partition) bool { return p.Index == index })
	if i < 0 {
		return fmt.Errorf("%s: no partition %d", disk, index)
	}
	p := tab.Partitions[i]
	in, err := os.Open(staged)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if st.Size() > p.Size(tab.SectorSize) {
		return fmt.Errorf("payload of %d bytes does not fit partition %d (%d bytes)", st.Size(), index, p.Size(tab.SectorSize))
	}
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	w := io.NewOffsetWriter(f, p.Offset(tab.SectorSize))
	if _, err := io.CopyBuffer(w, in, make([]byte, 1<<20)); err != nil {
		return err
	}
	return f.Sync()
}
