package log

import (
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

// Environment variables consulted by New and Setup.
const (
	// EnvJournalStream is set by the service manager to the DEVICE:INODE
	// of the journald stream it connected to stdout/stderr.
	EnvJournalStream = "JOURNAL_STREAM"
	// EnvLogLevel is systemd's variable for the initial log level.
	EnvLogLevel = "SYSTEMD_LOG_LEVEL"
	// EnvInvocationID is set by the service manager for every unit run.
	EnvInvocationID = "INVOCATION_ID"
)

// journalStream parses $JOURNAL_STREAM.
func journalStream() (dev, ino uint64, ok bool) {
	d, i, found := strings.Cut(os.Getenv(EnvJournalStream), ":")
	if !found {
		return 0, 0, false
	}
	dev, err1 := strconv.ParseUint(d, 10, 64)
	ino, err2 := strconv.ParseUint(i, 10, 64)
	return dev, ino, err1 == nil && err2 == nil
}

// New returns a logger writing to w at the shared level (LevelVar), shaped
// by the environment:
//   - when w is the journald stream (IsJournalStream for an *os.File; for
//     any other writer, $JOURNAL_STREAM merely being well-formed), lines
//     carry the "<N>" priority prefix, no time and no name;
//   - otherwise lines carry the level name and "name: ", plus the time
//     unless $INVOCATION_ID shows a service manager started us (its
//     output goes to the journal or the console, which stamp it).
func New(w io.Writer, name string) *slog.Logger {
	var journal bool
	if f, ok := w.(*os.File); ok {
		journal = IsJournalStream(f)
	} else {
		_, _, journal = journalStream()
	}
	opts := &Options{Level: level, Priority: journal}
	if !journal {
		opts.Name = name
		opts.Time = os.Getenv(EnvInvocationID) == ""
	}
	return slog.New(NewHandler(w, opts))
}

// NewTool is New for a tool (not a daemon): its level also comes from $SYSTEMD_LOG_LEVEL (an
// invalid value is ignored), but it becomes no default logger, so that tests can run the tool
// in-process.
func NewTool(w io.Writer, name string) *slog.Logger {
	if s := os.Getenv(EnvLogLevel); s != "" {
		_ = SetLevel(s)
	}
	return New(w, name)
}

// Setup prepares logging for the daemon called name: it sets the shared
// level from $SYSTEMD_LOG_LEVEL (an invalid value is reported and
// ignored), builds New(os.Stderr, name), installs it as slog's default
// (which also routes the standard library's log package through it) and
// returns it.
func Setup(name string) *slog.Logger {
	var levelErr error
	if s := os.Getenv(EnvLogLevel); s != "" {
		levelErr = SetLevel(s)
	}
	l := New(os.Stderr, name)
	slog.SetDefault(l)
	if levelErr != nil {
		l.Warn("ignoring "+EnvLogLevel, "err", levelErr)
	}
	return l
}
