package steadctl

import (
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemdunit"
)

func TestRelativeTime(t *testing.T) {
	const s = int64(1_000_000)
	for _, tc := range []struct {
		d        int64
		implicit bool
		want     string
	}{
		{0, false, "now"},
		{500, true, "500us"},
		{-1500, false, "1ms ago"},
		{59 * s, true, "59s"},
		{59 * s, false, "59s left"},
		{-(3*60 + 12) * s, false, "3min 12s ago"},
		{-7 * 60 * s, false, "7min ago"},
		{-(2*3600 + 5*60) * s, false, "2h 5min ago"},
		{-7 * 3600 * s, false, "7h ago"},
		{-(26 * 3600) * s, false, "1 day 2h ago"},
		{-3 * 86400 * s, false, "3 days ago"},
		{-(9 * 86400) * s, false, "1 week 2 days ago"},
		{-11 * usecMonth, false, "11 months 0 days ago"},
		{usecYear + 2*usecMonth, true, "1 year 2 months"},
	} {
		if got := relativeTime(tc.d, tc.implicit); got != tc.want {
			t.Errorf("relativeTime(%d, %v) = %q, want %q", tc.d, tc.implicit, got, tc.want)
		}
	}
}

func TestTimerRows(t *testing.T) {
	nw := clockNow{real: 1_000_000_000_000, mono: 50_000_000}
	mono := int64(60_000_000) // 10 s from now on the monotonic clock
	real := nw.real + 3600_000_000
	units := []iosystemdunit.Unit{
		{Context: iosystemdunit.UnitContext{ID: "a.timer", Triggers: []string{"a.service"}},
			Runtime: iosystemdunit.UnitRuntime{ActiveState: "active", Timer: &iosystemdunit.TimerRuntime{NextElapseUSecRealtime: &real}}},
		{Context: iosystemdunit.UnitContext{ID: "b.timer", Triggers: []string{"b.service"}},
			Runtime: iosystemdunit.UnitRuntime{ActiveState: "active", Timer: &iosystemdunit.TimerRuntime{NextElapseUSecMonotonic: &mono,
				LastTriggerUSec: &iosystemdunit.Timestamp{Realtime: nw.real - 5_000_000, Monotonic: nw.mono - 5_000_000}}}},
		{Context: iosystemdunit.UnitContext{ID: "c.timer"}, Runtime: iosystemdunit.UnitRuntime{ActiveState: "inactive"}},
		{Context: iosystemdunit.UnitContext{ID: "d.service"}, Runtime: iosystemdunit.UnitRuntime{ActiveState: "active"}},
	}
	rows := timerRows(units, listFilter{}, nw)
	if len(rows) != 2 || rows[0].unit != "b.timer" || rows[0].next != nw.real+10_000_000 || rows[1].unit != "a.timer" {
		t.Fatalf("rows: %+v", rows)
	}
	var b strings.Builder
	if err := writeTimers(&b, rows, nw, true, false); err != nil {
		t.Fatal(err)
	}
	next := time.UnixMicro(nw.real + 10_000_000).Local().Format(timeLayout)
	last := time.UnixMicro(nw.real - 5_000_000).Local().Format(timeLayout)
	lines := strings.Split(b.String(), "\n")
	if want := next + "     10s " + last + " 5s ago b.timer b.service"; lines[1] != want {
		t.Errorf("row:\n%q\nwant\n%q", lines[1], want)
	}
	if !strings.HasSuffix(lines[2], "- a.timer a.service") || !strings.Contains(lines[2], " 1h 0min ") {
		t.Errorf("row: %q", lines[2])
	}
	if all := timerRows(units, listFilter{all: true}, nw); len(all) != 3 || all[2].unit != "c.timer" {
		t.Errorf("--all: %+v", all)
	}
}
