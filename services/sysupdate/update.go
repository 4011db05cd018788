package sysupdate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/stead-os/stead/lib/gpt"
	"golang.org/x/sys/unix"
)

// ErrNoUpdate means there is nothing newer to install (io.systemd.SysUpdate.NoUpdateNeeded).
var ErrNoUpdate = errors.New("no update needed")

// Lock takes the state directory's lock (one run changes things at a time); unlock with the
// returned function.
func (c *Context) Lock() (func(), error) {
	if err := os.MkdirAll(c.StateDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(c.StateDir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Result says what an update did.
type Result struct {
	Set       *UpdateSet
	Installed bool     // false: only acquired
	Resources []string // installed paths (or disk:partition) per transfer, for Notify
}

// Update brings the newest available version (or version) in: acquire downloads and stages
// it; install also makes room and installs it. The lock must be held.
func (c *Context) Update(ctx context.Context, version string, install bool) (*Result, error) {
	if _, err := c.Resume(); err != nil {
		return nil, fmt.Errorf("finishing the interrupted installation: %w", err)
	}
	if err := c.Discover(ctx, !c.Fetch.Offline); err != nil {
		return nil, err
	}
	if c.Fetch.Offline {
		// Only what an earlier acquire staged can be installed.
		for i, t := range c.Transfers {
			c.sources[i] = c.stagedSources(t)
		}
		c.buildSets()
	}
	var us *UpdateSet
	if version != "" {
		us = c.Find(version)
		if us == nil || (!us.Available && !us.Installed) {
			return nil, fmt.Errorf("version %s is not available", version)
		}
	} else if us = c.Candidate(); us == nil {
		return nil, ErrNoUpdate
	}
	if us.Installed {
		return nil, ErrNoUpdate
	}
	if !us.Available {
		return nil, fmt.Errorf("version %s is not offered by every transfer's source", us.Version)
	}
	c.Log.Info("Selected update '" + us.Version + "' for install.")
	c.removeStaleTemporaries(us.Version)
	for i, t := range c.Transfers {
		if us.Targets[i] != nil {
			continue
		}
		if err := c.stage(ctx, t, us.Sources[i]); err != nil {
			return nil, err
		}
		hook(c, "after-stage")
	}
	res := &Result{Set: us}
	if !install {
		c.Log.Info("Version " + us.Version + " acquired.")
		return res, nil
	}
	j, resources, err := c.plan(us)
	if err != nil {
		return nil, err
	}
	if err := c.writeJournal(j); err != nil {
		return nil, err
	}
	hook(c, "journal-written")
	if err := c.run(j); err != nil {
		return nil, err
	}
	res.Installed, res.Resources = true, resources
	c.Log.Info("Successfully installed update '" + us.Version + "'.")
	return res, nil
}

// removeStaleTemporaries removes what earlier runs left under temporary names for versions
// other than keep (RemoveTemporary=): a partial download of the version being installed is
// kept to be resumed.
func (c *Context) removeStaleTemporaries(keep string) {
	for _, t := range c.Transfers {
		if !t.RemoveTemporary {
			continue
		}
		ents, err := os.ReadDir(c.stageDir(t))
		if err != nil {
			continue
		}
		own := tempPrefix + t.ID + "@"
		for _, de := range ents {
			n := de.Name()
			if !strings.HasPrefix(n, own) {
				continue
			}
			v := strings.TrimPrefix(n, own)
			for _, suf := range []string{".download.validator.tmp", ".download.validator", ".download", ".staged.tmp", ".staged", ".source.tmp", ".source"} {
				if s, ok := strings.CutSuffix(v, suf); ok {
					v = s
					break
				}
			}
			if v != keep {
				os.RemoveAll(filepath.Join(c.stageDir(t), n))
			}
		}
	}
}

// plan decides, before anything is changed, how to install us: what to remove to stay
// within InstancesMax= (never a protected version, never more than needed), which partition
// slot takes each partition payload, and the final names. It fails, changing nothing, when
// there is no room.
func (c *Context) plan(us *UpdateSet) (*journal, []string, error) {
	j := &journal{Version: us.Version}
	var removes, writes, renames, links, unstages []step
	var resources []string
	for i, t := range c.Transfers {
		if us.Targets[i] != nil {
			continue
		}
		src := us.Sources[i]
		staged := c.stagePath(t, us.Version, ".staged")
		unstages = append(unstages, step{Op: stepUnstage, Transfer: t.ID, Staged: c.stagePath(t, us.Version, ".source")})
		st, err := os.Stat(staged)
		if err != nil {
			return nil, nil, err
		}
		// Room for one more: the oldest unprotected versions go until at most InstancesMax-1
		// remain.
		excess := c.excess(t, c.targets[i].Instances, t.InstancesMax-1, false)
		if t.Target.Type == Partition {
			slot, freed, err := c.pickSlot(t, c.targets[i], excess, st.Size())
			if err != nil {
				return nil, nil, err
			}
			for _, in := range freed {
				removes = append(removes, step{Op: stepEmpty, Transfer: t.ID, Disk: t.Target.Path, Index: in.Partition.Index})
			}
			m, flags, uuid := c.partitionMeta(t, src, slot, st)
			label, err := t.Target.Patterns[0].Format(m)
			if err != nil {
				return nil, nil, fmt.Errorf("transfer %s: %w", t.ID, err)
			}
			if len(label) > 36 {
				return nil, nil, fmt.Errorf("transfer %s: partition label %q is longer than 36 characters", t.ID, label)
			}
			writes = append(writes, step{Op: stepWrite, Transfer: t.ID, Disk: t.Target.Path, Index: slot.Index, Staged: staged})
			renames = append(renames, step{Op: stepLabel, Transfer: t.ID, Disk: t.Target.Path, Index: slot.Index, Label: label, Flags: flags, UUID: uuid})
			unstages = append(unstages, step{Op: stepUnstage, Transfer: t.ID, Staged: staged})
			resources = append(resources, fmt.Sprintf("%s:%d", t.Target.Path, slot.Index))
			continue
		}
		for _, in := range excess {
			removes = append(removes, step{Op: stepRemove, Transfer: t.ID, Path: in.Path, Target: t.Target.Path})
		}
		m := c.fileMeta(t, src, st)
		name, err := t.Target.Patterns[0].Format(m)
		if err != nil {
			return nil, nil, fmt.Errorf("transfer %s: %w", t.ID, err)
		}
		final := filepath.Join(t.Target.Path, filepath.FromSlash(name))
		renames = append(renames, step{Op: stepRename, Transfer: t.ID, Staged: staged, Path: final})
		resources = append(resources, final)
		if t.CurrentSymlink != "" {
			link := t.CurrentSymlink
			if !filepath.IsAbs(link) {
				link = filepath.Join(t.Target.Path, link)
			} else {
				link = c.Env.hostPath(link)
			}
			rel, err := filepath.Rel(filepath.Dir(link), final)
			if err != nil {
				rel = final
			}
			links = append(links, step{Op: stepSymlink, Transfer: t.ID, Path: link, Target: rel})
		}
	}
	j.Steps = slices.Concat(removes, writes, renames, links, unstages)
	return j, resources, nil
}

// excess picks what to remove so that at most keep of instances (newest first) remain:
// the oldest first, never a protected version (which still counts), and with keepNewest
// never the newest (vacuum keeps the current version; an update may replace it, when all
// older ones are protected, since the update brings a newer one).
func (c *Context) excess(t *Transfer, instances []*Instance, keep int, keepNewest bool) []*Instance {
	var out []*Instance
	n := len(instances)
	last := 0
	if keepNewest {
		last = 1
	}
	for k := len(instances) - 1; k >= last && n > keep; k-- {
		if c.protected(t, instances[k].Version) {
			continue
		}
		out = append(out, instances[k])
		n--
	}
	return out
}

// protected reports whether version v of t must be kept: ProtectVersion= (%A, %B, %w …).
func (c *Context) protected(t *Transfer, v string) bool {
	return slices.ContainsFunc(t.ProtectVersions, func(p string) bool { return CompareVersions(p, v) == 0 })
}

// pickSlot finds the partition for a payload of size bytes: an empty slot, else the slot of
// the oldest excess version; freed lists the slots to empty (the excess ones).
func (c *Context) pickSlot(t *Transfer, d *Discovered, excess []*Instance, size int64) (gpt.Partition, []*Instance, error) {
	fits := func(p gpt.Partition) bool { return p.Size(d.Table.SectorSize) >= size }
	for _, s := range d.Slots {
		if s.Empty && fits(s.Part) {
			return s.Part, excess, nil
		}
	}
	for _, in := range excess {
		if fits(*in.Partition) {
			return *in.Partition, excess, nil
		}
	}
	// Fewer slots than InstancesMax= allows: the oldest unprotected version that fits gives
	// its slot.
	for k := len(d.Instances) - 1; k >= 0; k-- {
		in := d.Instances[k]
		if !c.protected(t, in.Version) && !slices.Contains(excess, in) && fits(*in.Partition) {
			return *in.Partition, append(excess, in), nil
		}
	}
	return gpt.Partition{}, nil, fmt.Errorf("transfer %s: no free partition slot of type %s (%s) large enough for %d bytes on %s, and no version may be removed (InstancesMax=%d, protected: %s); nothing was changed",
		t.ID, t.Target.PartitionTypeName, t.Target.PartitionType, size, t.Target.Path, t.InstancesMax, strings.Join(t.ProtectVersions, " "))
}

// fileMeta is what a new file's name is made from.
func (c *Context) fileMeta(t *Transfer, src *Instance, st fs.FileInfo) Metadata {
	m := src.Meta
	m.Version = src.Version
	size := uint64(st.Size())
	m.Size = &size
	mt := uint64(st.ModTime().UnixMicro())
	if m.Mtime == nil {
		m.Mtime = &mt
	}
	mode := uint32(st.Mode().Perm())
	m.Mode = &mode
	m.TriesDone, m.TriesLeft = t.TriesDone, t.TriesLeft
	if src.HasSHA256 {
		h := src.SHA256
		m.SHA256 = &h
	}
	return m
}

// partitionMeta is a new partition's label fields, flags and UUID ("" keeps the slot's).
func (c *Context) partitionMeta(t *Transfer, src *Instance, slot gpt.Partition, st fs.FileInfo) (Metadata, uint64, string) {
	m := c.fileMeta(t, src, st)
	flags := slot.Flags
	if t.PartitionFlags != nil {
		flags = *t.PartitionFlags
	} else if src.Meta.Flags != nil {
		flags = *src.Meta.Flags
	}
	bit := func(set *bool, fromName *bool, b uint64) {
		v := set
		if v == nil {
			v = fromName
		}
		if v == nil {
			return
		}
		if *v {
			flags |= b
		} else {
			flags &^= b
		}
	}
	bit(t.NoAuto, src.Meta.NoAuto, gpt.NoAutoFlag)
	bit(t.GrowFS, src.Meta.GrowFS, gpt.GrowFileSystemFlag)
	bit(t.ReadOnly, src.Meta.ReadOnly, gpt.ReadOnlyFlag)
	uuid := ""
	if t.PartitionUUID != nil {
		uuid = *t.PartitionUUID
	} else if src.Meta.PartitionUUID != nil {
		uuid = *src.Meta.PartitionUUID
	}
	u := uuid
	if u == "" {
		u = slot.UUID.String()
	}
	m.PartitionUUID = &u
	m.Flags = &flags
	na, ro, gf := flags&gpt.NoAutoFlag != 0, flags&gpt.ReadOnlyFlag != 0, flags&gpt.GrowFileSystemFlag != 0
	m.NoAuto, m.ReadOnly, m.GrowFS = &na, &ro, &gf
	return m, flags, uuid
}

// Vacuum removes versions beyond InstancesMax= of every transfer (never protected ones),
// the partial set of an interrupted update and stale temporary files. It returns how many
// instances it removed. The lock must be held.
func (c *Context) Vacuum(ctx context.Context) (int, error) {
	if _, err := c.Resume(); err != nil {
		return 0, err
	}
	if err := c.Discover(ctx, false); err != nil {
		return 0, err
	}
	j := &journal{Version: "vacuum"}
	for i, t := range c.Transfers {
		for _, in := range c.excess(t, c.targets[i].Instances, t.InstancesMax, true) {
			if t.Target.Type == Partition {
				j.Steps = append(j.Steps, step{Op: stepEmpty, Transfer: t.ID, Disk: t.Target.Path, Index: in.Partition.Index})
			} else {
				j.Steps = append(j.Steps, step{Op: stepRemove, Transfer: t.ID, Path: in.Path, Target: t.Target.Path})
			}
		}
	}
	if len(j.Steps) == 0 {
		return 0, nil
	}
	if err := c.writeJournal(j); err != nil {
		return 0, err
	}
	return len(j.Steps), c.run(j)
}

// rereadPartitions asks the kernel to reread a block device's table (BLKRRPART); files and
// busy disks refuse, which is fine: the table on disk is what counts.
func rereadPartitions(f *os.File) {
	st, err := f.Stat()
	if err != nil || st.Mode()&fs.ModeDevice == 0 {
		return
	}
	unix.IoctlSetInt(int(f.Fd()), unix.BLKRRPART, 0)
}

// hook kills the process at a named point when $STEAD_SYSUPDATE_KILL_AT names it ("NAME" or
// "NAME#N" for its N-th occurrence): the fault-injection tests use it to interrupt an update
// at each phase. Without the variable it does nothing.
func hook(c *Context, name string) {
	want := os.Getenv("STEAD_SYSUPDATE_KILL_AT")
	if want == "" {
		return
	}
	n := 1
	if w, count, ok := strings.Cut(want, "#"); ok {
		want = w
		n, _ = strconv.Atoi(count)
	}
	if want != name {
		return
	}
	hookCounts[name]++
	if hookCounts[name] == n {
		c.Log.Warn("killed at " + name + " ($STEAD_SYSUPDATE_KILL_AT)")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}

var hookCounts = map[string]int{}
