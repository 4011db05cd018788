//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/calendar"
)

// timerTargets are the special units a timer's default dependencies name.
var timerTargets = map[string]string{
	"sysinit.target": "[Unit]\nDescription=System Initialization\n",
	"timers.target":  "[Unit]\nDescription=Timer Units\n",
}

// countLines is the number of lines in a file the test's services append to (0 if absent).
func countLines(p string) int {
	b, _ := os.ReadFile(p)
	return strings.Count(string(b), "\n")
}

// TestInitUnitsTimer: in host mode, a timer with OnActiveSec=1s fires exactly once and
// stays elapsed; one with OnUnitActiveSec= repeats; both show upstream's states, their
// Timer runtime and default dependencies over io.systemd.Unit; steadctl list-timers lists
// them (table and --json).
func TestInitUnitsTimer(t *testing.T) {
	out := t.TempDir()
	units := map[string]string{
		"default.target": "[Unit]\nWants=once.timer repeat.timer\n",
		"once.timer":     "[Timer]\nOnActiveSec=1s\nAccuracySec=1us\n",
		"once.service":   "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo run >> " + out + "/once'\n",
		"repeat.timer":   "[Unit]\nDescription=Repeating\n[Timer]\nOnActiveSec=1s\nOnUnitActiveSec=1s\nAccuracySec=1us\nUnit=work.service\n",
		"work.service":   "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo run >> " + out + "/repeat'\n",
	}
	for k, v := range timerTargets {
		units[k] = v
	}
	e := newCtlEnv(t, units)

	// OnUnitActiveSec=1s keeps triggering work.service: wait for three runs.
	harness.Eventually(t, "repeat.timer to trigger work.service three times", 30*time.Second, func() bool {
		return countLines(filepath.Join(out, "repeat")) >= 3
	}, func() string { return fmt.Sprintf("%d runs", countLines(filepath.Join(out, "repeat"))) }, harness.Output("init log", e.log))
	// Meanwhile once.timer fired once, more than a second ago, and stays elapsed.
	if n := countLines(filepath.Join(out, "once")); n != 1 {
		t.Errorf("once.service ran %d times, want exactly 1", n)
	}
	u := initWaitUnit(t, e.root, "once.timer", e.log, "elapsed", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.SubState == "elapsed"
	})
	if u.Runtime.ActiveState != "active" || u.Runtime.Timer == nil || u.Runtime.Timer.Result != "success" ||
		u.Runtime.Timer.LastTriggerUSec == nil || u.Runtime.Timer.NextElapseUSecMonotonic != nil ||
		u.Runtime.Timer.NextElapseUSecRealtime != nil {
		t.Errorf("once.timer after its elapse: %+v %+v", u.Runtime, u.Runtime.Timer)
	}
	c := u.Context
	if c.Timer == nil || c.Timer.Unit != "once.service" || c.Timer.AccuracyUSec != 1 || !c.Timer.RemainAfterElapse ||
		len(c.Timer.Timers) != 1 || c.Timer.Timers[0].Base != "OnActiveUSec" || c.Timer.Timers[0].USec == nil ||
		*c.Timer.Timers[0].USec != 1000000 || !slices.Equal(c.Triggers, []string{"once.service"}) {
		t.Errorf("once.timer context: %+v %+v", c, c.Timer)
	}
	// Upstream's default dependencies of a timer.
	for _, dep := range []struct {
		list []string
		name string
	}{{c.Requires, "sysinit.target"}, {c.After, "sysinit.target"}, {c.Before, "timers.target"},
		{c.Before, "once.service"}, {c.Conflicts, "shutdown.target"}, {c.Before, "shutdown.target"}} {
		if !slices.Contains(dep.list, dep.name) {
			t.Errorf("once.timer lacks the dependency on %s: %+v", dep.name, c)
		}
	}
	if slices.Contains(c.After, "time-sync.target") {
		t.Errorf("a monotonic timer is ordered after time-sync.target: %v", c.After)
	}
	if s, ok := initQuery(t, e.root, "once.service"); !ok || !slices.Equal(s.Context.TriggeredBy, []string{"once.timer"}) {
		t.Errorf("once.service TriggeredBy: %+v", s.Context)
	}
	r, _ := initQuery(t, e.root, "repeat.timer")
	if r.Runtime.ActiveState != "active" || (r.Runtime.SubState != "waiting" && r.Runtime.SubState != "running") {
		t.Errorf("repeat.timer: %+v", r.Runtime)
	}

	// list-timers: both timers, repeat.timer (with a next elapse) first, once.timer without.
	var table string
	harness.Eventually(t, "list-timers to show repeat.timer waiting", 20*time.Second, func() bool {
		table = e.must(0, "list-timers")
		return strings.Contains(table, "work.service") && !strings.HasPrefix(strings.Split(table, "\n")[1], "-")
	}, func() string { return table })
	lines := strings.Split(table, "\n")
	if !strings.HasPrefix(lines[0], "NEXT") || !strings.Contains(lines[0], " LEFT ") ||
		!strings.HasSuffix(lines[0], "PASSED UNIT         ACTIVATES") {
		t.Errorf("list-timers header: %q", lines[0])
	}
	if f := strings.Fields(lines[1]); len(f) < 3 || !strings.Contains(lines[1], "repeat.timer work.service") {
		t.Errorf("list-timers first row: %q", lines[1])
	}
	if f := strings.Fields(lines[2]); len(f) < 5 || f[0] != "-" || f[1] != "-" || !strings.HasSuffix(lines[2], "once.timer   once.service") ||
		!strings.Contains(lines[2], " ago ") {
		t.Errorf("list-timers once.timer row: %q", lines[2])
	}
	t.Logf("list-timers:\n%s", table)
	if !strings.HasSuffix(table, "\n2 timers listed.\nPass --all to see loaded but inactive timers, too.\n") {
		t.Errorf("list-timers legend:\n%s", table)
	}
	var rows []struct {
		Next, Left, Last, Passed *int64
		Unit                     string
		Activates                []string
	}
	if err := json.Unmarshal([]byte(e.must(0, "list-timers", "--json=short", "once")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Unit != "once.timer" || rows[0].Next != nil || rows[0].Last == nil ||
		rows[0].Passed == nil || !slices.Equal(rows[0].Activates, []string{"once.service"}) {
		t.Errorf("list-timers --json once: %+v", rows)
	}

	// Stopping the timer ends the repetition; --all still lists it.
	e.must(0, "stop", "repeat.timer")
	e.waitState("repeat.timer", "inactive")
	if table := e.must(0, "list-timers"); strings.Contains(table, "repeat.timer") {
		t.Errorf("an inactive timer listed without --all:\n%s", table)
	}
	if table := e.must(0, "list-timers", "--all"); !strings.Contains(table, "repeat.timer") || strings.Contains(table, "Pass --all") {
		t.Errorf("list-timers --all:\n%s", table)
	}
}

// TestInitUnitsTimerPersistent: an OnCalendar= time passes while init is down. Restarted,
// init triggers the Persistent=true timer at once (catching up, from the stamp under
// /var/lib/systemd/timers), and not the same timer without Persistent=.
func TestInitUnitsTimerPersistent(t *testing.T) {
	bin := harness.Binary(t, "cmd/init")
	root := initRoot(t)
	out := t.TempDir()
	// A one-off calendar time far enough ahead for the first init to come up, wait and stop.
	at := time.Now().UTC().Add(15 * time.Second).Truncate(time.Second)
	spec := at.Format("2006-01-02 15:04:05") + " UTC"
	for k, v := range timerTargets {
		initWriteUnit(t, root, k, v)
	}
	initWriteUnit(t, root, "default.target", "[Unit]\nWants=cal.timer plain.timer\n")
	initWriteUnit(t, root, "cal.timer", "[Timer]\nOnCalendar="+spec+"\nPersistent=true\nAccuracySec=1us\n")
	initWriteUnit(t, root, "cal.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo run >> "+out+"/cal'\n")
	initWriteUnit(t, root, "plain.timer", "[Timer]\nOnCalendar="+spec+"\nAccuracySec=1us\n")
	initWriteUnit(t, root, "plain.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo run >> "+out+"/plain'\n")
	stamp := filepath.Join(root, "var/lib/systemd/timers/stamp-cal.timer")

	cmd, done, log := startHostInit(t, bin, root)
	u := initWaitUnit(t, root, "cal.timer", log, "waiting", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.SubState == "waiting"
	})
	if tr := u.Runtime.Timer; tr == nil || tr.NextElapseUSecRealtime == nil || *tr.NextElapseUSecRealtime != at.UnixMicro() {
		t.Errorf("cal.timer's next elapse: %+v, want %d (%s)", tr, at.UnixMicro(), spec)
	}
	if slices.Index(u.Context.After, "time-sync.target") < 0 || slices.Index(u.Context.After, "time-set.target") < 0 {
		t.Errorf("a calendar timer is not ordered after time-sync.target and time-set.target: %v", u.Context.After)
	}
	if _, err := os.Stat(stamp); err != nil {
		t.Errorf("Persistent=true made no stamp: %v", err)
	}
	initStop(t, cmd, done)
	if countLines(filepath.Join(out, "cal")) != 0 || countLines(filepath.Join(out, "plain")) != 0 {
		t.Fatalf("the timers fired before %s while the first init ran: the machine was too slow for this test", spec)
	}

	// init is down while the calendar time passes.
	harness.Eventually(t, "the calendar time to pass", 60*time.Second, func() bool {
		return time.Now().After(at.Add(time.Second))
	}, func() string { return "now " + time.Now().UTC().String() })

	cmd, done, log = startHostInit(t, bin, root)
	u = initWaitUnit(t, root, "cal.timer", log, "elapsed after catching up", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.SubState == "elapsed"
	})
	harness.Eventually(t, "cal.service to have run", 20*time.Second, func() bool {
		return countLines(filepath.Join(out, "cal")) == 1
	}, func() string { return fmt.Sprintf("%d runs", countLines(filepath.Join(out, "cal"))) }, harness.Output("init log", log))
	tr := u.Runtime.Timer
	if tr == nil || tr.LastTriggerUSec == nil || tr.LastTriggerUSec.Realtime <= at.UnixMicro() {
		t.Fatalf("cal.timer's last trigger: %+v", tr)
	}
	st, err := os.Stat(stamp)
	if err != nil || st.ModTime().UnixMicro() != tr.LastTriggerUSec.Realtime {
		t.Errorf("stamp mtime %v, want the last trigger %d (%v)", st.ModTime().UnixMicro(), tr.LastTriggerUSec.Realtime, err)
	}
	p := initWaitUnit(t, root, "plain.timer", log, "elapsed", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.SubState == "elapsed"
	})
	if n := countLines(filepath.Join(out, "plain")); n != 0 || p.Runtime.Timer.LastTriggerUSec != nil {
		t.Errorf("plain.timer (not persistent) caught up: %d runs, %+v", n, p.Runtime.Timer)
	}
	initStop(t, cmd, done)

	// A stamp written a day back makes a daily timer fire at once, and its next elapse is the
	// calendar's next midnight after that trigger.
	root2 := initRoot(t)
	for k, v := range timerTargets {
		initWriteUnit(t, root2, k, v)
	}
	initWriteUnit(t, root2, "default.target", "[Unit]\nWants=day.timer\n")
	initWriteUnit(t, root2, "day.timer", "[Timer]\nOnCalendar=daily UTC\nPersistent=yes\nAccuracySec=1us\n")
	initWriteUnit(t, root2, "day.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo run >> "+out+"/day'\n")
	stamp2 := filepath.Join(root2, "var/lib/systemd/timers/stamp-day.timer")
	harness.WriteFile(t, stamp2, "", 0o644)
	old := time.Now().Add(-50 * time.Hour)
	if err := os.Chtimes(stamp2, old, old); err != nil {
		t.Fatal(err)
	}
	_, _, log = startHostInit(t, bin, root2)
	harness.Eventually(t, "day.service to catch up", 20*time.Second, func() bool {
		return countLines(filepath.Join(out, "day")) == 1
	}, func() string { return "" }, harness.Output("init log", log))
	u = initWaitUnit(t, root2, "day.timer", log, "waiting again", func(u initUnit, ok bool) bool {
		return ok && u.Runtime.SubState == "waiting" && u.Runtime.Timer != nil && u.Runtime.Timer.LastTriggerUSec != nil
	})
	daily, err := calendar.Parse("daily UTC")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := daily.Next(time.UnixMicro(u.Runtime.Timer.LastTriggerUSec.Realtime))
	if got := u.Runtime.Timer.NextElapseUSecRealtime; got == nil || *got != want.UnixMicro() {
		t.Errorf("day.timer's next elapse %v, want %d (%s)", got, want.UnixMicro(), want)
	}
}
