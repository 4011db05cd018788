package log

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Options configure a Handler. The zero value logs at Info and above with
// neither priority prefix nor timestamp.
type Options struct {
	// Level is the minimum level logged; nil means slog.LevelInfo. Pass a
	// *slog.LevelVar to change it while running.
	Level slog.Leveler
	// Priority starts every line with the journald priority prefix "<N>"
	// and drops the level name, which the prefix replaces.
	Priority bool
	// Time starts every line with the record's time (RFC 3339, in ms).
	Time bool
	// Name, when set, is written before the message as "name: ", the way
	// command-line tools label their diagnostics.
	Name string
}

// timeFormat is RFC 3339 with milliseconds: precise enough for a
// terminal, short enough to read.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// Handler is a slog.Handler writing one line per record:
//
//	[<N>][time ][name: ][LEVEL ]msg key=value ...
//
// Groups qualify keys with dots (req.id=7). Values are quoted when they
// contain spaces, '=', quotes or non-printable characters; control
// characters in the message are escaped (\n), so a record never spans
// lines and journald never sees a line without its prefix. Each line
// reaches the writer in a single Write under a mutex shared by all
// handlers derived through WithAttrs and WithGroup, so concurrent records
// never interleave.
type Handler struct {
	opts   Options
	out    *output
	attrs  []byte // preformatted WithAttrs, each with a leading space
	prefix string // group qualifier for keys, "a.b." after WithGroup(a), WithGroup(b)
}

type output struct {
	mu sync.Mutex
	w  io.Writer
}

// NewHandler returns a Handler writing to w.
func NewHandler(w io.Writer, opts *Options) *Handler {
	h := &Handler{out: &output{w: w}}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.Level == nil {
		h.opts.Level = slog.LevelInfo
	}
	return h
}

// Enabled reports whether records at l are logged.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.opts.Level.Level()
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// Handle formats r as one line and writes it.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	if h.opts.Priority {
		b = append(b, '<', byte('0'+Priority(r.Level)), '>')
	}
	if h.opts.Time && !r.Time.IsZero() {
		b = r.Time.AppendFormat(b, timeFormat)
		b = append(b, ' ')
	}
	if h.opts.Name != "" {
		b = append(b, h.opts.Name...)
		b = append(b, ": "...)
	}
	if !h.opts.Priority {
		b = append(b, r.Level.String()...)
		b = append(b, ' ')
	}
	b = appendMessage(b, r.Message)
	// Attributes come with a leading space; drop it when there is no
	// message so the line does not end up with a double space.
	start := len(b)
	b = append(b, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, h.prefix, a)
		return true
	})
	if r.Message == "" && len(b) > start {
		b = append(b[:start], b[start+1:]...)
	}
	b = append(b, '\n')

	h.out.mu.Lock()
	_, err := h.out.w.Write(b)
	h.out.mu.Unlock()

	// Keep pooled buffers small so one huge record does not pin memory.
	if cap(b) <= 64<<10 {
		*bp = b
		bufPool.Put(bp)
	}
	return err
}

// WithAttrs returns a Handler that adds attrs to every record.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

// WithGroup returns a Handler that qualifies later keys with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// appendAttr appends " key=value", flattening groups into dotted keys
// and skipping what slog says to skip (empty attrs, empty groups).
func appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			b = appendAttr(b, p, ga)
		}
		return b
	}
	b = append(b, ' ')
	if prefix == "" {
		b = appendString(b, a.Key)
	} else {
		b = appendString(b, prefix+a.Key)
	}
	b = append(b, '=')
	return appendValue(b, a.Value)
}

func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return append(b, v.Duration().String()...)
	case slog.KindTime:
		return v.Time().AppendFormat(b, time.RFC3339Nano)
	default:
		return appendString(b, anyString(v.Any()))
	}
}
