package steadctl

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/api/iosystemdunit"
)

// noElapse is a timer without a next elapse: sorted last, printed "-".
const noElapse = math.MaxInt64

// timerRow is one line of list-timers: times in µs (noElapse or 0: none).
type timerRow struct {
	next, lastReal, lastMono int64
	unit                     string
	activates                []string
}

// timerRowJSON is a row as systemctl's --json prints the table: the timestamps in µs
// (null when unset) and ACTIVATES as a list.
type timerRowJSON struct {
	Next      *int64   `json:"next"`
	Left      *int64   `json:"left"`
	Last      *int64   `json:"last"`
	Passed    *int64   `json:"passed"`
	Unit      string   `json:"unit"`
	Activates []string `json:"activates"`
}

// clockNow is the current time on both clocks, in µs.
type clockNow struct{ real, mono int64 }

func readClocks(now time.Time) clockNow {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return clockNow{real: now.UnixMicro(), mono: ts.Nano() / 1000}
}

// nextElapse is the timer's next elapse on the wall clock: the earlier of the
// calendar one and the monotonic one moved onto the wall clock, as systemctl computes it.
func nextElapse(tr *iosystemdunit.TimerRuntime, nw clockNow) int64 {
	if tr == nil {
		return noElapse
	}
	next := int64(noElapse)
	if r := tr.NextElapseUSecRealtime; r != nil && *r > 0 {
		next = *r
	}
	if m := tr.NextElapseUSecMonotonic; m != nil && *m > 0 {
		next = min(next, nw.real+(*m-nw.mono))
	}
	return next
}

// timerRows picks the timers list-timers shows (as list-units: the active ones, every
// loaded one with --all, or those matching patterns) and sorts them by next elapse.
func timerRows(units []iosystemdunit.Unit, f listFilter, nw clockNow) []timerRow {
	var rows []timerRow
	for i := range units {
		u := &units[i]
		if !strings.HasSuffix(u.Context.ID, ".timer") || !f.match(u) {
			continue
		}
		r := timerRow{next: nextElapse(u.Runtime.Timer, nw), unit: u.Context.ID, activates: u.Context.Triggers}
		if tr := u.Runtime.Timer; tr != nil && tr.LastTriggerUSec != nil {
			r.lastReal, r.lastMono = tr.LastTriggerUSec.Realtime, tr.LastTriggerUSec.Monotonic
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(a, b int) bool {
		if rows[a].next != rows[b].next {
			return rows[a].next < rows[b].next
		}
		return rows[a].unit < rows[b].unit
	})
	return rows
}

// writeTimers prints rows as systemctl list-timers: NEXT LEFT LAST PASSED UNIT ACTIVATES,
// LEFT and PASSED right-aligned, "-" for what is unset, then the count.
func writeTimers(w io.Writer, rows []timerRow, nw clockNow, legend, all bool) error {
	table := [][]string{}
	if legend {
		table = append(table, []string{"NEXT", "LEFT", "LAST", "PASSED", "UNIT", "ACTIVATES"})
	}
	for _, r := range rows {
		next, left, last, passed := "-", "-", "-", "-"
		if r.next != noElapse && r.next > 0 {
			next = formatTime(time.UnixMicro(r.next))
			left = relativeTime(r.next-nw.real, true)
		}
		if r.lastReal > 0 {
			last = formatTime(time.UnixMicro(r.lastReal))
		}
		if r.lastMono > 0 {
			passed = relativeTime(r.lastMono-nw.mono, false)
		}
		act := strings.Join(r.activates, ", ")
		if act == "" {
			act = "-"
		}
		table = append(table, []string{next, left, last, passed, r.unit, act})
	}
	var b strings.Builder
	widths := make([]int, 6)
	for _, r := range table {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range table {
		for i, c := range r {
			if i == 1 || i == 3 { // right-aligned
				r[i] = strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)) + c
			} else {
				r[i] = pad(c, widths[i])
			}
		}
		b.WriteString(strings.TrimRight(strings.Join(r, " "), " ") + "\n")
	}
	if legend {
		fmt.Fprintf(&b, "\n%d timers listed.\n", len(rows))
		if !all {
			b.WriteString("Pass --all to see loaded but inactive timers, too.\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// timersJSON converts rows for --json.
func timersJSON(rows []timerRow) []timerRowJSON {
	out := []timerRowJSON{}
	for _, r := range rows {
		j := timerRowJSON{Unit: r.unit, Activates: r.activates}
		if r.next != noElapse && r.next > 0 {
			n := r.next
			j.Next, j.Left = &n, &n
		}
		if r.lastReal > 0 {
			l := r.lastReal
			j.Last = &l
		}
		if r.lastMono > 0 {
			p := r.lastMono
			j.Passed = &p
		}
		if j.Activates == nil {
			j.Activates = []string{}
		}
		out = append(out, j)
	}
	return out
}

// Calendar lengths as systemd counts them for relative times.
const (
	usecMinute = int64(60_000_000)
	usecHour   = 60 * usecMinute
	usecDay    = 24 * usecHour
	usecWeek   = 7 * usecDay
	usecMonth  = 2_629_800_000_000
	usecYear   = 31_557_600_000_000
)

// relativeTime says how far d (µs, positive: in the future) is from now, as systemd's
// relative timestamps: "4min 59s" (left, without a word, for future times in the LEFT
// column), "2h 5min ago", "1 day 3h ago", "3 weeks 2 days ago".
func relativeTime(d int64, implicitLeft bool) string {
	suffix := " ago"
	if d > 0 {
		suffix = " left"
		if implicitLeft {
			suffix = ""
		}
	} else {
		d = -d
	}
	plural := func(n int64, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	}
	switch {
	case d >= usecYear:
		y, mo := d/usecYear, (d%usecYear)/usecMonth
		return fmt.Sprintf("%d %s %d %s%s", y, plural(y, "year", "years"), mo, plural(mo, "month", "months"), suffix)
	case d >= usecMonth:
		mo, dd := d/usecMonth, (d%usecMonth)/usecDay
		return fmt.Sprintf("%d %s %d %s%s", mo, plural(mo, "month", "months"), dd, plural(dd, "day", "days"), suffix)
	case d >= usecWeek:
		w, dd := d/usecWeek, (d%usecWeek)/usecDay
		return fmt.Sprintf("%d %s %d %s%s", w, plural(w, "week", "weeks"), dd, plural(dd, "day", "days"), suffix)
	case d >= 2*usecDay:
		return fmt.Sprintf("%d days%s", d/usecDay, suffix)
	case d >= 25*usecHour:
		return fmt.Sprintf("1 day %dh%s", (d-usecDay)/usecHour, suffix)
	case d >= 6*usecHour:
		return fmt.Sprintf("%dh%s", d/usecHour, suffix)
	case d >= usecHour:
		return fmt.Sprintf("%dh %dmin%s", d/usecHour, (d%usecHour)/usecMinute, suffix)
	case d >= 5*usecMinute:
		return fmt.Sprintf("%dmin%s", d/usecMinute, suffix)
	case d >= usecMinute:
		return fmt.Sprintf("%dmin %ds%s", d/usecMinute, (d%usecMinute)/1_000_000, suffix)
	case d >= 1_000_000:
		return fmt.Sprintf("%ds%s", d/1_000_000, suffix)
	case d >= 1000:
		return fmt.Sprintf("%dms%s", d/1000, suffix)
	case d > 0:
		return fmt.Sprintf("%dus%s", d, suffix)
	}
	return "now"
}

// listTimers is list-timers [PATTERN…].
func (x *ctl) listTimers(ctx context.Context, patterns []string) int {
	units, err := x.c.units(ctx)
	if err != nil {
		x.errorf("Failed to list timers: %v", err)
		return ExitFailure
	}
	for i, p := range patterns {
		if !strings.ContainsAny(p, "*?[") && !strings.Contains(p, ".") {
			patterns[i] = p + ".timer" // as systemctl: "foo" is foo.timer here
		}
	}
	nw := readClocks(x.now())
	rows := timerRows(units, listFilter{all: x.opts.All, patterns: patterns}, nw)
	if x.opts.JSON != "" {
		err = writeJSON(x.stdout, timersJSON(rows), x.opts.JSON == "pretty")
	} else {
		err = writeTimers(x.stdout, rows, nw, !x.opts.NoLegend, x.opts.All)
	}
	if err != nil {
		return ExitFailure
	}
	return ExitOK
}
