package steadctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/stead-os/stead/lib/api/iosteadmanager"
	"github.com/stead-os/stead/lib/varlinkd"
)

// listFDStore is list-fdstore UNIT: the fds the service keeps in its fd store, as systemctl
// prints them.
func (x *ctl) listFDStore(ctx context.Context, args []string) int {
	if len(args) != 1 {
		x.errorf("list-fdstore takes exactly one unit name")
		return ExitFailure
	}
	name := mangle(args)[0]
	var l []iosteadmanager.FDStoreEntry
	err := x.c.with(ctx, func(vc *varlinkd.Client) (err error) {
		l, err = iosteadmanager.NewClient(vc).ListFDStore(ctx, name)
		return err
	})
	if err != nil {
		return x.fdStoreError("list fd store of", name, err)
	}
	if x.opts.JSON != "" {
		if l == nil {
			l = []iosteadmanager.FDStoreEntry{}
		}
		err = writeJSON(x.stdout, l, x.opts.JSON == "pretty")
	} else {
		err = writeFDStore(x.stdout, l, !x.opts.NoLegend)
	}
	if err != nil {
		return ExitFailure
	}
	return ExitOK
}

// clean is clean --what=fdstore UNIT…: the units' fd stores are emptied. The other kinds
// of resources systemctl cleans (runtime, state, cache, logs, configuration) are not
// supported.
func (x *ctl) clean(ctx context.Context, args []string) int {
	if len(args) == 0 {
		x.errorf("clean needs at least one unit name")
		return ExitFailure
	}
	what := map[string]bool{}
	for _, w := range x.opts.What {
		for _, k := range strings.Split(w, ",") {
			if k != "" {
				what[k] = true
			}
		}
	}
	if len(what) == 0 {
		what = map[string]bool{"runtime": true, "cache": true} // systemctl's default
	}
	for k := range what {
		if k != "fdstore" {
			x.errorf("clean --what=%s is not supported; only --what=fdstore is", k)
			return ExitFailure
		}
	}
	code := ExitOK
	for _, name := range mangle(args) {
		err := x.c.with(ctx, func(vc *varlinkd.Client) error {
			return iosteadmanager.NewClient(vc).ClearFDStore(ctx, name)
		})
		if err != nil {
			if c := x.fdStoreError("clean", name, err); code == ExitOK {
				code = c
			}
		}
	}
	return code
}

func (x *ctl) fdStoreError(what, name string, err error) int {
	var (
		noSuchUnit *iosteadmanager.NoSuchUnit
		notService *iosteadmanager.NotAService
		active     *iosteadmanager.UnitActive
	)
	switch {
	case errors.As(err, &noSuchUnit):
		x.errorf("Failed to %s %s: Unit %s not found.", what, name, name)
		return ExitNoSuchUnit
	case errors.As(err, &notService):
		x.errorf("Failed to %s %s: Unit %s is not a service.", what, name, name)
		return ExitFailure
	case errors.As(err, &active):
		x.errorf("Failed to %s %s: Unit %s is %s; stop it first.", what, name, name, active.ActiveState)
		return ExitFailure
	}
	return x.jobError(what, name, err)
}

// writeFDStore prints l as systemctl list-fdstore does.
func writeFDStore(w io.Writer, l []iosteadmanager.FDStoreEntry, legend bool) error {
	rows := [][]string{{"FDNAME", "TYPE", "DEVNO", "INODE", "RDEVNO", "PATH", "FLAGS"}}
	for _, e := range l {
		r := "-"
		if e.Rdevno != nil {
			r = *e.Rdevno
		}
		rows = append(rows, []string{e.Name, e.Type, e.Devno, strconv.FormatInt(e.Inode, 10), r, e.Path, e.Flags})
	}
	if !legend {
		rows = rows[1:]
	}
	var b strings.Builder
	writeColumns(&b, rows)
	if legend {
		fmt.Fprintf(&b, "\n%d file descriptors listed.\n", len(l))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
