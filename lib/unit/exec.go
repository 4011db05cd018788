package unit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ExecCommand is one command of an Exec*= setting.
type ExecCommand struct {
	Path string   // the program to execute
	Argv []string // argv, argv[0] included; words are unquoted but $VAR is not yet expanded
	// Prefixes.
	IgnoreFailure bool // "-": a failure exit status is recorded but not acted on
	Argv0         bool // "@": the second word is argv[0], the first is Path
	Privileged    bool // "+": run with full privileges
	NoSetuid      bool // "!": User=/Group= are not applied by the manager
	AmbientOnly   bool // "!!": like "!" on systems without ambient capabilities
	NoEnvExpand   bool // ":": no $VAR expansion
}

// ParseExec splits the value of an Exec*= setting into commands: words are
// separated by whitespace, quoted with '…' or "…", and C-style backslash
// escapes are honoured; a word that is a lone ";" separates commands and "\;"
// is a literal ";" argument. An unknown escape is kept as written, backslash
// included, as upstream does after warning; ParseExecWarn tells about it.
func ParseExec(value string) ([]ExecCommand, error) {
	cmds, _, err := ParseExecWarn(value)
	return cmds, err
}

// ParseExecWarn is ParseExec that also reports whether value had escape
// sequences it kept verbatim (upstream: "Ignoring unknown escape sequences").
func ParseExecWarn(value string) ([]ExecCommand, bool, error) {
	words, relaxed, err := splitWords(value, true)
	if err != nil {
		return nil, false, err
	}
	var cmds []ExecCommand
	var cur []string
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		c, err := makeCommand(cur)
		if err != nil {
			return err
		}
		cmds = append(cmds, c)
		cur = nil
		return nil
	}
	for _, w := range words {
		if w.text == ";" && !w.quoted {
			if err := flush(); err != nil {
				return nil, false, err
			}
			continue
		}
		cur = append(cur, w.text)
	}
	if err := flush(); err != nil {
		return nil, false, err
	}
	return cmds, relaxed, nil
}

func makeCommand(words []string) (ExecCommand, error) {
	var c ExecCommand
	first := words[0]
	for len(first) > 0 {
		switch {
		case strings.HasPrefix(first, "!!") && !c.AmbientOnly && !c.NoSetuid:
			c.AmbientOnly = true
			first = first[2:]
			continue
		}
		stop := false
		switch first[0] {
		case '-':
			if c.IgnoreFailure {
				return c, fmt.Errorf("duplicate prefix '-' in %q", words[0])
			}
			c.IgnoreFailure = true
		case '@':
			if c.Argv0 {
				return c, fmt.Errorf("duplicate prefix '@' in %q", words[0])
			}
			c.Argv0 = true
		case '+':
			c.Privileged = true
		case '!':
			if c.NoSetuid {
				return c, fmt.Errorf("duplicate prefix '!' in %q", words[0])
			}
			c.NoSetuid = true
		case ':':
			c.NoEnvExpand = true
		default:
			stop = true
		}
		if stop {
			break
		}
		first = first[1:]
	}
	if c.Privileged && (c.NoSetuid || c.AmbientOnly) {
		return c, fmt.Errorf("prefixes '+' and '!' cannot be combined in %q", words[0])
	}
	if first == "" {
		return c, fmt.Errorf("empty executable path in %q", words[0])
	}
	c.Path = first
	rest := words[1:]
	if c.Argv0 {
		if len(rest) == 0 {
			return c, fmt.Errorf("prefix '@' needs an argv[0] after %q", words[0])
		}
		c.Argv = append([]string{}, rest...)
	} else {
		c.Argv = append([]string{first}, rest...)
	}
	if strings.ContainsRune(c.Path, 0) {
		return c, errors.New("executable path contains NUL")
	}
	return c, nil
}

type word struct {
	text   string
	quoted bool
}

// SplitWords splits s the way systemd's extract_first_word does with
// unquoting and C unescaping: whitespace separates words, '…' and "…" quote
// (and may be joined to unquoted text), backslash escapes are C-style (\a \b
// \f \n \r \t \v \s \\ \" \' \xNN \NNN \uXXXX \UXXXXXXXX). An unknown
// escape (such as "\ " or "\$"), a trailing backslash and unbalanced quotes
// are errors.
func SplitWords(s string) ([]word, error) {
	w, _, err := splitWords(s, false)
	return w, err
}

// splitWords is SplitWords; with relax, unknown escapes and a trailing
// backslash are kept verbatim and reported through relaxed instead (upstream's
// EXTRACT_CUNESCAPE_RELAX retry for command lines). A word that is exactly "\;"
// is a quoted ";" (upstream's command separator escape).
func splitWords(s string, relax bool) (out []word, relaxed bool, err error) {
	var b strings.Builder
	in := false // inside a word
	quoted := false
	var q byte // current quote char or 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if q == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if in {
				out = append(out, word{b.String(), quoted})
				b.Reset()
				in, quoted = false, false
			}
			continue
		}
		if !in && c == '\\' && strings.HasPrefix(s[i:], "\\;") && (i+2 == len(s) || strings.IndexByte(" \t\n\r", s[i+2]) >= 0) {
			out = append(out, word{";", true})
			i++
			continue
		}
		in = true
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				if relax && q == 0 {
					b.WriteByte('\\')
					relaxed = true
					continue
				}
				return nil, false, errors.New("trailing backslash")
			}
			n, adv, err := unescapeOne(s[i+1:])
			if err != nil {
				if !relax {
					return nil, false, err
				}
				relaxed = true
				b.WriteByte('\\')
				b.WriteByte(s[i+1])
				i++
				continue
			}
			b.WriteString(n)
			i += adv
		case q != 0 && c == q:
			q = 0
		case q == 0 && (c == '\'' || c == '"'):
			q = c
			quoted = true
		default:
			b.WriteByte(c)
		}
	}
	if q != 0 {
		return nil, false, fmt.Errorf("unbalanced quote %c", q)
	}
	if in {
		out = append(out, word{b.String(), quoted})
	}
	return out, relaxed, nil
}

// unescapeOne decodes the escape after a backslash in s; it returns the text
// and how many bytes of s it used.
func unescapeOne(s string) (string, int, error) {
	switch s[0] {
	case 'a':
		return "\a", 1, nil
	case 'b':
		return "\b", 1, nil
	case 'f':
		return "\f", 1, nil
	case 'n':
		return "\n", 1, nil
	case 'r':
		return "\r", 1, nil
	case 't':
		return "\t", 1, nil
	case 'v':
		return "\v", 1, nil
	case 's':
		return " ", 1, nil
	case '\\', '"', '\'':
		return string(s[0]), 1, nil
	case 'x':
		if len(s) < 3 {
			return "", 0, errors.New("short \\x escape")
		}
		v, err := strconv.ParseUint(s[1:3], 16, 8)
		if err != nil || v == 0 {
			return "", 0, fmt.Errorf("bad \\x escape %q", s[:3])
		}
		return string([]byte{byte(v)}), 3, nil
	case 'u', 'U':
		n := 4
		if s[0] == 'U' {
			n = 8
		}
		if len(s) < n+1 {
			return "", 0, errors.New("short unicode escape")
		}
		v, err := strconv.ParseUint(s[1:n+1], 16, 32)
		if err != nil || v == 0 || v > 0x10FFFF {
			return "", 0, fmt.Errorf("bad unicode escape %q", s[:n+1])
		}
		return string(rune(v)), n + 1, nil
	case '0', '1', '2', '3':
		if len(s) < 3 {
			return "", 0, errors.New("short octal escape")
		}
		v, err := strconv.ParseUint(s[0:3], 8, 8)
		if err != nil || v == 0 {
			return "", 0, fmt.Errorf("bad octal escape %q", s[:3])
		}
		return string([]byte{byte(v)}), 3, nil
	}
	return "", 0, fmt.Errorf("unknown escape \\%c", s[0])
}

// ExpandArgv substitutes environment variables in argv the way systemd does
// at exec time: a word that is exactly "$NAME" becomes the value split at
// whitespace (zero or more words); "${NAME}" anywhere in a word is replaced by
// the value; "$$" is a literal "$". Unset variables expand to nothing.
func ExpandArgv(argv []string, env map[string]string) []string {
	out := make([]string, 0, len(argv))
	for _, a := range argv {
		if len(a) > 1 && a[0] == '$' && a[1] != '{' && a[1] != '$' && isEnvName(a[1:]) {
			out = append(out, strings.Fields(env[a[1:]])...)
			continue
		}
		out = append(out, expandString(a, env))
	}
	return out
}

func expandString(a string, env map[string]string) string {
	if !strings.Contains(a, "$") {
		return a
	}
	var b strings.Builder
	for i := 0; i < len(a); i++ {
		if a[i] != '$' || i+1 >= len(a) {
			b.WriteByte(a[i])
			continue
		}
		switch a[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(a[i+2:], '}')
			if end < 0 {
				b.WriteString(a[i:])
				return b.String()
			}
			b.WriteString(env[a[i+2:i+2+end]])
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func isEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
