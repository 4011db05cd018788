// Package conf reads systemd-style INI configuration files: "[Name]"
// section headers, "Key=Value" assignments, "#" and ";" comments,
// backslash continuation lines, and the /etc, /run, /usr/local/lib, /usr/lib search
// path with NAME.d/*.conf drop-ins and /dev/null masking.
//
// Parsing is lenient the way systemd's is: a bad line is reported as an
// *Error carrying file and line, collected in File.Warnings (and passed to
// Options.Warn when set), and skipped, so one typo never discards a whole
// configuration. Only I/O failures make a load fail.
//
// The package keeps values as text. Callers convert them with the typed
// parsers (ParseBool, ParseBytes, ParsePercent, ParsePermille,
// ParsePermyriad, ParseTimespan) and report failures through Entry.Wrap,
// which adds the file and line the value came from; or with the readers of
// a whole Entry (Bool, Timespan, Int, Word, BoolOrWord, Located), whose
// errors are located already, usually through Set, which leaves a default
// in place when the setting is unset, empty or bad. Specifiers (%n, %i, …)
// are left to lib/unit.
//
// Paths: the search functions take a root directory ("" or "/" for the
// real root) and return paths as seen inside that root ("/etc/…"). Files
// are opened under the root, with symlinks resolved inside it, and
// messages name the file as opened on the host (root prefix included) so
// that it can be inspected directly.
package conf
