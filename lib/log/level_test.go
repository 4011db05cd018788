package log_test

import (
	"log/slog"
	"testing"

	steadlog "github.com/stead-os/stead/lib/log"
)

func TestParseLevel(t *testing.T) {
	cases := map[string]slog.Level{
		"emerg": slog.LevelError, "alert": slog.LevelError, "crit": slog.LevelError, "err": slog.LevelError,
		"warning": slog.LevelWarn, "notice": slog.LevelInfo, "info": slog.LevelInfo, "debug": slog.LevelDebug,
		"0": slog.LevelError, "3": slog.LevelError, "4": slog.LevelWarn, "5": slog.LevelInfo,
		"6": slog.LevelInfo, "7": slog.LevelDebug,
		"error": slog.LevelError, "warn": slog.LevelWarn, "DEBUG": slog.LevelDebug, " info\n": slog.LevelInfo,
	}
	for in, want := range cases {
		got, err := steadlog.ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = (%v, %v), want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "8", "-1", "verbose", "info2", "0x3", "trace"} {
		if _, err := steadlog.ParseLevel(in); err == nil {
			t.Errorf("ParseLevel(%q) accepted", in)
		}
	}
}

func TestPriority(t *testing.T) {
	cases := map[slog.Level]int{
		slog.LevelError + 4: 3, slog.LevelError: 3, slog.LevelError - 1: 4,
		slog.LevelWarn: 4, slog.LevelWarn - 1: 6,
		slog.LevelInfo: 6, slog.LevelInfo - 1: 7,
		slog.LevelDebug: 7, slog.LevelDebug - 4: 7,
	}
	for l, want := range cases {
		if got := steadlog.Priority(l); got != want {
			t.Errorf("Priority(%v) = %d, want %d", l, got, want)
		}
	}
	// Every syslog level survives the round trip to the prefix it would
	// be logged under, except that the error family collapses to err and
	// notice to info.
	want := []int{3, 3, 3, 3, 4, 6, 6, 7}
	for pri := range 8 {
		l, err := steadlog.FromSyslog(pri)
		if err != nil || steadlog.Priority(l) != want[pri] {
			t.Errorf("FromSyslog(%d) = (%v, %v)", pri, l, err)
		}
	}
}

func TestSetLevel(t *testing.T) {
	lv := steadlog.LevelVar()
	t.Cleanup(func() { lv.Set(slog.LevelInfo) })

	if err := steadlog.SetLevel("debug"); err != nil || lv.Level() != slog.LevelDebug {
		t.Fatalf("SetLevel(debug): %v, level %v", err, lv.Level())
	}
	if err := steadlog.SetLevel("loud"); err == nil || lv.Level() != slog.LevelDebug {
		t.Errorf("SetLevel(loud): %v, level %v (must stay debug)", err, lv.Level())
	}
	if err := steadlog.SetSyslogLevel(4); err != nil || lv.Level() != slog.LevelWarn {
		t.Errorf("SetSyslogLevel(4): %v, level %v", err, lv.Level())
	}
	for _, pri := range []int{-1, 8, 100} {
		if err := steadlog.SetSyslogLevel(pri); err == nil || lv.Level() != slog.LevelWarn {
			t.Errorf("SetSyslogLevel(%d): %v, level %v", pri, err, lv.Level())
		}
	}
}
