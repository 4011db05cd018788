package calendar

import (
	"errors"
	"testing"
	"time"
)

// The normalized forms and elapses below were taken from upstream 262's
// `systemd-analyze calendar` (TZ=UTC, --base-time=@1767225600); the
// integration test TestInitUnitsCalendarUpstream compares a larger table
// against the live binary.
var base = time.Unix(1767225600, 0) // 2026-01-01 00:00:00 UTC

func TestParseNormalized(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Mon..Fri *-*-* 10:00", "Mon..Fri *-*-* 10:00:00"},
		{"daily", "*-*-* 00:00:00"},
		{"weekly", "Mon *-*-* 00:00:00"},
		{"quarterly", "*-01,04,07,10-01 00:00:00"},
		{"semiannually", "*-01,07-01 00:00:00"},
		{"hourly UTC", "*-*-* *:00:00 UTC"},
		{"*:0/15 Europe/Berlin", "*-*-* *:00/15:00 Europe/Berlin"},
		{"Sat,Sun *-*-1..7 04:00", "Sat,Sun *-*-01..07 04:00:00"},
		{"*-*-* *:*:1.5/2.25", "*-*-* *:*:01.500000/2.250000"},
		{"*:00:01.1234567", "*-*-* *:00:01.123457"},
		{"*:*:00..59", "*-*-* *:*:00..59"},
		{"*~7/2", "*-*~07/2 00:00:00"},
		{"@1767225600", "2026-01-01 00:00:00 UTC"},
		{"mon..fri", "Mon..Fri *-*-* 00:00:00"},
		{"Mon,Tue,Wed,Thu,Fri,Sat,Sun", "*-*-* 00:00:00"},
		{"12,14,13,12:20,10,30", "*-*-* 12,13,14:10,20,30:00"},
		{"8..18/2:00", "*-*-* 08..18/2:00:00"},
		{"26-01-01", "2026-01-01 00:00:00"},
		{"10:00 Etc/UTC", "*-*-* 10:00:00 Etc/UTC"},
	} {
		s, err := ParseInLocation(tc.in, time.UTC)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := s.String(); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	for _, in := range []string{"", "today", "tomorrow", "now", "10", "1.5", "*:*/5", "*/2:00", "*:*:1.",
		"Mon..", "mon..tue..wed", "Monx", "*-13-01", "*-*-32", "24:00", "*:50/20", "2200-01-01",
		"1969-12-31", "*:0/0", "10:00 Nowhere/Zone", "10:00 /etc/passwd", "*-*~0", "@", "@12 10:00"} {
		if s, err := ParseInLocation(in, time.UTC); err == nil {
			t.Errorf("%q: accepted as %q", in, s)
		}
	}
}

func TestNext(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // RFC 3339 in UTC
	}{
		{"Mon..Fri *-*-* 10:00", []string{"2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", "2026-01-05T10:00:00Z"}},
		{"*-*~01", []string{"2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"}},
		{"*-02-29", []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{"*-*-* *:*:1.5/2.25", []string{"2026-01-01T00:00:01.5Z", "2026-01-01T00:00:03.75Z", "2026-01-01T00:00:06Z"}},
		{"*:0/15 Europe/Berlin", []string{"2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z"}},
		{"*-*-1/7", []string{"2026-01-08T00:00:00Z", "2026-01-15T00:00:00Z", "2026-01-22T00:00:00Z", "2026-01-29T00:00:00Z", "2026-02-01T00:00:00Z"}},
	} {
		s, err := ParseInLocation(tc.in, time.UTC)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		at := base
		for i, w := range tc.want {
			n, err := s.Next(at)
			if err != nil {
				t.Fatalf("%q #%d: %v", tc.in, i, err)
			}
			if got := n.UTC().Format(time.RFC3339Nano); got != w {
				t.Errorf("%q #%d: got %s, want %s", tc.in, i, got, w)
			}
			at = n
		}
	}
}

func TestNextNever(t *testing.T) {
	for _, in := range []string{"2026-02-29", "*-02-30", "@1767225600", "2025-*-*"} {
		s, err := ParseInLocation(in, time.UTC)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if n, err := s.Next(base); !errors.Is(err, ErrNoElapse) {
			t.Errorf("%q: got %v, %v; want ErrNoElapse", in, n, err)
		}
	}
}

// TestNextDST checks mktime()'s reading of wall-clock times around the
// changes, the values upstream computes: a gap is skipped forward, a
// repeated hour fires at its first occurrence only.
func TestNextDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	s, err := ParseInLocation("*:05,35", ny)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC) // 01:30 EST, clocks jump at 02:00
	var got []string
	for range 3 {
		n, err := s.Next(at)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n.Format("15:04 MST"))
		at = n
	}
	if want := "01:35 EST 03:05 EDT 03:35 EDT"; fmt1(got) != want {
		t.Errorf("spring forward: got %s, want %s", fmt1(got), want)
	}
	s, _ = ParseInLocation("*-*-* 02:30 Europe/Berlin", time.UTC)
	n, err := s.Next(time.Date(2026, 10, 24, 23, 50, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Format("2006-01-02 15:04 MST"); got != "2026-10-25 02:30 CEST" {
		t.Errorf("fall back: got %s", got)
	}
}

func fmt1(l []string) string {
	s := ""
	for i, x := range l {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s
}

func BenchmarkNext(b *testing.B) {
	for _, in := range []string{"daily", "Mon..Fri *-*-* 10:00", "*-*~01 04:00", "*:0/15 Europe/Berlin", "*-02-29 12:00"} {
		s, err := Parse(in)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(in, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := s.Next(base); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := ParseInLocation("Mon..Fri *-*-1..7,15 08..18/2:00,30:00", time.UTC); err != nil {
			b.Fatal(err)
		}
	}
}
