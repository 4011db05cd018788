package conf

import (
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

var parseSeeds = []string{
	"",
	"[A]\nK=V\n",
	"# c\n; c\n[Section]\nKey = Value \\\n  continued\\\n# comment\nmore\n",
	"K=before\n[A]\nK=\nK=1\n[A]\nK=2\n",
	"[A\n[]\n[a\"b]\n=x\nnoequals\n[B]\nK=a\\\\\n",
	"\xef\xbb\xbf[A]\r\nK=V\\\r\nW\r\n",
	"[A]\nK=a\x00b\n[\x01]\n",
	"[A]\nK=" + strings.Repeat("x", 100) + "\\\nmore\nL=1\n",
}

// FuzzParse checks that no input panics the parser and that what it
// returns is well formed: places within the input, keys and values
// trimmed, the same result however the input is cut into reads, and
// accessors that agree with each other.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Count(in, "\n") + 1
		file, err := Parse(strings.NewReader(in), "fuzz.conf", nil)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		check(t, file, in, lines, LongLineMax)

		// Buffering must not matter.
		again, err := Parse(iotest.OneByteReader(strings.NewReader(in)), "fuzz.conf", nil)
		if err != nil {
			t.Fatalf("Parse one byte at a time: %v", err)
		}
		if !reflect.DeepEqual(file, again) {
			t.Fatalf("one-byte reads differ:\n%+v\n%+v", flat(file), flat(again))
		}

		// A small limit exercises the oversized-line paths; for inputs
		// within it, the result must not change.
		const small = 24
		short := &File{}
		if err := short.parse(strings.NewReader(in), "fuzz.conf", nil, small); err != nil {
			t.Fatal(err)
		}
		check(t, short, in, lines, small)
		if len(in) <= small && !reflect.DeepEqual(file, short) {
			t.Fatalf("small limit changed a short input:\n%q\n%q", flat(file), flat(short))
		}
	})
}

func check(t *testing.T, f *File, in string, lines, limit int) {
	t.Helper()
	last := 0
	for _, s := range f.Sections() {
		if s.Line < 1 || s.Line > lines || s.Line < last {
			t.Fatalf("section %q at line %d of %d (previous %d)", s.Name, s.Line, lines, last)
		}
		last = s.Line
		if s.Name == "" || !safeName(s.Name) || s.File != "fuzz.conf" {
			t.Fatalf("bad section %+v", s)
		}
		for _, e := range s.Entries {
			if e.Line < last || e.Line > lines {
				t.Fatalf("entry %q at line %d, section at %d, %d lines", e.Key, e.Line, s.Line, lines)
			}
			last = e.Line
			if e.Key == "" || strings.Contains(e.Key, "=") || strings.Trim(e.Key, whitespace) != e.Key ||
				strings.Trim(e.Value, whitespace) != e.Value || e.File != "fuzz.conf" {
				t.Fatalf("bad entry %+v", e)
			}
			if strings.IndexByte(e.Key+e.Value, 0) >= 0 || !utf8.ValidString(e.Key+e.Value) {
				t.Fatalf("NUL kept in %+v", e)
			}
			if len(e.Key)+1+len(e.Value) > limit || len(e.Key)+len(e.Value) > len(in) {
				t.Fatalf("entry longer than possible: %d+%d bytes", len(e.Key), len(e.Value))
			}
			// Accessors agree: the last value of the list is Get's,
			// unless the last assignment was a reset.
			v, ok := f.Get(s.Name, e.Key)
			vals := f.Values(s.Name, e.Key)
			if !ok || (v == "") != (len(vals) == 0) || (v != "" && vals[len(vals)-1] != v) {
				t.Fatalf("Get %q %v disagrees with Values %q", v, ok, vals)
			}
		}
	}
	for _, w := range f.Warnings {
		e, ok := w.(*Error)
		if !ok || e.Line < 1 || e.Line > lines || e.File != "fuzz.conf" {
			t.Fatalf("bad warning %#v", w)
		}
	}
}

// FuzzParseTimespan checks that no input panics ParseTimespan and that
// every accepted span survives FormatTimespan and back.
func FuzzParseTimespan(f *testing.F) {
	for _, s := range []string{"0", "1min 30s", "1.5s", ".5", "infinity", "2h", "1y 2M 3w 4d 5h 6m 7s 8ms 9us",
		"292y", "1.999999999us", "5 6", "12.34.56", "-1s", "1µs", "1μs", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseTimespan(s)
		if err != nil {
			if _, ok := err.(*ValueError); !ok {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if d == Infinity {
			return
		}
		if d < 0 || d%time.Microsecond != 0 {
			t.Fatalf("%q → %d", s, d)
		}
		back, err := ParseTimespan(FormatTimespan(d))
		if err != nil || back != d {
			t.Fatalf("%q → %v → %q → %v, %v", s, d, FormatTimespan(d), back, err)
		}
		// A bare number in other units agrees with the explicit unit.
		if ms, err := ParseTimespanUnit(s, time.Millisecond); err != nil || ms > d {
			t.Fatalf("%q in ms: %v %v (s: %v)", s, ms, err, d)
		}
	})
}

// FuzzParseBytes checks ParseBytes for panics and round trips, and the
// proportion parsers for their ranges and for agreeing with each other.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"0", "1K", "1.5G", "1G 512M", "10.M", "18446744073709551615", "16E", "1 2",
		"50%", "12.5%", "12.34%", "500‰", "5000‱", "1.00000000000000000000001E"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseBytes(s); err == nil {
			back, err := ParseBytes(FormatBytes(v))
			if err != nil || back != v {
				t.Fatalf("%q → %d → %q → %d, %v", s, v, FormatBytes(v), back, err)
			}
		}
		pct, errPct := ParsePercent(s)
		pm, errPm := ParsePermille(s)
		pmy, errPmy := ParsePermyriad(s)
		if errPct == nil && (pct < 0 || pct > 100 || errPm != nil || pm != 10*pct) {
			t.Fatalf("%q: percent %d, permille %d %v", s, pct, pm, errPm)
		}
		if errPm == nil && (pm < 0 || pm > 1000 || errPmy != nil || pmy != 10*pm) {
			t.Fatalf("%q: permille %d, permyriad %d %v", s, pm, pmy, errPmy)
		}
		if errPmy == nil && (pmy < 0 || pmy > 10000) {
			t.Fatalf("%q: permyriad %d", s, pmy)
		}
		_, _ = ParseBool(s)
	})
}
