package log

import (
	"encoding"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// appendMessage appends msg with control characters escaped, keeping the
// record on one line. Tabs are harmless and stay.
func appendMessage(b []byte, msg string) []byte {
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		switch {
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case (c < 0x20 && c != '\t') || c == 0x7f:
			b = append(b, `\x`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendString appends s, quoted if it would otherwise be ambiguous in a
// key=value list or could break the line.
func appendString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// anyString renders an arbitrary value. A panicking String or Error method
// (typically on a nil pointer) must not take the daemon down with it.
func anyString(v any) (s string) {
	defer func() {
		if p := recover(); p != nil {
			s = fmt.Sprintf("!PANIC: %v", p)
		}
	}()
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case error:
		return x.Error()
	case encoding.TextMarshaler:
		t, err := x.MarshalText()
		if err != nil {
			return "!ERROR: " + err.Error()
		}
		return string(t)
	case []byte:
		return string(x)
	default:
		return fmt.Sprintf("%+v", x)
	}
}
