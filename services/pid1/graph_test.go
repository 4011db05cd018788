package pid1

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func writeUnit(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, "etc/systemd/system", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// quietLogger discards logs unless STEAD_TEST_LOG is set.
func quietLogger() *slog.Logger {
	if os.Getenv("STEAD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newTestManager(t *testing.T, root string) (*Manager, *[]string) {
	t.Helper()
	m, err := New(Config{Root: root, Host: true, Logger: quietLogger(), Output: io.Discard, ShimArgv: []string{"/nonexistent"}})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	m.onState = func(name, active string) {
		if active == StateActive || active == StateInactive {
			order = append(order, name+"="+active)
		}
	}
	return m, &order
}

func waitJob(t *testing.T, j *Job) string {
	t.Helper()
	select {
	case <-j.Done():
		return j.Result()
	case <-time.After(10 * time.Second):
		t.Fatal("job did not finish")
		return ""
	}
}

func TestJobOrderingAfterBefore(t *testing.T) {
	root := t.TempDir()
	writeUnit(t, root, "default.target", "[Unit]\nRequires=b.target\nWants=c.target\nAfter=b.target c.target\n")
	writeUnit(t, root, "b.target", "[Unit]\nAfter=d.target\nWants=d.target\n")
	writeUnit(t, root, "c.target", "[Unit]\nBefore=b.target\n")
	writeUnit(t, root, "d.target", "[Unit]\n")
	m, order := newTestManager(t, root)
	j, err := m.Enqueue("default.target", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	if r := waitJob(t, j); r != ResultDone {
		t.Fatalf("result %s", r)
	}
	m.mu.Lock()
	got := append([]string{}, *order...)
	m.mu.Unlock()
	pos := map[string]int{}
	for i, s := range got {
		pos[s] = i
	}
	for _, pair := range [][2]string{{"d.target", "b.target"}, {"c.target", "b.target"}, {"b.target", "default.target"}} {
		if pos[pair[0]+"=active"] >= pos[pair[1]+"=active"] {
			t.Errorf("%s started after %s: %v", pair[0], pair[1], got)
		}
	}
	// Stopping b stops default (Requires=) in reverse order.
	*order = nil
	j, err = m.Enqueue("b.target", JobStop)
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, j)
	m.mu.Lock()
	got = append([]string{}, *order...)
	m.mu.Unlock()
	if want := []string{"default.target=inactive", "b.target=inactive"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stop order %v, want %v", got, want)
	}
}

func TestJobRequiresMissingAndConflicts(t *testing.T) {
	root := t.TempDir()
	writeUnit(t, root, "a.target", "[Unit]\nRequires=missing.target\n")
	writeUnit(t, root, "w.target", "[Unit]\nWants=missing.target\n")
	writeUnit(t, root, "x.target", "[Unit]\n")
	writeUnit(t, root, "y.target", "[Unit]\nConflicts=x.target\n")
	m, _ := newTestManager(t, root)
	if _, err := m.Enqueue("a.target", JobStart); err == nil {
		t.Error("a.target: start with a missing Requires= succeeded")
	}
	j, err := m.Enqueue("w.target", JobStart)
	if err != nil || waitJob(t, j) != ResultDone {
		t.Fatalf("w.target: %v", err)
	}
	j, err = m.Enqueue("x.target", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, j)
	j, err = m.Enqueue("y.target", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, j)
	if s, _ := m.Status("x.target"); s.ActiveState != StateInactive {
		t.Errorf("x.target is %s after a conflicting start", s.ActiveState)
	}
	if s, _ := m.Status("y.target"); s.ActiveState != StateActive {
		t.Errorf("y.target is %s", s.ActiveState)
	}
	if _, err := m.Enqueue("nope.target", JobStart); err == nil {
		t.Error("starting a missing unit succeeded")
	}
}

func TestJobConditionSkips(t *testing.T) {
	root := t.TempDir()
	writeUnit(t, root, "c.target", "[Unit]\nConditionPathExists=/nonexistent\n")
	writeUnit(t, root, "d.target", "[Unit]\nConditionPathExists=!/nonexistent\n")
	m, _ := newTestManager(t, root)
	for name, want := range map[string]string{"c.target": StateInactive, "d.target": StateActive} {
		j, err := m.Enqueue(name, JobStart)
		if err != nil {
			t.Fatal(err)
		}
		waitJob(t, j)
		if s, _ := m.Status(name); s.ActiveState != want {
			t.Errorf("%s: %s, want %s", name, s.ActiveState, want)
		}
	}
}

// TestJobAssertFails: a failed Assert*= fails the start job with "assert" and
// leaves the unit inactive (not failed); a unit requiring it gets
// "dependency"; a failed condition is not followed by the assert check.
func TestJobAssertFails(t *testing.T) {
	root := t.TempDir()
	writeUnit(t, root, "a.target", "[Unit]\nAssertPathExists=/nonexistent\n")
	writeUnit(t, root, "ok.target", "[Unit]\nAssertPathExists=!/nonexistent\nConditionPathExists=!/nonexistent\n")
	writeUnit(t, root, "up.target", "[Unit]\nRequires=a.target\nAfter=a.target\n")
	writeUnit(t, root, "both.target", "[Unit]\nConditionPathExists=/nonexistent\nAssertPathExists=/nonexistent\n")
	m, _ := newTestManager(t, root)
	for _, c := range []struct {
		name, result, active string
		cond, assert         bool
	}{
		{"a.target", ResultAssert, StateInactive, true, false},
		{"ok.target", ResultDone, StateActive, true, true},
		{"both.target", ResultDone, StateInactive, false, false},
		{"up.target", ResultDependency, StateInactive, false, false},
	} {
		j, err := m.Enqueue(c.name, JobStart)
		if err != nil {
			t.Fatal(err)
		}
		if r := waitJob(t, j); r != c.result {
			t.Errorf("%s: job result %s, want %s", c.name, r, c.result)
		}
		m.mu.Lock()
		us := m.units[c.name]
		_, r := m.unitInfo(us)
		m.mu.Unlock()
		if r.ActiveState != c.active || r.ConditionResult != c.cond || r.AssertResult != c.assert {
			t.Errorf("%s: %s ConditionResult=%v AssertResult=%v, want %s %v %v", c.name, r.ActiveState,
				r.ConditionResult, r.AssertResult, c.active, c.cond, c.assert)
		}
		if c.name != "up.target" && r.ConditionTimestamp == nil {
			t.Errorf("%s: no ConditionTimestamp", c.name)
		}
		if (r.AssertTimestamp != nil) != (c.name == "a.target" || c.name == "ok.target") {
			t.Errorf("%s: AssertTimestamp %v", c.name, r.AssertTimestamp)
		}
	}
}

func TestJobBindsToStopsWithPeer(t *testing.T) {
	root := t.TempDir()
	writeUnit(t, root, "a.target", "[Unit]\nBindsTo=b.target\nAfter=b.target\n")
	writeUnit(t, root, "b.target", "[Unit]\n")
	m, _ := newTestManager(t, root)
	j, err := m.Enqueue("a.target", JobStart)
	if err != nil || waitJob(t, j) != ResultDone {
		t.Fatalf("start: %v", err)
	}
	if s, _ := m.Status("b.target"); s.ActiveState != StateActive {
		t.Fatalf("b.target not pulled in: %+v", s)
	}
	j, _ = m.Enqueue("b.target", JobStop)
	waitJob(t, j)
	if s, _ := m.Status("a.target"); s.ActiveState != StateInactive {
		t.Errorf("a.target still %s after the unit it binds to stopped", s.ActiveState)
	}
}

func TestJobOrderingCycleIsBroken(t *testing.T) {
	root := t.TempDir()
	writeUnit(t, root, "a.target", "[Unit]\nWants=b.target\nAfter=b.target\n")
	writeUnit(t, root, "b.target", "[Unit]\nAfter=a.target\n")
	m, _ := newTestManager(t, root)
	j, err := m.Enqueue("a.target", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	if r := waitJob(t, j); r != ResultDone {
		t.Fatalf("result %s", r)
	}
	for _, n := range []string{"a.target", "b.target"} {
		if s, _ := m.Status(n); s.ActiveState != StateActive {
			t.Errorf("%s: %s", n, s.ActiveState)
		}
	}
}
