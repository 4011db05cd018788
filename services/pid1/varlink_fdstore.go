package pid1

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/api/iosteadmanager"
	"github.com/stead-os/stead/lib/varlinkd"
)

// ListFDStore serves io.stead.Manager.ListFDStore (fdstore_linux.go).
func (v varlinkJobs) ListFDStore(ctx context.Context, c iosteadmanager.VarlinkCall, name string) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, c.Call); !ok {
		return err
	}
	l, err := v.m.FDStore(name)
	if err != nil {
		return v.replyFDStoreError(ctx, &c, name, err)
	}
	out := make([]iosteadmanager.FDStoreEntry, 0, len(l))
	for _, e := range l {
		w := iosteadmanager.FDStoreEntry{Name: e.Name, Type: e.Type, Devno: devno(e.Dev),
			Inode: int64(e.Inode), Path: e.Path, Flags: e.Flags}
		if e.Type == "chr" || e.Type == "blk" {
			r := devno(e.Rdev)
			w.Rdevno = &r
		}
		out = append(out, w)
	}
	return c.ReplyListFDStore(ctx, out)
}

// ClearFDStore serves io.stead.Manager.ClearFDStore.
func (v varlinkJobs) ClearFDStore(ctx context.Context, c iosteadmanager.VarlinkCall, name string) error {
	if ok, err := varlinkd.RequirePrivileged(ctx, c.Call); !ok {
		return err
	}
	if err := v.m.ClearFDStore(name); err != nil {
		return v.replyFDStoreError(ctx, &c, name, err)
	}
	v.m.log.Info("fd store cleared over varlink", "unit", name)
	return c.ReplyClearFDStore(ctx)
}

func (v varlinkJobs) replyFDStoreError(ctx context.Context, c *iosteadmanager.VarlinkCall, name string, err error) error {
	var (
		ns noSuchUnitError
		na notServiceError
		ua unitActiveError
	)
	switch {
	case errors.As(err, &ns):
		return c.ReplyNoSuchUnit(ctx, name)
	case errors.As(err, &na):
		return c.ReplyNotAService(ctx, name)
	case errors.As(err, &ua):
		return c.ReplyUnitActive(ctx, name, ua.state)
	}
	return v.replyEnqueueError(ctx, c, name, "", err)
}

// devno spells a device number as major:minor.
func devno(d uint64) string { return fmt.Sprintf("%d:%d", unix.Major(d), unix.Minor(d)) }
