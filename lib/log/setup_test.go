package log_test

import (
	"bytes"
	"fmt"
	stdlog "log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	steadlog "github.com/stead-os/stead/lib/log"
)

// tempStream returns a file and the JOURNAL_STREAM value that names it.
func tempStream(t *testing.T) (*os.File, string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stream"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return f, fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIsJournalStream(t *testing.T) {
	f, id := tempStream(t)
	other, otherID := tempStream(t)
	for env, want := range map[string]bool{id: true, otherID: false, "": false, "garbage": false, "1:x": false} {
		t.Setenv(steadlog.EnvJournalStream, env)
		if got := steadlog.IsJournalStream(f); got != want {
			t.Errorf("JOURNAL_STREAM=%q: %v, want %v", env, got, want)
		}
	}
	t.Setenv(steadlog.EnvJournalStream, id)
	if steadlog.IsJournalStream(other) || steadlog.IsJournalStream(nil) {
		t.Error("matched the wrong file")
	}
}

func TestNewPrefix(t *testing.T) {
	f, id := tempStream(t)
	t.Setenv(steadlog.EnvInvocationID, "0123456789abcdef0123456789abcdef")

	// The file is the journal stream: prefix, no name, no level word.
	t.Setenv(steadlog.EnvJournalStream, id)
	steadlog.New(f, "imdsd").Warn("hello", "k", "v")
	if got, want := readAll(t, f), "<4>hello k=v\n"; got != want {
		t.Errorf("journal: got %q, want %q", got, want)
	}

	// Variable inherited, stderr elsewhere: plain lines.
	g, _ := tempStream(t)
	steadlog.New(g, "imdsd").Warn("hello")
	if got, want := readAll(t, g), "imdsd: WARN hello\n"; got != want {
		t.Errorf("redirected: got %q, want %q", got, want)
	}

	// Not a file: the variable alone decides.
	var buf bytes.Buffer
	steadlog.New(&buf, "imdsd").Error("x")
	if got, want := buf.String(), "<3>x\n"; got != want {
		t.Errorf("buffer with JOURNAL_STREAM: got %q, want %q", got, want)
	}
	buf.Reset()
	t.Setenv(steadlog.EnvJournalStream, "")
	steadlog.New(&buf, "imdsd").Error("x")
	if got, want := buf.String(), "imdsd: ERROR x\n"; got != want {
		t.Errorf("buffer without JOURNAL_STREAM: got %q, want %q", got, want)
	}

	// Outside a service manager a time stamp leads the line.
	buf.Reset()
	os.Unsetenv(steadlog.EnvInvocationID)
	steadlog.New(&buf, "imdsd").Info("x")
	if _, rest, _ := strings.Cut(buf.String(), " "); rest != "imdsd: INFO x\n" {
		t.Errorf("interactive: got %q", buf.String())
	}
}

func TestSetup(t *testing.T) {
	f, id := tempStream(t)
	oldStderr, oldDefault := os.Stderr, slog.Default()
	t.Cleanup(func() {
		os.Stderr = oldStderr
		slog.SetDefault(oldDefault)
		steadlog.LevelVar().Set(slog.LevelInfo)
	})
	os.Stderr = f
	t.Setenv(steadlog.EnvJournalStream, id)
	t.Setenv(steadlog.EnvLogLevel, "debug")

	l := steadlog.Setup("imdsd")
	if l != slog.Default() {
		t.Error("Setup did not install the default logger")
	}
	slog.Debug("from slog", "n", 1)
	stdlog.Print("from log") // the standard logger is routed through slog
	steadlog.SetSyslogLevel(3)
	slog.Warn("dropped")
	if got, want := readAll(t, f), "<7>from slog n=1\n<6>from log\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	// A bad level is reported and leaves the level alone.
	g, gid := tempStream(t)
	os.Stderr = g
	t.Setenv(steadlog.EnvJournalStream, gid)
	t.Setenv(steadlog.EnvLogLevel, "chatty")
	steadlog.SetSyslogLevel(6)
	steadlog.Setup("imdsd")
	if got := readAll(t, g); !strings.HasPrefix(got, "<4>ignoring SYSTEMD_LOG_LEVEL err=") {
		t.Errorf("got %q", got)
	}
	if lv := steadlog.LevelVar().Level(); lv != slog.LevelInfo {
		t.Errorf("level %v after a bad SYSTEMD_LOG_LEVEL", lv)
	}
}
