package log

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Syslog priorities, as used in journald's "<N>" line prefix and by
// io.systemd.service.SetLogLevel.
const (
	PriEmerg   = 0
	PriAlert   = 1
	PriCrit    = 2
	PriErr     = 3
	PriWarning = 4
	PriNotice  = 5
	PriInfo    = 6
	PriDebug   = 7
)

// level is the live level of every logger built by New and Setup.
var level = new(slog.LevelVar) // zero value: slog.LevelInfo

// LevelVar returns the level shared by the loggers from New and Setup.
// Setting it takes effect immediately, for all of them.
func LevelVar() *slog.LevelVar { return level }

// syslogNames are systemd's level names, indexed by priority.
var syslogNames = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// ParseLevel parses a systemd log level: a syslog name (emerg, alert,
// crit, err, warning, notice, info, debug; "error" and "warn" are accepted
// as aliases, case does not matter) or a number 0-7. It maps the eight
// syslog levels onto slog's four: emerg..err → Error, warning → Warn,
// notice and info → Info, debug → Debug.
func ParseLevel(s string) (slog.Level, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	switch name {
	case "error":
		return slog.LevelError, nil
	case "warn":
		return slog.LevelWarn, nil
	}
	for pri, n := range syslogNames {
		if name == n {
			return FromSyslog(pri)
		}
	}
	if pri, err := strconv.Atoi(name); err == nil {
		return FromSyslog(pri)
	}
	return 0, fmt.Errorf("log: unknown log level %q", s)
}

// FromSyslog maps a syslog priority 0-7 to the slog level it is logged at.
func FromSyslog(pri int) (slog.Level, error) {
	switch {
	case pri < PriEmerg || pri > PriDebug:
		return 0, fmt.Errorf("log: syslog level %d out of range 0-7", pri)
	case pri <= PriErr:
		return slog.LevelError, nil
	case pri == PriWarning:
		return slog.LevelWarn, nil
	case pri <= PriInfo:
		return slog.LevelInfo, nil
	default:
		return slog.LevelDebug, nil
	}
}

// Priority maps a slog level to the syslog priority written in the
// journal prefix: Error and above → 3, Warn → 4, Info → 6, Debug and
// below → 7. Levels between slog's named ones round down to the nearer
// lower one (Info+2 is still info), matching how slog names them.
func Priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return PriErr
	case l >= slog.LevelWarn:
		return PriWarning
	case l >= slog.LevelInfo:
		return PriInfo
	default:
		return PriDebug
	}
}

// SetLevel sets the shared level from a systemd level name or number (see
// ParseLevel). On error the level is unchanged.
func SetLevel(name string) error {
	l, err := ParseLevel(name)
	if err != nil {
		return err
	}
	level.Set(l)
	return nil
}

// SetSyslogLevel sets the shared level from a syslog priority 0-7, the
// argument of io.systemd.service.SetLogLevel. On error the level is
// unchanged.
func SetSyslogLevel(pri int) error {
	l, err := FromSyslog(pri)
	if err != nil {
		return err
	}
	level.Set(l)
	return nil
}
