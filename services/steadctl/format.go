package steadctl

import (
	"fmt"
	"strings"
	"time"
)

// timeLayout is how systemctl prints timestamps: weekday, date, time, zone.
const timeLayout = "Mon 2006-01-02 15:04:05 MST"

// formatTime prints t in timeLayout and local time; "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(timeLayout)
}

// formatAgo says how long before now t was, in at most two units
// ("5s ago", "3min 12s ago", "2h 5min ago", "4 days ago").
func formatAgo(t, now time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		return "in the future"
	}
	return formatSpan(d) + " ago"
}

// formatSpan renders d with its two largest units, as systemd's timespans.
func formatSpan(d time.Duration) string {
	type unit struct {
		name string
		size time.Duration
	}
	units := []unit{
		{" years", 365 * 24 * time.Hour},
		{" months", 30 * 24 * time.Hour},
		{" weeks", 7 * 24 * time.Hour},
		{" days", 24 * time.Hour},
		{"h", time.Hour},
		{"min", time.Minute},
		{"s", time.Second},
		{"ms", time.Millisecond},
	}
	var parts []string
	for _, u := range units {
		if u.size == time.Millisecond && len(parts) > 0 {
			break // milliseconds only for spans under a second
		}
		if d < u.size {
			if len(parts) > 0 {
				break // units must be adjacent: "1h 5s" says less than "1h"
			}
			continue
		}
		n := d / u.size
		d -= n * u.size
		name := u.name
		if n == 1 && strings.HasPrefix(name, " ") {
			name = strings.TrimSuffix(name, "s")
		}
		parts = append(parts, fmt.Sprintf("%d%s", n, name))
		if len(parts) == 2 || u.size >= 24*time.Hour {
			break // days and longer: one unit is enough
		}
	}
	if len(parts) == 0 {
		return "0s"
	}
	return strings.Join(parts, " ")
}

// yesNo is how systemctl show prints booleans.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
