package calendar

import (
	"errors"
	"time"
)

// broken is a broken-down wall-clock time, as struct tm: mon counts from 0,
// fields may be out of range until norm folds them back, and isdst is -1
// (let the zone decide), 0 (standard time) or 1 (daylight saving time).
type broken struct {
	year, mon, mday, hour, min, sec int
	isdst                           int
}

// norm folds out-of-range fields into range as glibc's mktime() does, and
// sets isdst to what is in effect at the result. It returns the instant
// in Unix seconds and the weekday (0 Sunday).
//
// How a wall-clock time maps to an instant decides where a search lands
// around DST changes, so this follows mktime(): a time in a gap (spring
// forward) is read with the offset before the change and so lands after
// it; a repeated time (fall back) is its first occurrence; a forced isdst
// reads the time with that kind of offset even where it is not in effect,
// which moves it by the difference (upstream relies on all three).
func (c *Spec) norm(t *broken) (int64, time.Weekday) {
	local := time.Date(t.year, time.Month(t.mon+1), t.mday, t.hour, t.min, t.sec, 0, time.UTC).Unix()
	u := local
	if c.loc != time.UTC {
		u = local - int64(c.offsetFor(local, t.isdst))
	}
	d := time.Unix(u, 0).In(c.loc)
	t.year, t.mon, t.mday = d.Year(), int(d.Month())-1, d.Day()
	t.hour, t.min, t.sec = d.Hour(), d.Minute(), d.Second()
	t.isdst = 0
	if d.IsDST() {
		t.isdst = 1
	}
	return u, d.Weekday()
}

// zoneAt is the UTC offset and DST flag in effect at Unix second u.
func (c *Spec) zoneAt(u int64) (int, bool) {
	d := time.Unix(u, 0).In(c.loc)
	_, off := d.Zone()
	return off, d.IsDST()
}

// offsetFor picks the offset that turns the wall-clock seconds local into
// an instant (see norm). Zones change their offset at most once a day, so
// the offsets a day before and after are the candidates.
func (c *Spec) offsetFor(local int64, isdst int) int {
	const day = 86400
	before, dstBefore := c.zoneAt(local - day)
	after, dstAfter := c.zoneAt(local + day)
	valid := func(off int) bool { o, _ := c.zoneAt(local - int64(off)); return o == off }
	if isdst >= 0 {
		want := isdst == 1
		switch {
		case dstBefore == want && valid(before):
			return before
		case dstAfter == want && valid(after):
			return after
		case dstBefore == want:
			return before
		case dstAfter == want:
			return after
		}
		// No such offset nearby: look half a year away, as mktime() probes.
		for _, probe := range []int64{-183 * day, 183 * day} {
			if off, dst := c.zoneAt(local + probe); dst == want {
				return off
			}
		}
	}
	vb, va := valid(before), valid(after)
	switch {
	case vb && va:
		return max(before, after) // the earlier instant
	case va:
		return after
	}
	return before // valid, or a gap: read with the offset before it
}

var errNoConverge = errors.New("calendar: the search for the next elapse does not converge")

// errBackwards is a normalization that moved the time back (a repeated
// hour when clocks go back): that field has no match here.
var errBackwards = errors.New("backwards")

// withinBounds reports whether t is a valid wall-clock time (1), was moved
// forward by normalizing, in which case t is now the normalized time with
// the field below the first changed one reset (0), or is beyond the last
// year or moved backwards (an error).
func (c *Spec) withinBounds(t *broken) (int, error) {
	if t.year > maxYear {
		return 0, ErrNoElapse
	}
	n := *t
	c.norm(&n)
	// Where a field moved, the fields below it start over: normalizing
	// "03-33" to "04-02" must not skip "04-01".
	cmp, level := 0, 5
	for i, p := range [...][2]int{{n.year, t.year}, {n.mon, t.mon}, {n.mday, t.mday}, {n.hour, t.hour}, {n.min, t.min}, {n.sec, t.sec}} {
		if cmp = compare(p[0], p[1]); cmp != 0 {
			level = i
			break
		}
	}
	if cmp > 0 {
		if level < 1 {
			n.mon = 0
		}
		if level < 2 {
			n.mday = 1
		}
		if level < 3 {
			n.hour = 0
		}
		if level < 4 {
			n.min = 0
		}
		if level < 5 {
			n.sec = 0
		}
	}
	switch {
	case cmp < 0:
		return 0, errBackwards
	case cmp > 0:
		*t = n
		return 0, nil
	}
	return 1, nil
}

func compare(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// endOfMonthDay is the day of t's month that lies day-1 days before its
// last one, or -1 when there is none (day < 1 or the month is too short).
func (c *Spec) endOfMonthDay(t broken, day int) int {
	n := t
	n.mon++
	n.mday = 1 - day
	c.norm(&n)
	if n.mon != t.mon {
		return -1
	}
	return n.mday
}

// match finds the earliest value of ch at or after *val and stores it:
// 1 when *val changed, 0 when it already matched (or ch is "*"), -1 when
// nothing in ch comes at or after it.
func (c *Spec) match(ch []component, isDay bool, t broken, val *int) int {
	if ch == nil {
		return 0
	}
	eom := c.endOfMonth && isDay
	d, found := 0, false
	for _, x := range ch {
		start, stop := x.start, x.stop
		if eom {
			start, stop = c.endOfMonthDay(t, x.start), c.endOfMonthDay(t, x.stop)
			if stop > 0 {
				start, stop = stop, start
			}
		}
		if start >= *val {
			if !found || start < d {
				d, found = start, true
			}
		} else if x.repeat > 0 {
			k := start + x.repeat*((*val-start+x.repeat-1)/x.repeat)
			if (!found || k < d) && (stop < 0 || k <= stop) {
				d, found = k, true
			}
		}
	}
	if !found {
		return -1
	}
	changed := 0
	if *val != d {
		changed = 1
	}
	*val = d
	return changed
}

// Next returns the first time after after at which the expression
// elapses, in the expression's time zone, or ErrNoElapse.
func (c *Spec) Next(after time.Time) (time.Time, error) {
	u := after.UnixMicro()
	if u < 0 {
		u = 0
	}
	if u > maxUsec {
		return time.Time{}, ErrNoElapse
	}
	u++
	d := time.Unix(u/usecPerSec, 0).In(c.loc)
	t := broken{d.Year(), int(d.Month()) - 1, d.Day(), d.Hour(), d.Minute(), d.Second(), 0}
	if d.IsDST() {
		t.isdst = 1
	}
	usec := int(u % usecPerSec)
	if err := c.find(&t, &usec); err != nil {
		return time.Time{}, err
	}
	secs, _ := c.norm(&t)
	next := secs*usecPerSec + int64(usec)
	if next < u {
		// Only a forced daylight-saving abbreviation across a change can
		// lead here; upstream's search does not settle either.
		return time.Time{}, errNoConverge
	}
	return time.UnixMicro(next).In(c.loc), nil
}

// find walks t forward, field by field from the year down, to the first
// time that matches every field; a field without a match carries into the
// one above it. Like upstream it gives up after maxIteration rounds.
func (c *Spec) find(tm *broken, usecp *int) error {
	t := *tm
	usec := *usecp
	resetFrom := func(level int) { // zero the fields below level: 0 month, 1 day, 2 hour, 3 minute, 4 second
		if level <= 0 {
			t.mon = 0
		}
		if level <= 1 {
			t.mday = 1
		}
		if level <= 2 {
			t.hour = 0
		}
		if level <= 3 {
			t.min = 0
		}
		t.sec, usec = 0, 0
	}
	for i := 0; i < maxIteration; i++ {
		c.norm(&t)
		t.isdst = c.dst

		r := c.match(c.year, false, t, &t.year)
		if r < 0 {
			return ErrNoElapse
		}
		if r > 0 {
			resetFrom(0)
		}
		if ok, err := c.withinBounds(&t); err != nil || ok == 0 {
			return ErrNoElapse
		}

		t.mon++
		r = c.match(c.month, false, t, &t.mon)
		t.mon--
		if r > 0 {
			resetFrom(1)
		}
		ok, err := 0, error(nil)
		if r >= 0 {
			ok, err = c.withinBounds(&t)
		}
		if r < 0 || err != nil {
			if errors.Is(err, ErrNoElapse) {
				return err
			}
			t.year++
			resetFrom(0)
			continue
		}
		if ok == 0 {
			continue
		}

		r = c.match(c.day, true, t, &t.mday)
		if r > 0 {
			resetFrom(2)
		}
		if r >= 0 {
			ok, err = c.withinBounds(&t)
		}
		if r < 0 || err != nil {
			if errors.Is(err, ErrNoElapse) {
				return err
			}
			t.mon++
			resetFrom(1)
			continue
		}
		if ok == 0 {
			continue
		}

		if c.weekdays >= 0 && c.weekdays < allWeekdays {
			n := t
			_, wd := c.norm(&n)
			k := (int(wd) + 6) % 7 // Monday first
			if c.weekdays&(1<<k) == 0 {
				t.mday++
				resetFrom(2)
				continue
			}
		}

		r = c.match(c.hour, false, t, &t.hour)
		if r > 0 {
			resetFrom(3)
		}
		if r >= 0 {
			ok, err = c.withinBounds(&t)
		}
		if r < 0 || err != nil {
			if errors.Is(err, ErrNoElapse) {
				return err
			}
			t.mday++
			resetFrom(2)
			continue
		}
		if ok == 0 {
			continue // the hour may not exist on this day (DST): start over from the normalized time
		}

		r = c.match(c.minute, false, t, &t.min)
		if r > 0 {
			resetFrom(4)
		}
		if r >= 0 {
			ok, err = c.withinBounds(&t)
		}
		if r < 0 || err != nil {
			if errors.Is(err, ErrNoElapse) {
				return err
			}
			t.hour++
			resetFrom(3)
			continue
		}
		if ok == 0 {
			continue
		}

		s := t.sec*usecPerSec + usec
		r = c.match(c.usec, false, t, &s)
		usec = s % usecPerSec
		t.sec = s / usecPerSec
		if r >= 0 {
			ok, err = c.withinBounds(&t)
		}
		if r < 0 || err != nil {
			if errors.Is(err, ErrNoElapse) {
				return err
			}
			t.min++
			t.sec, usec = 0, 0
			continue
		}
		if ok == 0 {
			continue
		}
		*tm, *usecp = t, usec
		return nil
	}
	return errNoConverge
}
