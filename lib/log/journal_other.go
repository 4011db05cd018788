//go:build !unix

package log

import "os"

// IsJournalStream reports whether f is the journald stream named in
// $JOURNAL_STREAM; there is no journald here, so never.
func IsJournalStream(f *os.File) bool { return false }
