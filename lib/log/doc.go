// Package log sets up log/slog for stead daemons the way the service
// manager and journald expect.
//
// Records are written one line each, "msg key=value ...", to stderr. When
// stderr is a journald stream (per $JOURNAL_STREAM) every line starts with
// a syslog priority prefix such as "<4>", which journald turns into the
// entry's PRIORITY=, and no timestamp is written because the journal adds
// its own. The level is a shared slog.LevelVar: it starts from
// $SYSTEMD_LOG_LEVEL and can be changed while running, e.g. from
// io.systemd.service.SetLogLevel.
//
// The package is named log after its directory; import it under another
// name (steadlog) when the standard library's log is also needed.
package log
