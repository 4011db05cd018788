package calendar

import (
	"fmt"
	"sort"
	"strings"
)

// normalize brings a parsed expression into the form upstream prints and
// computes with: UTC named as a zone becomes the UTC flag, an all-days or
// empty weekday set means any day, two-digit years are 19xx/20xx, and each
// field's list is sorted, deduplicated and its ranges trimmed to whole
// repetitions.
func (c *Spec) normalize() {
	if c.tz == "UTC" {
		c.utc, c.tz = true, ""
	}
	if c.weekdays <= 0 || c.weekdays >= allWeekdays {
		c.weekdays = -1
	}
	if c.endOfMonth && c.day == nil {
		c.endOfMonth = false
	}
	for i := range c.year {
		y := &c.year[i]
		y.start = fixYear(y.start)
		y.stop = fixYear(y.stop)
	}
	for _, ch := range []*[]component{&c.year, &c.month, &c.day, &c.hour, &c.minute, &c.usec} {
		*ch = normalizeChain(*ch)
	}
}

// fixYear turns 12 into 2012 and 89 into 1989.
func fixYear(y int) int {
	switch {
	case y >= 0 && y < 70:
		return y + 2000
	case y >= 70 && y < 100:
		return y + 1900
	}
	return y
}

func normalizeChain(ch []component) []component {
	for i := range ch {
		x := &ch[i]
		if x.stop > x.start && x.repeat > 0 {
			x.stop -= (x.stop - x.start) % x.repeat
		}
		// A repetition that cannot happen even once, or a range of one
		// value, is the plain value.
		if (x.stop > x.start && x.repeat > 0 && x.start+x.repeat > x.stop) || x.start == x.stop {
			x.repeat, x.stop = 0, -1
		}
	}
	if len(ch) <= 1 {
		return ch
	}
	sort.Slice(ch, func(a, b int) bool { return less(ch[a], ch[b]) })
	out := ch[:1]
	for _, x := range ch[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

func less(a, b component) bool {
	if a.start != b.start {
		return a.start < b.start
	}
	if a.stop != b.stop {
		return a.stop < b.stop
	}
	return a.repeat < b.repeat
}

// valid checks every field against its range, as upstream does after
// normalizing.
func (c *Spec) valid() bool {
	return chainValid(c.year, minYear, maxYear, false) &&
		chainValid(c.month, 1, 12, false) &&
		chainValid(c.day, 1, 31, c.endOfMonth) &&
		chainValid(c.hour, 0, 23, false) &&
		chainValid(c.minute, 0, 59, false) &&
		chainValid(c.usec, 0, 60*usecPerSec-1, false)
}

func chainValid(ch []component, from, to int, endOfMonth bool) bool {
	if endOfMonth {
		to -= 3 // at most 28 days back from the month's end
	}
	for _, x := range ch {
		if x.start < from || x.start > to || x.repeat > to-from {
			return false
		}
		if x.stop >= 0 {
			if x.stop < from || x.stop > to || x.start+x.repeat > x.stop {
				return false
			}
		} else if endOfMonth && x.start-x.repeat < from || !endOfMonth && x.start+x.repeat > to {
			return false
		}
	}
	return true
}

var weekdayAbbr = [7]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// String is the normalized form, as `systemd-analyze calendar` prints it
// ("Mon..Fri *-*-* 10:00:00", "*-*~01 00:00:00 UTC").
func (c *Spec) String() string {
	var b strings.Builder
	if c.weekdays > 0 && c.weekdays <= allWeekdays {
		writeWeekdays(&b, c.weekdays)
		b.WriteByte(' ')
	}
	writeChain(&b, 4, c.year, false)
	b.WriteByte('-')
	writeChain(&b, 2, c.month, false)
	if c.endOfMonth {
		b.WriteByte('~')
	} else {
		b.WriteByte('-')
	}
	writeChain(&b, 2, c.day, false)
	b.WriteByte(' ')
	writeChain(&b, 2, c.hour, false)
	b.WriteByte(':')
	writeChain(&b, 2, c.minute, false)
	b.WriteByte(':')
	writeChain(&b, 2, c.usec, true)
	switch {
	case c.utc:
		b.WriteString(" UTC")
	case c.tz != "":
		b.WriteString(" " + c.tz)
	case c.dst == 0 || c.dst == 1:
		if n := c.tzname[c.dst]; n != "" {
			b.WriteString(" " + n)
		}
	}
	return b.String()
}

// writeWeekdays writes runs of three or more days as ranges, shorter
// ones as lists.
func writeWeekdays(b *strings.Builder, bits int) {
	comma := false
	l := -1
	x := 0
	for ; x < 7; x++ {
		if bits&(1<<x) != 0 {
			if l < 0 {
				if comma {
					b.WriteByte(',')
				}
				comma = true
				b.WriteString(weekdayAbbr[x])
				l = x
			}
			continue
		}
		if l >= 0 {
			closeRun(b, l, x)
			l = -1
		}
	}
	if l >= 0 {
		closeRun(b, l, x)
	}
}

func closeRun(b *strings.Builder, l, x int) {
	if x > l+1 {
		if x > l+2 {
			b.WriteString("..")
		} else {
			b.WriteByte(',')
		}
		b.WriteString(weekdayAbbr[x-1])
	}
}

func writeChain(b *strings.Builder, width int, ch []component, usec bool) {
	if ch == nil {
		b.WriteByte('*')
		return
	}
	d := 1
	if usec {
		d = usecPerSec
	}
	if usec && len(ch) == 1 && ch[0].start == 0 && ch[0].repeat == usecPerSec && ch[0].stop < 0 {
		b.WriteByte('*')
		return
	}
	for i, x := range ch {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, "%0*d", width, x.start/d)
		if x.start%d > 0 {
			fmt.Fprintf(b, ".%06d", x.start%d)
		}
		if x.stop > 0 {
			fmt.Fprintf(b, "..%0*d", width, x.stop/d)
			if x.stop%d > 0 {
				fmt.Fprintf(b, ".%06d", x.stop%d)
			}
		}
		if x.repeat > 0 && !(x.stop > 0 && x.repeat == d) {
			fmt.Fprintf(b, "/%d", x.repeat/d)
			if x.repeat%d > 0 {
				fmt.Fprintf(b, ".%06d", x.repeat%d)
			}
		}
	}
}
