package fetch

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// ParseSHA256SUMS parses a SHA256SUMS file as sha256sum writes it: per line 64 hex digits,
// a space, then a space (text mode) or '*' (binary mode), then the file name; a line starting
// with '\' has its name escaped (\\, \n, \r). Empty lines are skipped. A name may be a
// relative path below the manifest's directory ("foo_1/bar.efi"), as upstream 262 accepts;
// any other line, a name that is not a normalized relative path (empty, absolute, with an
// empty, "." or ".." component, or holding NUL) and a name listed twice are errors naming
// the line.
func ParseSHA256SUMS(data []byte) (map[string][32]byte, error) {
	sums := make(map[string][32]byte)
	for i, line := range strings.Split(string(data), "\n") {
		lineNo := i + 1
		if line == "" {
			continue
		}
		escaped := false
		if line[0] == '\\' {
			escaped, line = true, line[1:]
		}
		if len(line) < 67 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*') {
			return nil, fmt.Errorf("SHA256SUMS line %d: not \"HASH  NAME\" or \"HASH *NAME\"", lineNo)
		}
		var sum [32]byte
		if _, err := hex.Decode(sum[:], []byte(line[:64])); err != nil {
			return nil, fmt.Errorf("SHA256SUMS line %d: invalid SHA256 %q", lineNo, line[:64])
		}
		name := line[66:]
		if escaped {
			var err error
			if name, err = unescapeName(name); err != nil {
				return nil, fmt.Errorf("SHA256SUMS line %d: %w", lineNo, err)
			}
		}
		if !validRelativePath(name) {
			return nil, fmt.Errorf("SHA256SUMS line %d: %q is not a relative path below the manifest's directory", lineNo, name)
		}
		if _, dup := sums[name]; dup {
			return nil, fmt.Errorf("SHA256SUMS line %d: %q listed twice", lineNo, name)
		}
		sums[name] = sum
	}
	return sums, nil
}

// validRelativePath reports whether name is a non-empty relative path whose components are
// all proper names: no leading or doubled '/', no trailing '/', no "." or "..", no NUL.
func validRelativePath(name string) bool {
	if name == "" || strings.ContainsRune(name, 0) {
		return false
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return true
}

func unescapeName(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i++; i == len(s) {
			return "", fmt.Errorf("name %q ends in a lone backslash", s)
		}
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("name %q has an unknown escape \\%c", s, s[i])
		}
	}
	return b.String(), nil
}
