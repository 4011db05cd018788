package pid1

import (
	"context"

	"github.com/stead-os/stead/lib/api/iosteadmanager"
)

// ListUnitWarnings answers io.stead.Manager.ListUnitWarnings: what lib/unit reported about
// the unit's files when init last loaded them (unknown keys and sections, unsupported
// settings, bad values), each "FILE:LINE: message". Upstream puts these in the journal, where
// systemctl status finds them; stead's status asks for them here. Not privileged: the unit
// files are readable to all.
func (v varlinkJobs) ListUnitWarnings(ctx context.Context, c iosteadmanager.VarlinkCall, name string) error {
	m := v.m
	m.mu.Lock()
	us := m.lookupForQuery(name)
	out := []string{}
	if us != nil {
		for _, w := range us.u.Warnings {
			out = append(out, w.Error())
		}
	}
	m.mu.Unlock()
	if us == nil {
		return c.ReplyNoSuchUnit(ctx, name)
	}
	return c.ReplyListUnitWarnings(ctx, out)
}
