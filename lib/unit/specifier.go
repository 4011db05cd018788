package unit

import (
	"fmt"
	"strconv"
	"strings"
)

// Specifiers holds the values the %-specifiers of a unit file expand to.
type Specifiers struct {
	Name     string // %n: full unit name, "foo@bar.service"
	Prefix   string // %p: the part before "@" (or before the suffix)
	Instance string // %i: the part after "@", escaped
}

// unescapeName reverses systemd's unit-name escaping: "-" is "/" and "\xNN" a byte.
func unescapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-':
			b.WriteByte('/')
		case c == '\\' && i+3 < len(s) && s[i+1] == 'x':
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Expand replaces the specifiers in s. Unknown specifiers and a trailing
// lone "%" are errors, as in systemd.
func (sp Specifiers) Expand(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("unterminated specifier in %q", s)
		}
		i++
		v, ok := sp.value(s[i])
		if !ok {
			return "", fmt.Errorf("unknown specifier %%%c in %q", s[i], s)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

func (sp Specifiers) value(c byte) (string, bool) {
	name := sp.Name
	switch c {
	case '%':
		return "%", true
	case 'n':
		return name, true
	case 'N':
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			return name[:i], true
		}
		return name, true
	case 'p':
		return sp.Prefix, true
	case 'P':
		return unescapeName(sp.Prefix), true
	case 'i':
		return sp.Instance, true
	case 'I':
		return unescapeName(sp.Instance), true
	case 'j':
		p := sp.Prefix
		if i := strings.LastIndexByte(p, '-'); i >= 0 {
			p = p[i+1:]
		}
		return p, true
	case 'J':
		p := sp.Prefix
		if i := strings.LastIndexByte(p, '-'); i >= 0 {
			p = p[i+1:]
		}
		return unescapeName(p), true
	case 'f':
		v := sp.Instance
		if v == "" {
			v = sp.Prefix
		}
		v = unescapeName(v)
		if !strings.HasPrefix(v, "/") {
			v = "/" + v
		}
		return v, true
	case 't':
		return "/run", true
	case 'S':
		return "/var/lib", true
	case 'C':
		return "/var/cache", true
	case 'L':
		return "/var/log", true
	case 'E':
		return "/etc", true
	case 'T':
		return "/tmp", true
	case 'V':
		return "/var/tmp", true
	case 'h':
		return "/root", true
	case 's':
		return "/bin/sh", true
	case 'u':
		return "root", true
	case 'U':
		return "0", true
	case 'g':
		return "root", true
	case 'G':
		return "0", true
	}
	return "", false
}
