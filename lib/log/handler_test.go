package log_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	steadlog "github.com/stead-os/stead/lib/log"
)

func TestHandlerFormat(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(steadlog.NewHandler(&buf, &steadlog.Options{Level: slog.LevelDebug, Priority: true}))
	l.Debug("probe", "n", 1)
	l.Info("listening", "socket", "/run/x", "fds", 2)
	l.Warn("slow", "took", 1500*time.Millisecond, "ok", false, "ratio", 0.5)
	l.Error("failed", "err", errors.New("boom: no such file"))
	l.Log(context.Background(), slog.LevelInfo+2, "between")
	l.Log(context.Background(), slog.LevelError+4, "critical")
	l.With("unit", "a b").WithGroup("req").With("id", 7).Info("done", "code", 200,
		slog.Group("peer", "uid", 0), slog.Group("empty"), slog.Attr{}, "quote", `say "hi"`, "eq", "a=b", "empty", "")
	l.Info("", "only", "attrs")

	want := `<7>probe n=1
<6>listening socket=/run/x fds=2
<4>slow took=1.5s ok=false ratio=0.5
<3>failed err="boom: no such file"
<6>between
<3>critical
<6>done unit="a b" req.id=7 req.code=200 req.peer.uid=0 req.quote="say \"hi\"" req.eq="a=b" req.empty=""
<6>only=attrs
`
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestHandlerPlain(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(steadlog.NewHandler(&buf, &steadlog.Options{Name: "imdsd"}))
	l.Debug("hidden")
	l.Warn("slow", "n", 1)
	if got, want := buf.String(), "imdsd: WARN slow n=1\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	buf.Reset()
	l = slog.New(steadlog.NewHandler(&buf, &steadlog.Options{Time: true}))
	l.Info("tick")
	line := buf.String()
	stamp, rest, _ := strings.Cut(line, " ")
	if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", stamp); err != nil || rest != "INFO tick\n" {
		t.Errorf("line %q: %v", line, err)
	}
}

func TestMultiline(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(steadlog.NewHandler(&buf, &steadlog.Options{Priority: true}))
	l.Error("first\nsecond\r\nthird\x1b[31m\ttab", "trace", "a\nb")
	want := `<3>first\nsecond\r\nthird\x1b[31m` + "\ttab" + ` trace="a\nb"` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Errorf("%d lines for one record", n)
	}
}

func TestLiveLevel(t *testing.T) {
	var buf bytes.Buffer
	lv := new(slog.LevelVar)
	l := slog.New(steadlog.NewHandler(&buf, &steadlog.Options{Level: lv, Priority: true}))
	l.Debug("a")
	lv.Set(slog.LevelDebug)
	l.Debug("b")
	lv.Set(slog.LevelError)
	l.Warn("c")
	l.Error("d")
	if got, want := buf.String(), "<7>b\n<3>d\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSharedLevel(t *testing.T) {
	lv := steadlog.LevelVar()
	t.Cleanup(func() { lv.Set(slog.LevelInfo) })
	var buf bytes.Buffer
	l := steadlog.New(&buf, "x")
	l.Debug("hidden")
	if err := steadlog.SetSyslogLevel(7); err != nil {
		t.Fatal(err)
	}
	l.Debug("shown")
	if !strings.Contains(buf.String(), "shown") || strings.Contains(buf.String(), "hidden") {
		t.Errorf("got %q", buf.String())
	}
}

// lineWriter records each Write and fails the test if two overlap.
type lineWriter struct {
	t      *testing.T
	busy   atomic.Bool
	mu     sync.Mutex
	writes []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if !w.busy.CompareAndSwap(false, true) {
		w.t.Error("concurrent Write")
	}
	defer w.busy.Store(false)
	time.Sleep(time.Microsecond) // widen the window for overlaps
	w.mu.Lock()
	w.writes = append(w.writes, string(p))
	w.mu.Unlock()
	return len(p), nil
}

func TestConcurrent(t *testing.T) {
	w := &lineWriter{t: t}
	lv := new(slog.LevelVar)
	base := slog.New(steadlog.NewHandler(w, &steadlog.Options{Level: lv, Priority: true}))
	const goroutines, records = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		// Derived handlers must share the lock with their parent.
		l := base.With("g", g)
		wg.Go(func() {
			for i := range records {
				l.Info("record", "i", i, "payload", strings.Repeat("x", 100))
			}
		})
	}
	wg.Go(func() {
		for range records {
			lv.Set(slog.LevelInfo) // live changes race with Enabled
		}
	})
	wg.Wait()
	if len(w.writes) != goroutines*records {
		t.Fatalf("%d writes, want %d", len(w.writes), goroutines*records)
	}
	for _, s := range w.writes {
		if !strings.HasPrefix(s, "<6>record g=") || strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
			t.Fatalf("torn line %q", s)
		}
	}
}

type badErr struct{ p *int }

func (e badErr) Error() string { return fmt.Sprint(*e.p) }

func TestOddValues(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(steadlog.NewHandler(&buf, &steadlog.Options{Priority: true}))
	var nilErr error
	l.Info("v", "nil", nilErr, "panics", badErr{}, "bytes", []byte("ab"), "map", map[string]int{"a": 1},
		"when", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "u", uint64(7), "lazy", slog.AnyValue(lazy{}))
	want := `<6>v nil=<nil> panics="!PANIC: runtime error: invalid memory address or nil pointer dereference" bytes=ab map=map[a:1] when=2026-01-02T03:04:05Z u=7 lazy=resolved` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

type lazy struct{}

func (lazy) LogValue() slog.Value { return slog.StringValue("resolved") }

func BenchmarkBelowLevel(b *testing.B) {
	l := slog.New(steadlog.NewHandler(io.Discard, &steadlog.Options{Priority: true}))
	b.ReportAllocs()
	for b.Loop() {
		l.Debug("dropped", "n", 42, "path", "/run/x")
	}
}

func BenchmarkAboveLevel(b *testing.B) {
	l := slog.New(steadlog.NewHandler(io.Discard, &steadlog.Options{Priority: true}))
	b.ReportAllocs()
	for b.Loop() {
		l.Info("written", "n", 42, "path", "/run/x")
	}
}

// BenchmarkTextHandler is the standard library's text handler on the same
// record, for comparison.
func BenchmarkTextHandler(b *testing.B) {
	l := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.ReportAllocs()
	for b.Loop() {
		l.Info("written", "n", 42, "path", "/run/x")
	}
}
