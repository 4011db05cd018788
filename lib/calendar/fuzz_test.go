package calendar

import (
	"testing"
	"time"
)

// FuzzParse: the parser never panics; what it accepts prints a normalized
// form that parses again to the same form, and Next ends (an elapse after
// the base, or an error) on it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"daily", "Mon..Fri *-*-* 10:00", "*-*~01", "*:0/15 Europe/Berlin",
		"*-*-* *:*:1.5/2.25", "@1767225600", "Sat,Sun *-*-1..7 04:00 UTC", "*-02-29", "2003-02..04-05",
		"*~7/2", "12,14,13,12:20,10,30", "1,2,3,4,5,6,7,8,9,10,11,12,13:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseInLocation(in, time.UTC)
		if err != nil {
			return
		}
		norm := s.String()
		s2, err := ParseInLocation(norm, time.UTC)
		if err != nil {
			t.Fatalf("%q: normalized form %q does not parse: %v", in, norm, err)
		}
		if s2.String() != norm {
			t.Fatalf("%q: normalized form %q reads back as %q", in, norm, s2.String())
		}
		if n, err := s.Next(base); err == nil && !n.After(base) {
			t.Fatalf("%q: next elapse %v is not after %v", in, n, base)
		}
	})
}
