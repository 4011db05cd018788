package iosystemdunit

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stead-os/stead/lib/api/apitest"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

// fakeUnits knows units by name; List without a name lists them all.
type fakeUnits struct{ units []Unit }

func (f fakeUnits) List(ctx context.Context, c *varlink.Call, name *string, _ *ProcessId, _, _ *string) error {
	switch {
	case name == nil && len(f.units) > 0:
		return varlinkd.ReplyList(ctx, c, f.units)
	case name != nil && *name == "masked.service":
		return varlinkd.ReplyError(ctx, *c, ErrorUnitMasked, nil)
	case name != nil:
		for _, u := range f.units {
			if u.Context.ID == *name {
				return c.Reply(ctx, u)
			}
		}
	}
	return varlinkd.ReplyError(ctx, *c, ErrorNoSuchUnit, NoSuchUnit{})
}

func TestClient(t *testing.T) {
	a := Unit{Context: UnitContext{ID: "a.service"}, Runtime: UnitRuntime{ActiveState: "active",
		Service: &ServiceRuntime{MainPID: &ProcessId{PID: 7}, Result: "success"}}}
	b := Unit{Context: UnitContext{ID: "b.socket"}, Runtime: UnitRuntime{ActiveState: "inactive"}}
	addr := apitest.Serve(t, filepath.Join(t.TempDir(), "m"), VarlinkNew(fakeUnits{[]Unit{a, b}}))
	c := NewClient(apitest.Dial(t, addr))
	ctx := context.Background()

	units, err := c.List(ctx)
	if err != nil || len(units) != 2 || units[0].Context.ID != "a.service" || units[0].Runtime.Service.MainPID.PID != 7 ||
		units[1].Runtime.ActiveState != "inactive" {
		t.Errorf("List: %+v %v", units, err)
	}
	if u, err := c.Get(ctx, "b.socket"); err != nil || u.Context.ID != "b.socket" {
		t.Errorf("Get: %+v %v", u, err)
	}
	for name, want := range map[string]string{"nope.service": ErrorNoSuchUnit, "masked.service": ErrorUnitMasked} {
		if _, err := c.Get(ctx, name); varlinkd.ErrorName(err) != want {
			t.Errorf("Get %s: %v, want %s", name, err, want)
		}
	}

	empty := NewClient(apitest.Dial(t, apitest.Serve(t, filepath.Join(t.TempDir(), "m"), VarlinkNew(fakeUnits{}))))
	if units, err := empty.List(ctx); err != nil || units != nil {
		t.Errorf("List of a manager without units (NoSuchUnit): %+v %v", units, err)
	}
}

// TestProcessIdForms: a PID is read as upstream's ProcessId object or as a bare number.
func TestProcessIdForms(t *testing.T) {
	var s ServiceRuntime
	if err := json.Unmarshal([]byte(`{"MainPID":{"pid":3,"pidfdId":9},"ExecMain":{"PID":4}}`), &s); err != nil ||
		s.MainPID.PID != 3 || s.ExecMain.PID.PID != 4 {
		t.Errorf("%+v %v", s, err)
	}
	if err := json.Unmarshal([]byte(`{"MainPID":"x"}`), &s); err == nil {
		t.Error("a string accepted as a PID")
	}
	if b, _ := json.Marshal(ProcessId{PID: 5}); string(b) != `{"pid":5}` {
		t.Errorf("marshalled as %s", b)
	}
}
