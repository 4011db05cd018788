// Package calendar reads systemd's calendar event expressions
// (systemd.time(7), "Calendar Events"): "Mon..Fri *-*-* 10:00",
// "*-*~01", "*:0/15 Europe/Berlin", "daily", … It prints them in the
// normalized form `systemd-analyze calendar` shows and computes when one
// elapses next, the way systemd 262 does (the same odometer walk over
// year, month, day, weekday, hour, minute and second, with the same
// normalization through the time zone's wall clock), so that a timer fires
// at the same instants under stead as under upstream.
//
// Time zones are the local one (time.Local or what ParseInLocation is
// given), UTC, or an IANA name read from the system's tzdata through Go's
// time package. The local zone's abbreviations ("CET", "CEST") select
// standard or daylight time as upstream's tzname[] does.
package calendar

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bounds upstream enforces: years 1970..2199 (so that impossible dates such
// as "*-02-30" end the search), at most 240 list elements in one field.
const (
	minYear      = 1970
	maxYear      = 2199
	maxChain     = 240
	usecPerSec   = 1000000
	allWeekdays  = 127
	maxIteration = 1000 // upstream's safety valve against a search that does not converge
	// maxUsec is upstream's USEC_TIMESTAMP_FORMATTABLE_MAX: 9999-12-30 23:59:59.999999 UTC.
	maxUsec = 253402214399999999
)

// ErrNoElapse is returned by Next when the expression never elapses again
// (a date in the past, "*-02-30").
var ErrNoElapse = errors.New("calendar: no next elapse")

// component is one element of a field's list: a value, a range start..stop
// or a repetition start/repeat (with an optional stop). stop is -1 when
// there is none; repeat 0 when there is none. The seconds field counts
// microseconds.
type component struct {
	start, stop, repeat int
}

// Spec is a parsed calendar event expression. The zero value is not
// useful; Parse makes one.
type Spec struct {
	weekdays   int // bit 0 Monday … bit 6 Sunday; -1: every day
	year       []component
	month      []component
	day        []component
	hour       []component
	minute     []component
	usec       []component // seconds in µs; "*" is 0/1s
	endOfMonth bool        // "~": days count back from the month's last one
	utc        bool
	tz         string // an IANA zone name, "" for the local zone or UTC
	dst        int    // -1; 0 or 1 when the local zone's standard or daylight abbreviation was given

	loc    *time.Location // the zone the fields are read in
	tzname [2]string      // the local zone's standard and daylight abbreviations
}

// Parse reads a calendar event expression, in the local time zone
// (time.Local) unless it names one.
func Parse(s string) (*Spec, error) { return ParseInLocation(s, time.Local) }

// ParseInLocation is Parse with local as the local time zone.
func ParseInLocation(s string, local *time.Location) (*Spec, error) {
	sp, err := parse(s, local)
	if err != nil {
		return nil, fmt.Errorf("invalid calendar specification %q: %w", s, err)
	}
	return sp, nil
}

var (
	errSyntax = errors.New("syntax error")
	errRange  = errors.New("value out of range")
)

// shorthands are the named expressions, as fields: month days, or nil
// for "*" where the field is not given. Only the fields a shorthand fixes
// are listed; hours, minutes and seconds are 0 down from the first one
// fixed.
var shorthands = map[string]struct {
	months   []int
	day      int // 0: any
	weekly   bool
	fromHour bool // hours fixed (0) — else only minutes or seconds
	fromMin  bool
}{
	"minutely":      {},
	"hourly":        {fromMin: true},
	"daily":         {fromHour: true, fromMin: true},
	"monthly":       {day: 1, fromHour: true, fromMin: true},
	"weekly":        {weekly: true, fromHour: true, fromMin: true},
	"yearly":        {months: []int{1}, day: 1, fromHour: true, fromMin: true},
	"annually":      {months: []int{1}, day: 1, fromHour: true, fromMin: true},
	"anually":       {months: []int{1}, day: 1, fromHour: true, fromMin: true}, // upstream keeps the misspelling
	"quarterly":     {months: []int{1, 4, 7, 10}, day: 1, fromHour: true, fromMin: true},
	"semiannually":  {months: []int{1, 7}, day: 1, fromHour: true, fromMin: true},
	"semi-annually": {months: []int{1, 7}, day: 1, fromHour: true, fromMin: true},
	"biannually":    {months: []int{1, 7}, day: 1, fromHour: true, fromMin: true},
	"bi-annually":   {months: []int{1, 7}, day: 1, fromHour: true, fromMin: true},
}

func constant(v int) []component { return []component{{start: v, stop: -1}} }

func parse(s string, local *time.Location) (*Spec, error) {
	if local == nil {
		local = time.Local
	}
	c := &Spec{dst: -1, loc: local}
	c.tzname = zoneNames(local)
	p := s
	if len(p) >= 4 && strings.EqualFold(p[len(p)-4:], " UTC") {
		c.utc = true
		p = p[:len(p)-4]
	} else {
		found := false
		for j, name := range c.tzname {
			if name == "" || len(p) <= len(name) || !strings.EqualFold(p[len(p)-len(name):], name) {
				continue
			}
			if p[len(p)-len(name)-1] != ' ' {
				continue
			}
			p = p[:len(p)-len(name)-1]
			c.dst = j
			found = true
			break
		}
		if !found {
			if i := strings.LastIndexByte(p, ' '); i >= 0 {
				if loc, ok := loadZone(p[i+1:]); ok {
					c.tz, c.loc = p[i+1:], loc
					p = p[:i]
				}
			}
		}
	}
	if p == "" {
		return nil, errSyntax
	}
	if sh, ok := shorthands[strings.ToLower(p)]; ok {
		c.usec = constant(0)
		if sh.fromMin {
			c.minute = constant(0)
		}
		if sh.fromHour {
			c.hour = constant(0)
		}
		if sh.day > 0 {
			c.day = constant(sh.day)
		}
		for _, m := range sh.months {
			c.month = append(c.month, component{start: m, stop: -1})
		}
		if sh.weekly {
			c.weekdays = 1
		}
	} else {
		rest, err := c.parseWeekdays(p)
		if err != nil {
			return nil, err
		}
		rest, done, err := c.parseDate(rest)
		if err != nil {
			return nil, err
		}
		if !done {
			if rest, err = c.parseTime(rest); err != nil {
				return nil, err
			}
		}
		if rest != "" {
			return nil, errSyntax
		}
	}
	c.normalize()
	if !c.valid() {
		return nil, errRange
	}
	if c.utc {
		c.loc = time.UTC
	}
	return c, nil
}

// zoneNames returns loc's standard and daylight-saving abbreviations, as
// tzset() leaves them in tzname[]: taken from this year's January and July.
func zoneNames(loc *time.Location) [2]string {
	var n [2]string
	y := time.Now().Year()
	for _, m := range []time.Month{time.January, time.July} {
		t := time.Date(y, m, 1, 12, 0, 0, 0, loc)
		name, _ := t.Zone()
		if t.IsDST() {
			n[1] = name
		} else if n[0] == "" {
			n[0] = name
		}
	}
	if n[1] == "" {
		n[1] = n[0]
	}
	return n
}

// loadZone accepts the time zone names upstream does: "UTC", or a name of
// letters, digits, "-", "_", "+" and single inner "/" that the system's
// tzdata has.
func loadZone(name string) (*time.Location, bool) {
	if name == "UTC" {
		return time.UTC, true
	}
	if name == "" || name[0] == '/' || name[len(name)-1] == '/' || strings.Contains(name, "//") || name == "Local" {
		return nil, false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_+/", r)) {
			return nil, false
		}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	return loc, true
}

var dayNames = []struct {
	name string
	nr   int
}{
	{"monday", 0}, {"mon", 0}, {"tuesday", 1}, {"tue", 1}, {"wednesday", 2}, {"wed", 2},
	{"thursday", 3}, {"thu", 3}, {"friday", 4}, {"fri", 4}, {"saturday", 5}, {"sat", 5},
	{"sunday", 6}, {"sun", 6},
}

// parseWeekdays reads an optional leading weekday list ("Mon..Fri",
// "Sat,Sun", the old "Mon-Fri") and returns what follows it.
func (c *Spec) parseWeekdays(p string) (string, error) {
	l := -1
	first := true
	for {
		nr, skip := -1, 0
		for _, d := range dayNames {
			if len(p) >= len(d.name) && strings.EqualFold(p[:len(d.name)], d.name) {
				nr, skip = d.nr, len(d.name)
				break
			}
		}
		if nr < 0 {
			if first {
				return p, nil
			}
			return "", errSyntax
		}
		if skip < len(p) && !strings.ContainsRune("-.,  ", rune(p[skip])) {
			return "", errSyntax
		}
		c.weekdays |= 1 << nr
		if l >= 0 {
			if l > nr {
				return "", errSyntax
			}
			for j := l + 1; j < nr; j++ {
				c.weekdays |= 1 << j
			}
		}
		p = p[skip:]
		if p == "" {
			return p, nil
		}
		if p[0] == ' ' {
			return strings.TrimLeft(p, " "), nil
		}
		switch p[0] {
		case '.':
			if l >= 0 || len(p) < 2 || p[1] != '.' {
				return "", errSyntax
			}
			l = nr
			p = p[2:]
		case '-': // a range, the old way
			if l >= 0 {
				return "", errSyntax
			}
			l = nr
			p = p[1:]
		case ',':
			l = -1
			p = p[1:]
		}
		if p == "" || p[0] == ' ' { // a trailing comma is fine, an open range is not
			if l >= 0 {
				return "", errSyntax
			}
			return strings.TrimLeft(p, " "), nil
		}
		first = false
	}
}

// number reads a decimal number at the start of p (at least one digit),
// as strtoul does; with usec, in µs with an optional fraction of up to six
// digits (a seventh rounds).
func number(p string, usec bool) (int, string, error) {
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, p, errSyntax
	}
	v, err := strconv.ParseUint(p[:i], 10, 64)
	if err != nil {
		return 0, p, errRange
	}
	p = p[i:]
	if usec {
		if v > (1<<64-1)/usecPerSec {
			return 0, p, errRange
		}
		v *= usecPerSec
		if len(p) > 0 && p[0] == '.' && (len(p) < 2 || p[1] != '.') {
			p = p[1:]
			var add uint64
			k := 0
			for ; k < 6; k++ {
				if k >= len(p) || p[k] < '0' || p[k] > '9' {
					if k == 0 {
						return 0, p, errSyntax
					}
					break
				}
				add = add*10 + uint64(p[k]-'0')
			}
			for j := k; j < 6; j++ {
				add *= 10
			}
			if k == 6 && k < len(p) && p[k] >= '5' && p[k] <= '9' {
				add++
			}
			for k < len(p) && p[k] >= '0' && p[k] <= '9' {
				k++
			}
			p = p[k:]
			v += add
		}
	}
	if v > 1<<31-1 {
		return 0, p, errRange
	}
	return int(v), p, nil
}

// parseChain reads one field: "*" or a comma-separated list of values,
// ranges and repetitions. A nil list is "*".
func parseChain(p string, usec bool) ([]component, string, error) {
	if strings.HasPrefix(p, "*") {
		if usec {
			return []component{{start: 0, stop: -1, repeat: usecPerSec}}, p[1:], nil
		}
		return nil, p[1:], nil
	}
	var out []component
	for n := 0; ; n++ {
		if n > maxChain {
			return nil, p, errRange
		}
		start, rest, err := number(p, usec)
		if err != nil {
			return nil, p, err
		}
		stop, repeat := -1, 0
		if strings.HasPrefix(rest, "..") {
			if stop, rest, err = number(rest[2:], usec); err != nil {
				return nil, p, err
			}
			repeat = 1
			if usec {
				repeat = usecPerSec
			}
		}
		if strings.HasPrefix(rest, "/") {
			if repeat, rest, err = number(rest[1:], usec); err != nil {
				return nil, p, err
			}
			if repeat == 0 {
				return nil, p, errRange
			}
		} else {
			if start > 1<<31-1-repeat {
				return nil, p, errRange
			}
			// Without a repetition a seconds range steps by 1s: it must
			// span at least that.
			if usec && stop >= 0 && start+repeat > stop {
				return nil, p, errSyntax
			}
		}
		if rest != "" && !strings.ContainsRune(" ,-~:", rune(rest[0])) {
			return nil, p, errSyntax
		}
		out = append(out, component{start: start, stop: stop, repeat: repeat})
		p = rest
		if !strings.HasPrefix(p, ",") {
			return out, p, nil
		}
		p = p[1:]
	}
}

// parseDate reads the date part: "@SECONDS", "YEAR-MONTH-DAY" or
// "MONTH-DAY" (either with "~" for days from the month's end). done is
// set for "@SECONDS", which has no time part. Without a date, p is
// returned unchanged.
func (c *Spec) parseDate(p string) (rest string, done bool, err error) {
	if p == "" {
		return p, false, nil
	}
	if p[0] == '@' {
		i := 1
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
		}
		if i == 1 {
			return "", false, errSyntax
		}
		secs, err := strconv.ParseUint(p[1:i], 10, 63)
		if err != nil {
			return "", false, errRange
		}
		if secs > maxUsec/usecPerSec {
			return "", false, errRange
		}
		t := time.Unix(int64(secs), 0).UTC()
		c.utc = true
		c.year, c.month, c.day = constant(t.Year()), constant(int(t.Month())), constant(t.Day())
		c.hour, c.minute, c.usec = constant(t.Hour()), constant(t.Minute()), constant(t.Second()*usecPerSec)
		return p[i:], true, nil
	}
	first, t, err := parseChain(p, false)
	if err != nil {
		return "", false, err
	}
	if t == "" || t[0] == ':' { // a time, not a date
		return p, false, nil
	}
	if t[0] == '~' {
		c.endOfMonth = true
	} else if t[0] != '-' {
		return "", false, errSyntax
	}
	second, t, err := parseChain(t[1:], false)
	if err != nil {
		return "", false, err
	}
	if t == "" || t[0] == ' ' {
		c.month, c.day = first, second
		return strings.TrimLeft(t, " "), false, nil
	}
	if c.endOfMonth {
		return "", false, errSyntax
	}
	if t[0] == '~' {
		c.endOfMonth = true
	} else if t[0] != '-' {
		return "", false, errSyntax
	}
	third, t, err := parseChain(t[1:], false)
	if err != nil {
		return "", false, err
	}
	if t != "" && t[0] != ' ' {
		return "", false, errSyntax
	}
	c.year, c.month, c.day = first, second, third
	return strings.TrimLeft(t, " "), false, nil
}

// parseTime reads "HOUR:MINUTE[:SECOND]"; nothing at all is midnight.
func (c *Spec) parseTime(p string) (string, error) {
	if p == "" {
		c.hour, c.minute, c.usec = constant(0), constant(0), constant(0)
		return p, nil
	}
	h, t, err := parseChain(p, false)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(t, ":") {
		return "", errSyntax
	}
	m, t, err := parseChain(t[1:], false)
	if err != nil {
		return "", err
	}
	if t == "" {
		c.hour, c.minute, c.usec = h, m, constant(0)
		return t, nil
	}
	if t[0] != ':' {
		return "", errSyntax
	}
	s, t, err := parseChain(t[1:], true)
	if err != nil {
		return "", err
	}
	if t != "" {
		return "", errSyntax
	}
	c.hour, c.minute, c.usec = h, m, s
	return t, nil
}
