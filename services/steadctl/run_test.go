package steadctl

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stead-os/stead/lib/api/apitest"
	"github.com/stead-os/stead/lib/api/iosteadmanager"
	"github.com/stead-os/stead/lib/api/iosystemdjob"
	"github.com/stead-os/stead/lib/api/iosystemdmanager"
	"github.com/stead-os/stead/lib/api/iosystemdunit"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

// fakeManager serves the four interfaces steadctl calls, from a fixed set of units.
type fakeManager struct {
	units  map[string]iosystemdunit.Unit
	mu     sync.Mutex
	called []string
}

func (f *fakeManager) List(ctx context.Context, c *varlink.Call, name *string, _ *iosystemdunit.ProcessId, _, _ *string) error {
	if name == nil {
		var all []iosystemdunit.Unit
		for _, n := range []string{"a.service", "b.service"} {
			all = append(all, f.units[n])
		}
		return varlinkd.ReplyList(ctx, c, all)
	}
	if *name == "masked.service" {
		return varlinkd.ReplyError(ctx, *c, iosystemdunit.ErrorUnitMasked, nil)
	}
	u, ok := f.units[*name]
	if !ok {
		return varlinkd.ReplyError(ctx, *c, iosystemdunit.ErrorNoSuchUnit, iosystemdunit.NoSuchUnit{})
	}
	return c.Reply(ctx, u)
}

func (f *fakeManager) job(ctx context.Context, c iosteadmanager.VarlinkCall, name, jobType string) error {
	switch name {
	case "masked.service":
		return c.ReplyUnitNotLoaded(ctx, name, "masked")
	case "assert.service":
		return c.ReplyJobFailed(ctx, 2, name, jobType, "assert")
	case "a.service":
		done := "done"
		return c.ReplyStartUnit(ctx, 1, name, jobType, nil, &done)
	}
	return c.ReplyNoSuchUnit(ctx, name)
}

func (f *fakeManager) StartUnit(ctx context.Context, c iosteadmanager.VarlinkCall, name string, _ *iosteadmanager.JobMode) error {
	return f.job(ctx, c, name, "start")
}
func (f *fakeManager) StopUnit(ctx context.Context, c iosteadmanager.VarlinkCall, name string, _ *iosteadmanager.JobMode) error {
	return f.job(ctx, c, name, "stop")
}
func (f *fakeManager) RestartUnit(ctx context.Context, c iosteadmanager.VarlinkCall, name string, _ *iosteadmanager.JobMode) error {
	return f.job(ctx, c, name, "restart")
}
func (f *fakeManager) ReloadUnit(ctx context.Context, c iosteadmanager.VarlinkCall, name string, _ *iosteadmanager.JobMode) error {
	return f.job(ctx, c, name, "reload")
}

func (f *fakeManager) ListFDStore(ctx context.Context, c iosteadmanager.VarlinkCall, name string) error {
	switch name {
	case "a.service":
		return c.ReplyListFDStore(ctx, []iosteadmanager.FDStoreEntry{
			{Name: "db", Type: "reg", Devno: "0:33", Inode: 12, Path: "/memfd:db (deleted)", Flags: "rw"}})
	case "a.socket":
		return c.ReplyNotAService(ctx, name)
	}
	return c.ReplyNoSuchUnit(ctx, name)
}
func (f *fakeManager) ListUnitWarnings(ctx context.Context, c iosteadmanager.VarlinkCall, name string) error {
	if name == "a.service" {
		return c.ReplyListUnitWarnings(ctx, []string{"/etc/systemd/system/a.service:4: Unknown key 'ExecStrat' in section [Service], ignoring"})
	}
	return c.ReplyListUnitWarnings(ctx, []string{})
}
func (f *fakeManager) ClearFDStore(ctx context.Context, c iosteadmanager.VarlinkCall, name string) error {
	switch name {
	case "a.service":
		return c.ReplyUnitActive(ctx, name, "active")
	case "b.service":
		return c.ReplyClearFDStore(ctx)
	}
	return c.ReplyNoSuchUnit(ctx, name)
}

type fakeJobs struct{}

func (fakeJobs) List(ctx context.Context, c *varlink.Call, _ *int64, _ *string) error {
	return varlinkd.ReplyError(ctx, *c, iosystemdjob.ErrorNoSuchJob, iosystemdjob.NoSuchJob{})
}
func (fakeJobs) Cancel(ctx context.Context, c *varlink.Call, _ int64) error {
	return c.Reply(ctx, struct{}{})
}
func (fakeJobs) ClearAll(ctx context.Context, c *varlink.Call) error { return c.Reply(ctx, struct{}{}) }

type fakeMgr struct{ f *fakeManager }

func (m fakeMgr) reply(ctx context.Context, c *varlink.Call, name string) error {
	m.f.mu.Lock()
	m.f.called = append(m.f.called, name)
	m.f.mu.Unlock()
	return c.Reply(ctx, struct{}{})
}
func (m fakeMgr) Describe(ctx context.Context, c *varlink.Call) error {
	return m.reply(ctx, c, "Describe")
}
func (m fakeMgr) Reload(ctx context.Context, c *varlink.Call) error { return m.reply(ctx, c, "Reload") }
func (m fakeMgr) PowerOff(ctx context.Context, c *varlink.Call) error {
	return m.reply(ctx, c, "PowerOff")
}
func (m fakeMgr) Reboot(ctx context.Context, c *varlink.Call) error { return m.reply(ctx, c, "Reboot") }
func (m fakeMgr) Halt(ctx context.Context, c *varlink.Call) error   { return m.reply(ctx, c, "Halt") }

// TestRun drives steadctl in-process against a fake manager: the typed clients, exit codes
// and messages of the verbs.
func TestRun(t *testing.T) {
	root := t.TempDir()
	f := &fakeManager{units: map[string]iosystemdunit.Unit{
		"a.service": testUnit("a.service", "A", "loaded", "active", "running"),
		"b.service": testUnit("b.service", "B", "loaded", "inactive", "dead"),
	}}
	apitest.Serve(t, filepath.Join(root, iosystemdmanager.SocketPath), iosystemdunit.VarlinkNew(f),
		iosteadmanager.VarlinkNew(f), iosystemdjob.VarlinkNew(fakeJobs{}), iosystemdmanager.VarlinkNew(fakeMgr{f}))
	run := func(o Options, args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		o.Root, o.Stdout, o.Stderr = root, &out, &errOut
		code := Run(context.Background(), o, args[0], args[1:])
		return out.String(), errOut.String(), code
	}
	for _, c := range []struct {
		args           []string
		o              Options
		code           int
		stdout, stderr string
	}{
		{[]string{"is-active", "a"}, Options{}, 0, "active\n", ""},
		{[]string{"is-active", "b"}, Options{}, 3, "inactive\n", ""},
		{[]string{"is-active", "nope"}, Options{}, 4, "inactive\n", ""},
		{[]string{"is-active", "masked"}, Options{Quiet: true}, 3, "", ""},
		{[]string{"is-failed", "a"}, Options{}, 1, "active\n", ""},
		{[]string{"status", "nope"}, Options{}, 4, "", "Unit nope.service could not be found."},
		{[]string{"status", "b"}, Options{}, 3, "○ b.service - B\n", ""},
		{[]string{"show", "masked", "b"}, Options{Props: []string{"LoadState"}, Value: true}, 0, "masked\nloaded\n", ""},
		{[]string{"list-units"}, Options{NoLegend: true}, 0, "  a.service loaded active running A\n", ""},
		{[]string{"start", "a"}, Options{JSON: "short"}, 0, `[{"jobId":1,"unit":"a.service","jobType":"start","result":"done"}]` + "\n", ""},
		{[]string{"start", "nope"}, Options{}, 5, "", "Failed to start nope.service: Unit nope.service not found."},
		{[]string{"restart", "masked"}, Options{}, 5, "", "Failed to restart masked.service: Unit masked.service is masked."},
		{[]string{"start", "assert"}, Options{}, 1, "", "Assertion failed on job for assert.service."},
		{[]string{"list-jobs"}, Options{}, 0, "No jobs running.\n", ""},
		{[]string{"daemon-reload"}, Options{}, 0, "", ""},
		{[]string{"reboot"}, Options{}, 0, "", ""},
		{[]string{"frobnicate"}, Options{}, 1, "", "Unknown command verb 'frobnicate'."},
		{[]string{"list-fdstore", "a"}, Options{}, 0, "FDNAME TYPE DEVNO INODE RDEVNO PATH                FLAGS\ndb     reg  0:33  12    -      /memfd:db (deleted) rw\n\n1 file descriptors listed.\n", ""},
		{[]string{"list-fdstore", "a.socket"}, Options{}, 1, "", "Unit a.socket is not a service."},
		{[]string{"list-fdstore", "nope"}, Options{}, 4, "", "Unit nope.service not found."},
		{[]string{"list-fdstore", "a", "b"}, Options{}, 1, "", "exactly one unit"},
		{[]string{"clean", "b"}, Options{What: []string{"fdstore"}}, 0, "", ""},
		{[]string{"clean", "b"}, Options{}, 1, "", "not supported"},
		{[]string{"clean", "a"}, Options{What: []string{"fdstore"}}, 1, "", "Unit a.service is active; stop it first."},
	} {
		out, errOut, code := run(c.o, c.args...)
		if code != c.code || !strings.HasPrefix(out, c.stdout) || !strings.Contains(errOut, c.stderr) || (c.stdout == "" && out != "") {
			t.Errorf("%q: exit %d\nstdout %q\nstderr %q\nwant exit %d, stdout %q, stderr with %q", c.args, code, out, errOut, c.code, c.stdout, c.stderr)
		}
	}
	f.mu.Lock()
	if strings.Join(f.called, " ") != "Reload Reboot" {
		t.Errorf("manager calls: %q", f.called)
	}
	f.mu.Unlock()
	if out, _, _ := run(Options{}, "status", "a"); !strings.Contains(out, "   Warnings: /etc/systemd/system/a.service:4: Unknown key 'ExecStrat' in section [Service], ignoring\n") {
		t.Errorf("status shows no unit file warnings:\n%s", out)
	}
	out, _, _ := run(Options{JSON: "short"}, "status", "a")
	var js []iosystemdunit.Unit
	if err := json.Unmarshal([]byte(out), &js); err != nil || len(js) != 1 || js[0].Context.ID != "a.service" {
		t.Errorf("status --json: %v %s", err, out)
	}
	// No manager: a failure, not a crash.
	var errOut bytes.Buffer
	if code := Run(context.Background(), Options{Root: t.TempDir(), Stdout: &bytes.Buffer{}, Stderr: &errOut}, "list-units", nil); code != 1 ||
		!strings.HasPrefix(errOut.String(), "Failed to list units: ") {
		t.Errorf("without a manager: exit %d, %q", code, errOut.String())
	}
}
