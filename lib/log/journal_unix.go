//go:build unix

package log

import (
	"os"
	"syscall"
)

// IsJournalStream reports whether f is the journald stream named in
// $JOURNAL_STREAM ("DEVICE:INODE"). The service manager sets the variable
// when it connects stdout or stderr to journald, but a child process can
// inherit it with stderr redirected elsewhere, so the descriptor itself is
// compared, not just the variable's presence.
func IsJournalStream(f *os.File) bool {
	dev, ino, ok := journalStream()
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}
