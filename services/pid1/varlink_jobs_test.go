package pid1

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

// jobCall calls an io.stead.Manager method and returns the reply or the Varlink error name.
func jobCall(t *testing.T, root, method string, in map[string]string) (map[string]any, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	vc, err := varlinkd.Dial(ctx, "unix:"+filepath.Join(root, SocketPath))
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	var out map[string]any
	err = vc.Call(ctx, "io.stead.Manager."+method, in, &out)
	if name := varlinkd.ErrorName(err); name != "" {
		return nil, name
	}
	if err != nil {
		t.Fatal(err)
	}
	return out, ""
}

func TestVarlinkJobErrorsAndModes(t *testing.T) {
	root, err := os.MkdirTemp("", "pid1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	writeUnit(t, root, "default.target", "[Unit]\n")
	writeUnit(t, root, "ok.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n")
	writeUnit(t, root, "slow.service", "[Service]\nType=oneshot\nExecStart=/bin/sleep 2\n")
	writeUnit(t, root, "fail.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
	writeUnit(t, root, "needs.service", "[Unit]\nRequires=fail.service\nAfter=fail.service\n[Service]\nType=oneshot\nExecStart=/bin/true\n")
	writeUnit(t, root, "bad.service", "[Service]\nType=simple\n")
	if err := os.Symlink("/dev/null", filepath.Join(root, "etc/systemd/system/masked.service")); err != nil {
		t.Fatal(err)
	}
	m := runManager(t, root)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(root, SocketPath)); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	waitState(t, m, DefaultTarget, func(s UnitStatus) bool { return s.ActiveState == StateActive }, "active")

	if out, e := jobCall(t, root, "StartUnit", map[string]string{"name": "ok.service"}); e != "" || out["result"] != "done" || out["jobType"] != "start" {
		t.Errorf("StartUnit ok: %v %s", out, e)
	}
	for _, c := range []struct {
		method, name, mode, want string
	}{
		{"StartUnit", "nope.service", "", "io.stead.Manager.NoSuchUnit"},
		{"StartUnit", "masked.service", "", "io.stead.Manager.UnitNotLoaded"},
		{"StartUnit", "bad.service", "", "io.stead.Manager.UnitNotLoaded"},
		{"StartUnit", "fail.service", "", "io.stead.Manager.JobFailed"},
		{"StartUnit", "needs.service", "", "io.stead.Manager.JobFailed"},
		{"ReloadUnit", "ok.service", "", "io.stead.Manager.JobNotSupported"},
		{"StartUnit", "ok.service", "isolate", "io.stead.Manager.OperationRefused"}, // no AllowIsolate=yes
		{"StopUnit", "ok.service", "isolate", "org.varlink.service.InvalidParameter"},
		{"StartUnit", "ok.service", "flush", "org.varlink.service.InvalidParameter"},
		{"StartUnit", "no/such", "", "org.varlink.service.InvalidParameter"},
		{"StartUnit", "tmpl@.service", "", "org.varlink.service.InvalidParameter"},
	} {
		in := map[string]string{"name": c.name}
		if c.mode != "" {
			in["mode"] = c.mode
		}
		if out, e := jobCall(t, root, c.method, in); e != c.want {
			t.Errorf("%s %s mode %q: got %v %q, want %s", c.method, c.name, c.mode, out, e, c.want)
		}
	}

	// A running start job conflicts with a stop in either mode.
	j, err := m.Enqueue("slow.service", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m, "slow.service", func(s UnitStatus) bool { return s.ActiveState == StateActivating }, "activating")
	if _, e := jobCall(t, root, "StopUnit", map[string]string{"name": "slow.service", "mode": "fail"}); e != "io.stead.Manager.JobConflict" {
		t.Errorf("StopUnit during a running start: %q", e)
	}
	if h, err := m.EnqueueMode("slow.service", JobStart, ModeFail); err != nil || h.ID() != j.ID() {
		t.Errorf("a second start should join the running one: %v", err)
	}
	if r := waitJob(t, j); r != ResultDone {
		t.Errorf("slow start: %s", r)
	}
	// The failed job's details are in the error.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	vc, err := varlinkd.Dial(ctx, "unix:"+filepath.Join(root, SocketPath))
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	// io.systemd.Unit.List by name refuses units that did not load, as upstream.
	for name, want := range map[string]string{"masked.service": "io.systemd.Unit.UnitMasked",
		"bad.service": "io.systemd.Unit.UnitError", "nope.service": "io.systemd.Unit.NoSuchUnit"} {
		if err := vc.Call(ctx, "io.systemd.Unit.List", map[string]string{"name": name}, nil); varlinkd.ErrorName(err) != want {
			t.Errorf("List %s: %v, want %s", name, err, want)
		}
	}
	err = vc.Call(ctx, "io.stead.Manager.RestartUnit", map[string]string{"name": "fail.service"}, nil)
	var ve *varlink.Error
	var p struct {
		JobID   int64  `json:"jobId"`
		Unit    string `json:"unit"`
		JobType string `json:"jobType"`
		Result  string `json:"result"`
	}
	if !errors.As(err, &ve) || ve.Parameters == nil || json.Unmarshal(*ve.Parameters.(*json.RawMessage), &p) != nil ||
		p.JobID == 0 || p.Unit != "fail.service" || p.JobType != "restart" || p.Result != "failed" {
		t.Errorf("RestartUnit fail: %v %+v", err, p)
	}
}

func TestManagedOOMPathsAndEntries(t *testing.T) {
	root := t.TempDir()
	writeUnit(t, root, "a-b-c.slice", "[Slice]\nManagedOOMMemoryPressure=kill\nManagedOOMMemoryPressureLimit=100%\n")
	writeUnit(t, root, "w.service", "[Service]\nExecStart=/bin/true\nOOMRules=r1\n")
	m, _ := newTestManager(t, root)
	m.mu.Lock()
	defer m.mu.Unlock()
	sl, err := m.get("a-b-c.slice")
	if err != nil {
		t.Fatal(err)
	}
	if p := m.oomPath(sl); p != "/a.slice/a-b.slice/a-b-c.slice" {
		t.Errorf("slice path %q", p)
	}
	e := m.oomEntries(sl, m.managedOOM(sl), false)
	if len(e) != 1 || e[0].Property != oomPropPressure || e[0].Limit == nil || *e[0].Limit != 0xffffffff || e[0].Duration != nil {
		t.Errorf("slice entries %+v", e)
	}
	w, err := m.get("w.service")
	if err != nil {
		t.Fatal(err)
	}
	all := m.oomEntries(w, m.managedOOM(w), true)
	if len(all) != 3 || all[2].Property != oomPropRules || all[2].Mode != "kill" || all[0].Mode != "auto" ||
		all[0].Path != "/system.slice/w.service" {
		t.Errorf("service entries %+v", all)
	}
}

func TestVarlinkJobListCancel(t *testing.T) {
	root, err := os.MkdirTemp("", "pid1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	writeUnit(t, root, "default.target", "[Unit]\n")
	writeUnit(t, root, "slow.service", "[Service]\nType=oneshot\nExecStart=/bin/sleep 3\n")
	writeUnit(t, root, "next.service", "[Unit]\nAfter=slow.service\n[Service]\nType=oneshot\nExecStart=/bin/true\n")
	m := runManager(t, root)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(root, SocketPath)); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	slow, err := m.Enqueue("slow.service", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	next, err := m.Enqueue("next.service", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	vc, err := varlinkd.Dial(ctx, "unix:"+filepath.Join(root, SocketPath))
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	type wireJob struct {
		ID      int64  `json:"Id"`
		Unit    string `json:"Unit"`
		JobType string `json:"JobType"`
		State   string `json:"State"`
	}
	var all []wireJob
	if err := vc.Stream(ctx, "io.systemd.Job.List", nil, func(raw json.RawMessage) error {
		var j wireJob
		err := json.Unmarshal(raw, &j)
		all = append(all, j)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []wireJob{{int64(slow.ID()), "slow.service", "start", "running"}, {int64(next.ID()), "next.service", "start", "waiting"}}
	if len(all) != 2 || all[0] != want[0] || all[1] != want[1] {
		t.Errorf("List: %+v, want %+v", all, want)
	}
	var one wireJob
	if err := vc.Call(ctx, "io.systemd.Job.List", map[string]string{"unit": "next.service"}, &one); err != nil || one != want[1] {
		t.Errorf("List unit=next: %+v %v", one, err)
	}
	err = vc.Call(ctx, "io.systemd.Job.Cancel", map[string]int64{"id": 99999}, nil)
	if varlinkd.ErrorName(err) != "io.systemd.Job.NoSuchJob" {
		t.Errorf("Cancel 99999: %v", err)
	}
	if err := vc.Call(ctx, "io.systemd.Job.Cancel", map[string]int64{"id": int64(next.ID())}, nil); err != nil {
		t.Fatal(err)
	}
	if r := waitJob(t, next); r != ResultCanceled {
		t.Errorf("canceled job result %s", r)
	}
	if err := vc.Call(ctx, "io.systemd.Job.ClearAll", nil, nil); err != nil {
		t.Fatal(err)
	}
	if r := waitJob(t, slow); r != ResultCanceled {
		t.Errorf("ClearAll: slow job result %s", r)
	}
	err = vc.Call(ctx, "io.systemd.Job.List", nil, nil)
	if varlinkd.ErrorName(err) != "io.systemd.Job.NoSuchJob" {
		t.Errorf("List on an empty queue: %v", err)
	}
}
