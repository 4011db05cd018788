package iosteadmanager

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stead-os/stead/lib/api/apitest"
)

// fakeJobs answers by unit name: ok.service succeeds (a first reply with the state when
// asked for more), the others fail with the error named like them.
type fakeJobs struct {
	mu    sync.Mutex
	modes []string
}

func (f *fakeJobs) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.modes...)
}

func (f *fakeJobs) reply(ctx context.Context, c VarlinkCall, name, jobType string, mode *JobMode) error {
	if mode != nil {
		f.mu.Lock()
		f.modes = append(f.modes, string(*mode))
		f.mu.Unlock()
	}
	switch name {
	case "ok.service":
		if c.WantsMore() {
			c.Continues = true
			waiting := "waiting"
			if err := c.ReplyStartUnit(ctx, 9, name, jobType, &waiting, nil); err != nil {
				return err
			}
			c.Continues = false
		}
		done := "done"
		return c.ReplyStartUnit(ctx, 9, name, jobType, nil, &done)
	case "masked.service":
		return c.ReplyUnitNotLoaded(ctx, name, "masked")
	case "failed.service":
		return c.ReplyJobFailed(ctx, 9, name, jobType, "assert")
	case "down.service":
		return c.ReplyShuttingDown(ctx)
	}
	return c.ReplyNoSuchUnit(ctx, name)
}

func (f *fakeJobs) StartUnit(ctx context.Context, c VarlinkCall, name string, mode *JobMode) error {
	return f.reply(ctx, c, name, "start", mode)
}
func (f *fakeJobs) StopUnit(ctx context.Context, c VarlinkCall, name string, mode *JobMode) error {
	return f.reply(ctx, c, name, "stop", mode)
}
func (f *fakeJobs) RestartUnit(ctx context.Context, c VarlinkCall, name string, mode *JobMode) error {
	return f.reply(ctx, c, name, "restart", mode)
}
func (f *fakeJobs) ReloadUnit(ctx context.Context, c VarlinkCall, name string, mode *JobMode) error {
	return f.reply(ctx, c, name, "reload", mode)
}

func (f *fakeJobs) ListFDStore(ctx context.Context, c VarlinkCall, name string) error {
	if name != "ok.service" {
		return c.ReplyNotAService(ctx, name)
	}
	r := "1:3"
	return c.ReplyListFDStore(ctx, []FDStoreEntry{{Name: "db", Type: "chr", Devno: "0:5", Inode: 4, Rdevno: &r, Path: "/dev/null", Flags: "rw"}})
}
func (f *fakeJobs) ClearFDStore(ctx context.Context, c VarlinkCall, name string) error {
	if name != "ok.service" {
		return c.ReplyUnitActive(ctx, name, "active")
	}
	return c.ReplyClearFDStore(ctx)
}

func (f *fakeJobs) ListUnitWarnings(ctx context.Context, c VarlinkCall, name string) error {
	if name != "ok.service" {
		return c.ReplyNoSuchUnit(ctx, name)
	}
	return c.ReplyListUnitWarnings(ctx, []string{"/etc/systemd/system/ok.service:3: Unknown key 'X' in section [Service], ignoring"})
}

func TestClientListUnitWarnings(t *testing.T) {
	addr := apitest.Serve(t, filepath.Join(t.TempDir(), "m"), VarlinkNew(&fakeJobs{}))
	c := NewClient(apitest.Dial(t, addr))
	ctx := context.Background()
	w, err := c.ListUnitWarnings(ctx, "ok.service")
	if err != nil || len(w) != 1 || !strings.Contains(w[0], "ok.service:3:") {
		t.Errorf("ListUnitWarnings: %q %v", w, err)
	}
	var ns *NoSuchUnit
	if _, err := c.ListUnitWarnings(ctx, "nope.service"); !errors.As(err, &ns) {
		t.Errorf("NoSuchUnit: %#v", err)
	}
}

func TestClientFDStore(t *testing.T) {
	addr := apitest.Serve(t, filepath.Join(t.TempDir(), "m"), VarlinkNew(&fakeJobs{}))
	c := NewClient(apitest.Dial(t, addr))
	ctx := context.Background()
	l, err := c.ListFDStore(ctx, "ok.service")
	if err != nil || len(l) != 1 || l[0].Name != "db" || l[0].Rdevno == nil || *l[0].Rdevno != "1:3" {
		t.Errorf("ListFDStore: %+v %v", l, err)
	}
	var notService *NotAService
	if _, err := c.ListFDStore(ctx, "x.socket"); !errors.As(err, &notService) || notService.Name != "x.socket" {
		t.Errorf("NotAService: %#v", err)
	}
	if err := c.ClearFDStore(ctx, "ok.service"); err != nil {
		t.Errorf("ClearFDStore: %v", err)
	}
	var active *UnitActive
	if err := c.ClearFDStore(ctx, "busy.service"); !errors.As(err, &active) || active.ActiveState != "active" {
		t.Errorf("UnitActive: %#v", err)
	}
}

func TestClient(t *testing.T) {
	f := &fakeJobs{}
	addr := apitest.Serve(t, filepath.Join(t.TempDir(), "m"), VarlinkNew(f))
	c := NewClient(apitest.Dial(t, addr))
	ctx := context.Background()

	r, err := c.StartUnit(ctx, "ok.service", JobOptions{})
	if err != nil || r.JobID != 9 || r.JobType != "start" || r.Result == nil || *r.Result != "done" || r.State != nil {
		t.Errorf("StartUnit: %+v %v", r, err)
	}
	if r, err := c.StopUnit(ctx, "ok.service", JobOptions{}); err != nil || r.JobType != "stop" {
		t.Errorf("StopUnit: %+v %v", r, err)
	}
	// A NoBlock call is its connection's last.
	r, err = NewClient(apitest.Dial(t, addr)).RestartUnit(ctx, "ok.service", JobOptions{NoBlock: true, Mode: "fail"})
	if err != nil || r.JobType != "restart" || r.State == nil || *r.State != "waiting" || r.Result != nil {
		t.Errorf("RestartUnit, no block: %+v %v", r, err)
	}
	if modes := f.sent(); len(modes) != 1 || modes[0] != "fail" {
		t.Errorf("modes sent: %q", modes)
	}

	var (
		noSuchUnit *NoSuchUnit
		unloaded   *UnitNotLoaded
		failed     *JobFailed
		down       *ShuttingDown
	)
	if _, err := c.ReloadUnit(ctx, "nope.service", JobOptions{}); !errors.As(err, &noSuchUnit) || noSuchUnit.Name != "nope.service" {
		t.Errorf("NoSuchUnit: %#v", err)
	}
	if _, err := c.StartUnit(ctx, "masked.service", JobOptions{}); !errors.As(err, &unloaded) || unloaded.LoadState != "masked" {
		t.Errorf("UnitNotLoaded: %#v", err)
	}
	if _, err := c.StartUnit(ctx, "failed.service", JobOptions{}); !errors.As(err, &failed) || failed.Result != "assert" {
		t.Errorf("JobFailed: %#v", err)
	}
	if _, err := NewClient(apitest.Dial(t, addr)).StartUnit(ctx, "down.service", JobOptions{NoBlock: true}); !errors.As(err, &down) || err.Error() != "io.stead.Manager.ShuttingDown" {
		t.Errorf("ShuttingDown: %#v", err)
	}
}
