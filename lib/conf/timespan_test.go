package conf

import (
	"errors"
	"testing"
	"time"
)

func TestParseTimespan(t *testing.T) {
	const (
		day   = 24 * time.Hour
		week  = 7 * day
		month = 2629800 * time.Second
		year  = 31557600 * time.Second
	)
	good := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"5", 5 * time.Second},
		{"1.5", 1500 * time.Millisecond},
		{"1.5s", 1500 * time.Millisecond},
		{".5s", 500 * time.Millisecond},
		{"5.", 5 * time.Second},
		{"500ms", 500 * time.Millisecond},
		{"500msec", 500 * time.Millisecond},
		{"20us", 20 * time.Microsecond},
		{"20usec", 20 * time.Microsecond},
		{"20µs", 20 * time.Microsecond},
		{"20μs", 20 * time.Microsecond},
		{"1s", time.Second},
		{"1sec", time.Second},
		{"1second", time.Second},
		{"2seconds", 2 * time.Second},
		{"1m", time.Minute},
		{"1min", time.Minute},
		{"1minute", time.Minute},
		{"2minutes", 2 * time.Minute},
		{"1h", time.Hour},
		{"1hr", time.Hour},
		{"1hour", time.Hour},
		{"2hours", 2 * time.Hour},
		{"1d", day},
		{"1day", day},
		{"2days", 2 * day},
		{"1w", week},
		{"1week", week},
		{"2weeks", 2 * week},
		{"1M", month},
		{"1month", month},
		{"2months", 2 * month},
		{"1y", year},
		{"1year", year},
		{"2years", 2 * year},
		{"1min 30s", 90 * time.Second},
		{"1min30s", 90 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"2h 5min 3s 20ms", 2*time.Hour + 5*time.Minute + 3*time.Second + 20*time.Millisecond},
		{"1 min", time.Minute},
		{"  1s  ", time.Second},
		{"5 6", 11 * time.Second},
		{"1.5min", 90 * time.Second},
		{"0.000001s", time.Microsecond},
		{"0.0000019s", time.Microsecond}, // below a microsecond: dropped
		{"1.5us", time.Microsecond},
		{"1s 1s", 2 * time.Second},
		{"1y 1M", year + month},
		{"infinity", Infinity},
		{"  infinity  ", Infinity},
		{"292y", 292 * year},
	}
	for _, tt := range good {
		d, err := ParseTimespan(tt.in)
		if err != nil || d != tt.want {
			t.Errorf("ParseTimespan(%q) = %v, %v; want %v", tt.in, d, err, tt.want)
		}
	}
	bad := []string{
		"", "   ", "s", "-1s", "- 1s", "+1s", "1x", "1 x", "1.2.3", "12.34.56", "1secs", "1S", "1H", "1mo", "1sx",
		"infinity1", "infinity s", "inf", "Infinity", "1s -1s", "1ns", "293y", "99999999999999999999s", "1,5s",
		"1 infinity", ".", "1s.",
	}
	for _, s := range bad {
		_, err := ParseTimespan(s)
		var ve *ValueError
		if !errors.As(err, &ve) || ve.Type != "time span" || ve.Value != s {
			t.Errorf("ParseTimespan(%q) error = %v", s, err)
		}
	}
	if _, err := ParseTimespan("5x"); err == nil || err.Error() != `invalid time span "5x": unknown unit "x"` {
		t.Errorf("message: %v", err)
	}
}

func TestParseTimespanUnit(t *testing.T) {
	for _, tt := range []struct {
		in   string
		unit time.Duration
		want time.Duration
	}{
		{"5", time.Millisecond, 5 * time.Millisecond},
		{"5s", time.Millisecond, 5 * time.Second},
		{"1.5", time.Millisecond, 1500 * time.Microsecond},
		{"5", time.Microsecond, 5 * time.Microsecond},
		{"5", time.Nanosecond, 5 * time.Microsecond}, // rounded up to the resolution
		{"5", time.Minute, 5 * time.Minute},
	} {
		if d, err := ParseTimespanUnit(tt.in, tt.unit); err != nil || d != tt.want {
			t.Errorf("ParseTimespanUnit(%q, %v) = %v, %v; want %v", tt.in, tt.unit, d, err, tt.want)
		}
	}
}

func TestFormatTimespan(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{time.Nanosecond, "0"},
		{time.Microsecond, "1us"},
		{1500 * time.Millisecond, "1s 500ms"},
		{90 * time.Second, "1min 30s"},
		{26 * time.Hour, "1d 2h"},
		{8 * 24 * time.Hour, "1w 1d"},
		{31557600 * time.Second, "1y"},
		{2629800 * time.Second, "1month"},
		{Infinity, "infinity"},
		{-90 * time.Second, "-1min 30s"},
	} {
		if got := FormatTimespan(tt.d); got != tt.want {
			t.Errorf("FormatTimespan(%v) = %q, want %q", tt.d, got, tt.want)
		}
		if tt.d >= 0 {
			back, err := ParseTimespan(FormatTimespan(tt.d))
			want := tt.d.Truncate(time.Microsecond)
			if tt.d == Infinity {
				want = Infinity
			}
			if err != nil || back != want {
				t.Errorf("round trip %v: %v %v", tt.d, back, err)
			}
		}
	}
}
