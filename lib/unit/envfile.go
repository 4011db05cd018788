package unit

import (
	"strings"
	"unicode/utf8"
)

// envState is where ParseEnvironmentFile is within an assignment.
type envState int

const (
	envPreKey envState = iota
	envKey
	envPreValue
	envValue
	envValueEscape
	envSingle
	envDouble
	envDoubleEscape
	envComment
	envCommentEscape
)

// EnvAssignment is one NAME=VALUE read from an environment file, with the
// line it ended on (for messages).
type EnvAssignment struct {
	Name, Value string
	Line        int
}

// ParseEnvironmentFile reads the text of an EnvironmentFile= the way systemd
// does (systemd.exec(5)): one assignment a line; lines starting with "#" or
// ";" are comments; whitespace around the name and around an unquoted value
// is dropped. An unquoted value keeps its inner whitespace and quotes; a
// backslash keeps the next character, and a backslash before a newline joins
// the lines. '…' is verbatim and may span lines. "…" may span lines and
// knows only \" \\ \` \$ and backslash-newline; any other backslash stays.
// Text after a closing quote is skipped up to the next quote or word, so
// A="x" "y" gives "xy". Lines without "=" are ignored. Later assignments of
// a name replace earlier ones; the order of first appearance is kept.
// Names that are not valid variable names and values that are not UTF-8
// are returned too: see EnvironmentFromFile for the filtered list.
func ParseEnvironmentFile(data string) []EnvAssignment {
	var out []EnvAssignment
	var key, val strings.Builder
	state := envPreKey
	line := 1
	keyTrim, valTrim := -1, -1 // length to cut trailing whitespace back to, or -1
	push := func() {
		k := key.String()
		if keyTrim >= 0 {
			k = k[:keyTrim]
		}
		v := val.String()
		if state == envValue && valTrim >= 0 {
			v = v[:valTrim]
		}
		out = append(out, EnvAssignment{Name: k, Value: v, Line: line})
		key.Reset()
		val.Reset()
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		newline := c == '\n' || c == '\r'
		white := c == ' ' || c == '\t' || newline
		switch state {
		case envPreKey:
			switch {
			case c == '#' || c == ';':
				state = envComment
			case !white:
				state = envKey
				keyTrim = -1
				key.WriteByte(c)
			}
		case envKey:
			switch {
			case newline:
				state = envPreKey
				line++
				key.Reset()
			case c == '=':
				state = envPreValue
				valTrim = -1
			default:
				if !white {
					keyTrim = -1
				} else if keyTrim < 0 {
					keyTrim = key.Len()
				}
				key.WriteByte(c)
			}
		case envPreValue:
			switch {
			case newline:
				push()
				state = envPreKey
				line++
			case c == '\'':
				state = envSingle
			case c == '"':
				state = envDouble
			case c == '\\':
				state = envValueEscape
			case !white:
				state = envValue
				val.WriteByte(c)
			}
		case envValue:
			switch {
			case newline:
				push()
				state = envPreKey
				line++
			case c == '\\':
				state = envValueEscape
				valTrim = -1
			default:
				if !white {
					valTrim = -1
				} else if valTrim < 0 {
					valTrim = val.Len()
				}
				val.WriteByte(c)
			}
		case envValueEscape:
			state = envValue
			if !newline {
				val.WriteByte(c)
			} else {
				line++
			}
		case envSingle:
			if c == '\'' {
				state = envPreValue
			} else {
				if c == '\n' {
					line++
				}
				val.WriteByte(c)
			}
		case envDouble:
			switch c {
			case '"':
				state = envPreValue
			case '\\':
				state = envDoubleEscape
			default:
				if c == '\n' {
					line++
				}
				val.WriteByte(c)
			}
		case envDoubleEscape:
			state = envDouble
			switch {
			case strings.IndexByte("\"\\`$", c) >= 0:
				val.WriteByte(c)
			case c == '\n':
				line++ // continuation: the newline is dropped
			default:
				val.WriteByte('\\')
				val.WriteByte(c)
			}
		case envComment:
			switch {
			case c == '\\':
				state = envCommentEscape
			case newline:
				state = envPreKey
				line++
			}
		case envCommentEscape:
			// Since systemd 254 a comment does not continue onto the next line.
			if newline {
				state = envPreKey
				line++
			} else {
				state = envComment
			}
		}
	}
	switch state {
	case envPreValue, envValue, envValueEscape, envSingle, envDouble, envDoubleEscape:
		push()
	}
	return out
}

// LoadEnvironmentFile parses an EnvironmentFile= (see ParseEnvironmentFile)
// and returns the NAME=VALUE assignments a service gets: invalid names and
// non-UTF-8 text are dropped, and a later assignment of a name replaces an
// earlier one in place.
func LoadEnvironmentFile(data string) []string {
	var out []string
	idx := map[string]int{}
	for _, a := range ParseEnvironmentFile(data) {
		if !isEnvName(a.Name) || !utf8.ValidString(a.Value) || strings.IndexByte(a.Value, 0) >= 0 {
			continue
		}
		kv := a.Name + "=" + a.Value
		if i, ok := idx[a.Name]; ok {
			out[i] = kv
			continue
		}
		idx[a.Name] = len(out)
		out = append(out, kv)
	}
	return out
}
