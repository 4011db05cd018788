package iosystemdjob

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stead-os/stead/lib/api/apitest"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

type fakeJobs struct{ jobs []Job }

func (f fakeJobs) List(ctx context.Context, c *varlink.Call, _ *int64, _ *string) error {
	if len(f.jobs) == 0 {
		return varlinkd.ReplyError(ctx, *c, ErrorNoSuchJob, NoSuchJob{})
	}
	return varlinkd.ReplyList(ctx, c, f.jobs)
}
func (fakeJobs) Cancel(ctx context.Context, c *varlink.Call, _ int64) error { return c.Reply(ctx, nil) }
func (fakeJobs) ClearAll(ctx context.Context, c *varlink.Call) error        { return c.Reply(ctx, nil) }

func TestClientList(t *testing.T) {
	unit, state := "a.service", "running"
	for _, want := range [][]Job{nil, {{ID: 3, Unit: &unit, JobType: "start", State: &state}, {ID: 4, JobType: "stop"}}} {
		c := NewClient(apitest.Dial(t, apitest.Serve(t, filepath.Join(t.TempDir(), "m"), VarlinkNew(fakeJobs{want}))))
		got, err := c.List(context.Background())
		if err != nil || len(got) != len(want) {
			t.Fatalf("List: %+v %v, want %+v", got, err, want)
		}
		if len(want) > 0 && (got[0].ID != 3 || *got[0].Unit != unit || *got[0].State != state || got[1].JobType != "stop") {
			t.Errorf("List: %+v", got)
		}
	}
}
