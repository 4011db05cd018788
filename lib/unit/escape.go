package unit

import (
	"fmt"
	"path"
	"strings"
)

// Unit names carry paths (mount points, devices) and free strings
// (instances) in an escaped form, as systemd-escape(1) produces it: "/"
// becomes "-", a leading "." and every byte outside [A-Za-z0-9:_.] becomes
// \xHH (lower-case hex).

// EscapePath escapes an absolute path for a unit name (systemd-escape
// --path): the path is cleaned of duplicate and trailing slashes first, and
// the root directory becomes "-". A path with "." or ".." components is
// refused, as upstream refuses it.
func EscapePath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q is not absolute", p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == "." || c == ".." {
			return "", fmt.Errorf("path %q is not normalized", p)
		}
	}
	p = path.Clean(p)
	if p == "/" {
		return "-", nil
	}
	return EscapeName(strings.TrimPrefix(p, "/")), nil
}

// UnescapeString undoes EscapeName: "-" becomes "/" and \xHH the byte.
func UnescapeString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '-':
			b.WriteByte('/')
		case s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' && isHex(s[i+2]) && isHex(s[i+3]):
			b.WriteByte(unhex(s[i+2])<<4 | unhex(s[i+3]))
			i += 3
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// UnescapePath undoes EscapePath (systemd's unit_name_path_unescape): "-"
// alone is "/", else the unescaped name with one leading "/".
func UnescapePath(s string) string {
	if s == "-" || s == "" {
		return "/"
	}
	return "/" + strings.TrimLeft(UnescapeString(s), "/")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
