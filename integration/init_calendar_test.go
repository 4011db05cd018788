//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/calendar"
	"github.com/stead-os/stead/lib/unit"
)

// calendarExprs is the table TestInitUnitsCalendarUpstream runs through both
// implementations: systemd.time(7)'s examples, every shorthand, each field's
// syntax (lists, ranges, repetitions, "~", fractions), time zones, and
// expressions upstream refuses.
var calendarExprs = []string{
	// systemd.time(7)'s table
	"Sat,Thu,Mon..Wed,Sat..Sun", "Mon,Sun 12-*-* 2,1:23", "Wed *-1", "Wed..Wednesday 17:48",
	"Wed..sat,Tue 12-10-15 1:2:3", "*-*-7 0:0:0", "10-15", "monday *-12-* 17:00",
	"Mon,Fri *-*-3,1,2 *:30:45", "12,14,13,12:20,10,30", "12..14:10,20,30", "mon,fri *-1/2-1,3 *:30:45",
	"03-05 08:05:40", "08:05:40", "05:40", "Sat,Sun 12-05 08:05:40", "Sat,Sun 08:05:40",
	"2003-03-05 05:40", "05:40:23.4200004/3.1700005", "2003-02..04-05", "2003-03-05 05:40 UTC",
	"2003-03-05", "03-05", "hourly", "daily", "daily UTC", "monthly", "weekly", "weekly Pacific/Auckland",
	"yearly", "annually", "*:2/3", "*-02~03", "Mon *-05~07/1", "*-05~07/1", "Mon..Fri *-*-* 10:00",
	// shorthands, any case
	"minutely", "MINUTELY", "Hourly", "quarterly", "semiannually", "semi-annually", "biannually",
	"bi-annually", "anually", "yearly UTC", "monthly Europe/Berlin",
	// weekdays
	"Mon", "mon..fri", "Monday..Friday", "Sat,Sun", "Mon-Wed", "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
	"Tue,Thu", "Sun..Mon", "Mon..", "Mon,", "Mon, 10:00", "Fri,Mon 12:00", "Thu..Sat,Mon",
	"Mo", "Monx", "mon..tue..wed",
	// dates
	"*-*-*", "*-*-* 00:00:00", "2026-*-*", "26-01-01", "99-01-01", "70-01-01", "1970-01-01",
	"2199-12-31", "2200-01-01", "1969-12-31", "*-02-29", "*-02-30", "*-04-31", "*-*-31",
	"*-1,3,5-1", "*-1..6/2-1", "*-*-1/7", "*-*-01..31/10", "*-12-25", "*-2-29 12:00",
	"2024..2030-02-29", "2026-01..03-15", "2026,2028,2027-06-01", "*-*-5..1", "*-13-01", "*-00-01",
	"*-*-0", "*-*-32", "2026-1-1", "*/2-01-01", "2026-*-*/5",
	// end of month
	"*-*~01", "*-*~1..3", "*-*~03/1", "*-02~01", "*-*~28", "*-*~29", "*-*~7/2", "*~7/2", "*-*~1,15",
	"Fri *-*~7/1", "Mon *-*~1..7", "*-*~0",
	// times
	"10:00", "0:0", "23:59", "24:00", "12:60", "*:*", "*:0/15", "*:00/15:00", "*:05,35", "8..18:00",
	"8..18/2:00", "*:*:30", "*:*:0/10", "*:*:*", "*:*:00..59", "*:*:5..10", "*:*:5..10/2",
	"*:*:1.5", "*:*:1.5/2.25", "*:00:01.1234567", "*:00:01.9999995", "*:*:0.5", "*:*:00.000001",
	"*:*:59.999999", "*:*:60", "*:*:1.", "*:*:1..1.5", "*:*:1.5..3", "*:*:10/0", "*:0/0",
	"12:00:00.250/0.5", "1,2,3:4,5,6:7,8,9", "*:*/5", "*/2:00", "10", "1.5", "10:00:00:00",
	"0..23:0..59:0..59", "*:59/1", "*:50/20", "23/2:00", "0/25:00",
	// @timestamps
	"@0", "@1767225600", "@1767225600 UTC", "@2000000000", "@99999999999", "@", "@x", "@12 10:00",
	// time zones
	"10:00 UTC", "10:00 utc", "10:00 Etc/UTC", "10:00 Europe/Berlin", "*-*-* 02:30 Europe/Berlin",
	"*-*-* 02:30 America/New_York", "01:30 America/New_York", "*:0/30 Asia/Kolkata", "daily Asia/Tokyo",
	"Mon 10:00 Australia/Lord_Howe", "10:00 Nowhere/Zone", "10:00 Europe//Berlin", "10:00 /etc/passwd",
	"10:00 ../zoneinfo/UTC", "12:00 GMT", "12:00 Etc/GMT-14", "12:00 Etc/GMT+5", "UTC",
	"10:00 CET", "02:30 CEST", "02:30 CET", "Mon 10:00 EST", "01:30 EDT", "daily AEST",
	"daily  UTC", " daily", "daily ", "",
	// whitespace and junk
	"Mon  10:00", "Mon *-*-*  10:00", "*-*-* 10:00 ", "today", "tomorrow", "now", "yesterday", "+5min",
	"Mon..Fri 25:00", "*-*-* *:*:*:*", "1-2-3-4", "*~*~*", "2026~01~01", "**", "*-*-**", ",", "1,,2:00",
	"1..:00", "..2:00", "1/:00", "01..05/2:00", "00..23/6:00", "00..22/6:00",
}

// calendarBases are the "now" of the runs: a plain one, one at a month's
// end, and the two DST changes of 2026 in Europe and America.
var calendarBases = []time.Time{
	time.Unix(1767225600, 0),                        // 2026-01-01 00:00:00 UTC
	time.Date(2026, 2, 27, 23, 59, 59, 0, time.UTC), // around a short month's end
	time.Date(2026, 3, 29, 0, 10, 0, 0, time.UTC),   // Europe springs forward at 01:00 UTC
	time.Date(2026, 10, 24, 23, 50, 0, 0, time.UTC), // Europe falls back at 01:00 UTC
	time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC),    // America/New_York springs forward at 07:00 UTC
	time.Date(2026, 11, 1, 4, 45, 0, 0, time.UTC),   // America/New_York falls back at 06:00 UTC
}

// TestInitUnitsCalendarUpstream compares lib/calendar with upstream's
// `systemd-analyze calendar --iterations=5 --base-time=…` over the table: the same
// expressions accepted, the same normalized form and the same five elapses, in UTC for
// every base and in three local zones (so that local-time and DST handling are compared
// too) for a part of it.
func TestInitUnitsCalendarUpstream(t *testing.T) {
	up := harness.NeedUpstream(t)
	exprs := append(append([]string{}, calendarExprs...), shippedCalendars(t, up)...)
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"}
	compared, mismatches := 0, 0
	for zi, zone := range zones {
		local, err := time.LoadLocation(zone)
		if err != nil {
			harness.Require(t, "tzdata for "+zone+": "+err.Error(), "tzdata")
		}
		for bi, base := range calendarBases {
			for ei, expr := range exprs {
				if zoneOnlyOnHost(up, expr) {
					continue
				}
				// Every expression at the first base in every zone; a third of the other
				// combinations, so the run stays short.
				if bi != 0 && (ei+bi+zi)%3 != 0 {
					continue
				}
				want := upstreamCalendar(t, up, zone, base, expr)
				got := ourCalendar(local, base, expr)
				compared++
				if got != want {
					mismatches++
					t.Errorf("TZ=%s base=%s %q:\n upstream: %s\n ours:     %s", zone, base.UTC().Format(time.RFC3339), expr, want, got)
				}
			}
		}
	}
	t.Logf("%d expression runs compared with upstream, %d differ", compared, mismatches)
}

// upstreamCalendar runs upstream's systemd-analyze calendar and reduces its output to one
// line: "invalid", or the normalized form and the elapses, " | "-separated.
func upstreamCalendar(t *testing.T, up *harness.Upstream, zone string, base time.Time, expr string) string {
	t.Helper()
	cmd := up.Command("systemd-analyze", "calendar", "--iterations=5",
		fmt.Sprintf("--base-time=@%d", base.Unix()), "--", expr)
	cmd.Env = append(cmd.Env, "TZ=:"+zone)
	out, _, code := harness.Run(t, cmd)
	if code != 0 {
		return "invalid"
	}
	var parts []string
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok {
			continue
		}
		switch {
		case k == "Normalized form", k == "Next elapse", strings.HasPrefix(k, "Iteration #"):
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " | ")
}

// ourCalendar is upstreamCalendar's line from lib/calendar, the elapses printed in local
// as systemd-analyze prints them (to the second).
func ourCalendar(local *time.Location, base time.Time, expr string) string {
	spec, err := calendar.ParseInLocation(expr, local)
	if err != nil {
		return "invalid"
	}
	parts := []string{spec.String()}
	at := base
	for i := 0; i < 5; i++ {
		next, err := spec.Next(at)
		if err != nil {
			if i == 0 {
				parts = append(parts, "never")
			}
			break
		}
		parts = append(parts, next.In(local).Format("Mon 2006-01-02 15:04:05 MST"))
		at = next
	}
	return strings.Join(parts, " | ")
}

// zoneOnlyOnHost reports whether expr ends in a time zone name that the host's tzdata has
// and the upstream root's does not (Debian moved the legacy names to tzdata-legacy): the
// two sides would not read the same expression.
func zoneOnlyOnHost(up *harness.Upstream, expr string) bool {
	f := strings.Fields(expr)
	if len(f) < 2 {
		return false
	}
	name := f[len(f)-1]
	_, errHost := os.Stat(filepath.Join("/usr/share/zoneinfo", name))
	_, errUp := os.Stat(filepath.Join(up.Dir, "usr/share/zoneinfo", name))
	return errHost == nil && errUp != nil
}

// shippedCalendars are the OnCalendar= values of the timer units Debian's systemd 262
// packages ship (apt-daily, fstrim, systemd-tmpfiles-clean, …), each checked too.
func shippedCalendars(t *testing.T, up *harness.Upstream) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(up.Dir, "usr/lib/systemd/system/*.timer"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "OnCalendar="); ok && v != "" {
				out = append(out, v)
			}
		}
	}
	if len(out) == 0 {
		t.Errorf("no OnCalendar= in the upstream root's timer units (%d files)", len(files))
	}
	return out
}

// TestInitUnitsTimerCorpus loads every timer unit Debian's systemd 262 packages ship with
// lib/unit: each loads, with no warning, and its [Timer] values read as upstream's.
func TestInitUnitsTimerCorpus(t *testing.T) {
	up := harness.NeedUpstream(t)
	files, _ := filepath.Glob(filepath.Join(up.Dir, "usr/lib/systemd/system/*.timer"))
	if len(files) == 0 {
		t.Fatal("no timer units in the upstream root")
	}
	for _, f := range files {
		name := filepath.Base(f)
		u, err := unit.Load(up.Dir, name, &unit.Options{Dirs: []string{"/usr/lib/systemd/system"}})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if u.LoadState != unit.Loaded || len(u.Warnings) > 0 || u.Timer == nil || len(u.Timer.Values) == 0 {
			t.Errorf("%s: %s, warnings %v, timer %+v", name, u.LoadState, u.Warnings, u.Timer)
		}
	}
	t.Logf("%d timer units loaded", len(files))
}
