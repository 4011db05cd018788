package conf

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Infinity is what ParseTimespan returns for "infinity": the largest
// Duration, which callers compare against rather than use as a length.
const Infinity time.Duration = math.MaxInt64

// Calendar units as systemd defines them: a month is 30.44 days and a
// year 365.25 days, so that they average out over leap years.
const (
	usecPerSec   = 1000000
	usecPerMin   = 60 * usecPerSec
	usecPerHour  = 60 * usecPerMin
	usecPerDay   = 24 * usecPerHour
	usecPerWeek  = 7 * usecPerDay
	usecPerMonth = 2629800 * usecPerSec
	usecPerYear  = 31557600 * usecPerSec
)

// maxUsec is the largest number of microseconds a Duration can hold.
const maxUsec = uint64(math.MaxInt64 / int64(time.Microsecond))

// timeUnits lists the unit words. They are matched as prefixes in this
// order, so longer words precede their own prefixes ("msec" before "m",
// "months" before "m"); matching is case-sensitive because "M" (month)
// and "m" (minute) differ.
var timeUnits = [...]struct {
	word string
	usec uint64
}{
	{"seconds", usecPerSec},
	{"second", usecPerSec},
	{"sec", usecPerSec},
	{"s", usecPerSec},
	{"minutes", usecPerMin},
	{"minute", usecPerMin},
	{"min", usecPerMin},
	{"months", usecPerMonth},
	{"month", usecPerMonth},
	{"M", usecPerMonth},
	{"msec", 1000},
	{"ms", 1000},
	{"m", usecPerMin},
	{"hours", usecPerHour},
	{"hour", usecPerHour},
	{"hr", usecPerHour},
	{"h", usecPerHour},
	{"days", usecPerDay},
	{"day", usecPerDay},
	{"d", usecPerDay},
	{"weeks", usecPerWeek},
	{"week", usecPerWeek},
	{"w", usecPerWeek},
	{"years", usecPerYear},
	{"year", usecPerYear},
	{"y", usecPerYear},
	{"usec", 1},
	{"us", 1},
	{"\u03bcs", 1}, // Greek small letter mu
	{"\u00b5s", 1}, // micro sign
}

// ParseTimespan parses a time span the way systemd settings are written:
// one or more terms, each a number with an optional fraction and an
// optional unit, added up ("1min 30s", "1h30m", "500ms", "1.5s",
// "2 weeks"). A bare number is in seconds. "infinity" returns Infinity.
//
// Units: usec, us, µs; msec, ms; seconds, second, sec, s; minutes, minute,
// min, m; hours, hour, hr, h; days, day, d; weeks, week, w; months, month,
// M (30.44 days); years, year, y (365.25 days). The resolution is one
// microsecond; spans that do not fit a time.Duration (about 292 years)
// are rejected.
func ParseTimespan(s string) (time.Duration, error) {
	return ParseTimespanUnit(s, time.Second)
}

// ParseTimespanUnit is ParseTimespan with another unit for bare numbers,
// for the settings that default to e.g. milliseconds. unit is rounded down
// to whole microseconds, and at least one microsecond.
func ParseTimespanUnit(s string, unit time.Duration) (time.Duration, error) {
	const typ = "time span"
	def := uint64(max(unit/time.Microsecond, 1))
	p := strings.TrimLeft(s, whitespace)
	if rest, ok := strings.CutPrefix(p, "infinity"); ok {
		if strings.TrimLeft(rest, whitespace) != "" {
			return 0, valueErr(typ, s, "unexpected text after infinity")
		}
		return Infinity, nil
	}
	var total uint64
	something := false
	for {
		p = strings.TrimLeft(p, whitespace)
		if p == "" {
			break
		}
		if p[0] == '-' {
			return 0, valueErr(typ, s, "negative")
		}
		i := digits(p)
		whole := p[:i]
		p = p[i:]
		var frac string
		if strings.HasPrefix(p, ".") {
			j := digits(p[1:])
			frac = p[1 : 1+j]
			p = p[1+j:]
		}
		if whole == "" && frac == "" {
			return 0, valueErr(typ, s, "number expected")
		}
		mult := def
		q := strings.TrimLeft(p, whitespace)
		matched := false
		for _, u := range timeUnits {
			if strings.HasPrefix(q, u.word) {
				mult, q, matched = u.usec, q[len(u.word):], true
				break
			}
		}
		if !matched && len(q) == len(p) && p != "" {
			// Something other than a unit or a space right after the
			// number: "12x", "1.2.3".
			return 0, valueErr(typ, s, "unknown unit "+strconv.Quote(p))
		}
		p = q
		n := uint64(0)
		if whole != "" {
			var err error
			if n, err = strconv.ParseUint(whole, 10, 64); err != nil {
				return 0, valueErr(typ, s, "out of range")
			}
		}
		if n > maxUsec/mult {
			return 0, valueErr(typ, s, "out of range")
		}
		total += n * mult
		// The fraction is scaled digit by digit: 1.5min is 90s exactly,
		// and digits below a microsecond vanish.
		m := mult / 10
		for k := 0; k < len(frac) && m > 0; k++ {
			total += uint64(frac[k]-'0') * m
			m /= 10
		}
		if total > maxUsec {
			return 0, valueErr(typ, s, "out of range")
		}
		something = true
	}
	if !something {
		return 0, valueErr(typ, s, "empty")
	}
	return time.Duration(total) * time.Microsecond, nil
}

// spanUnits are the units FormatTimespan writes, largest first.
var spanUnits = [...]struct {
	word string
	usec uint64
}{
	{"y", usecPerYear},
	{"month", usecPerMonth},
	{"w", usecPerWeek},
	{"d", usecPerDay},
	{"h", usecPerHour},
	{"min", usecPerMin},
	{"s", usecPerSec},
	{"ms", 1000},
	{"us", 1},
}

// FormatTimespan writes d as ParseTimespan reads it, largest units first
// ("1min 30s", "1s 500ms", "infinity", "0"). Parts below a microsecond are
// dropped; a negative d is written with a leading "-", which ParseTimespan
// rejects since no setting takes negative spans.
func FormatTimespan(d time.Duration) string {
	if d == Infinity {
		return "infinity"
	}
	var b []byte
	u := uint64(d / time.Microsecond)
	if d < 0 {
		b = append(b, '-')
		u = uint64(-(d / time.Microsecond))
	}
	if u == 0 {
		return string(append(b, '0'))
	}
	for _, su := range spanUnits {
		if u < su.usec {
			continue
		}
		if len(b) > 0 && b[len(b)-1] != '-' {
			b = append(b, ' ')
		}
		b = strconv.AppendUint(b, u/su.usec, 10)
		b = append(b, su.word...)
		u %= su.usec
	}
	return string(b)
}
