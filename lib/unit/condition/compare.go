package condition

// The comparison expressions of ConditionKernelVersion=, ConditionVersion=,
// ConditionOSRelease= and ConditionFirmware=smbios-field(): string,
// version and glob operators, and upstream's version ordering.

import (
	"path/filepath"
	"strings"
)

// ops are the operators, longest first so "<=" is not read as "<".
var ops = []string{"!$=", "$=", "<=", ">=", "==", "!=", "<>", "<", ">", "="}

// parseOp splits a leading operator off s ("" if there is none).
func parseOp(s string) (op, rest string) {
	for _, o := range ops {
		if r, ok := strings.CutPrefix(s, o); ok {
			return o, r
		}
	}
	return "", s
}

// splitOp splits "KEY OP VALUE" at the first operator.
func splitOp(s string) (key, op, value string, ok bool) {
	for i := 0; i < len(s); i++ {
		if o, rest := parseOp(s[i:]); o != "" {
			return strings.TrimSpace(s[:i]), o, strings.TrimSpace(rest), true
		}
	}
	return "", "", "", false
}

// compare applies op to have and want.
func compare(have, op, want string) bool {
	switch op {
	case "=":
		return have == want
	case "!=":
		return have != want
	case "$=":
		ok, _ := filepath.Match(want, have)
		return ok
	case "!$=":
		ok, _ := filepath.Match(want, have)
		return !ok
	}
	c := versionCompare(have, want)
	switch op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case "==":
		return c == 0
	case "<>":
		return c != 0
	case ">=":
		return c >= 0
	case ">":
		return c > 0
	}
	return false
}

// splitQuoted splits a list into words, honouring quotes.
func splitQuoted(s string) []string {
	var out []string
	var b strings.Builder
	in, q := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0 && c == q:
			q = 0
		case q == 0 && (c == '"' || c == '\''):
			q, in = c, true
		case q == 0 && (c == ' ' || c == '\t' || c == '\n'):
			if in {
				out = append(out, b.String())
				b.Reset()
				in = false
			}
		default:
			b.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, b.String())
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// versionCompare orders versions as upstream's strverscmp_improved (the
// UAPI version format): segments of digits compare numerically, letters
// alphabetically; "~" sorts before everything, "-" and "^" separate with
// their own ranks, and other characters only separate.
func versionCompare(a, b string) int {
	valid := func(c byte) bool { return isDigit(c) || isAlpha(c) || strings.IndexByte("~-^.", c) >= 0 }
	for {
		for len(a) > 0 && !valid(a[0]) {
			a = a[1:]
		}
		for len(b) > 0 && !valid(b[0]) {
			b = b[1:]
		}
		// "~": pre-release, sorts lowest.
		if len(a) > 0 && a[0] == '~' || len(b) > 0 && b[0] == '~' {
			if len(a) == 0 || a[0] != '~' {
				return 1
			}
			if len(b) == 0 || b[0] != '~' {
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		if len(a) == 0 || len(b) == 0 {
			return cmpInt(len(a), len(b))
		}
		for _, sep := range []byte{'-', '^', '.'} {
			if a[0] == sep || b[0] == sep {
				if a[0] != sep {
					return 1
				}
				if b[0] != sep {
					return -1
				}
				a, b = a[1:], b[1:]
				goto next
			}
		}
		if isDigit(a[0]) || isDigit(b[0]) {
			if !isDigit(a[0]) {
				return -1
			}
			if !isDigit(b[0]) {
				return 1
			}
			a = strings.TrimLeft(a, "0")
			b = strings.TrimLeft(b, "0")
			na, nb := 0, 0
			for na < len(a) && isDigit(a[na]) {
				na++
			}
			for nb < len(b) && isDigit(b[nb]) {
				nb++
			}
			if na != nb {
				return cmpInt(na, nb)
			}
			if c := strings.Compare(a[:na], b[:nb]); c != 0 {
				return c
			}
			a, b = a[na:], b[nb:]
		} else {
			na, nb := 0, 0
			for na < len(a) && isAlpha(a[na]) {
				na++
			}
			for nb < len(b) && isAlpha(b[nb]) {
				nb++
			}
			if c := strings.Compare(a[:na], b[:nb]); c != 0 {
				return c
			}
			a, b = a[na:], b[nb:]
		}
	next:
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
