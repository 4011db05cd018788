package unit

import (
	"errors"
	"fmt"
	"strings"
)

// LoadCredential is one LoadCredential=ID[:PATH]. Path is absolute (a file,
// a directory whose files become ID_NAME credentials, or an AF_UNIX stream
// socket to read from), or a credential name to look up in the manager's own
// credentials and the credstore directories; without ":PATH" it is ID.
type LoadCredential struct {
	ID, Path string
}

// SetCredential is one SetCredential=ID:VALUE, VALUE C-unescaped (it may
// hold any byte, NUL included).
type SetCredential struct {
	ID    string
	Value []byte
}

// ImportCredential is one ImportCredential=GLOB[:RENAME]: GLOB is a
// credential name, optionally ending in a single "*"; RENAME replaces the
// part GLOB matched literally (the prefix before "*").
type ImportCredential struct {
	Glob, Rename string
}

// validCredentialName is a credential name: a non-empty file name of at most
// 255 bytes, not "." or "..".
func validCredentialName(s string) bool {
	return s != "" && s != "." && s != ".." && len(s) <= 255 && !strings.ContainsAny(s, "/\x00")
}

// ParseLoadCredential parses the value of LoadCredential=.
func ParseLoadCredential(v string) (LoadCredential, error) {
	id, p, hasPath := strings.Cut(v, ":")
	if !validCredentialName(id) {
		return LoadCredential{}, fmt.Errorf("invalid credential name %q", id)
	}
	if !hasPath || p == "" {
		return LoadCredential{ID: id, Path: id}, nil
	}
	if !strings.HasPrefix(p, "/") && !validCredentialName(p) {
		return LoadCredential{}, fmt.Errorf("credential path %q is neither absolute nor a credential name", p)
	}
	return LoadCredential{ID: id, Path: p}, nil
}

// ParseSetCredential parses the value of SetCredential=.
func ParseSetCredential(v string) (SetCredential, error) {
	id, val, ok := strings.Cut(v, ":")
	if !ok {
		return SetCredential{}, errors.New("missing ':' between credential name and value")
	}
	if !validCredentialName(id) {
		return SetCredential{}, fmt.Errorf("invalid credential name %q", id)
	}
	data, err := cunescape(val)
	if err != nil {
		return SetCredential{}, err
	}
	return SetCredential{ID: id, Value: data}, nil
}

// ParseImportCredential parses the value of ImportCredential=.
func ParseImportCredential(v string) (ImportCredential, error) {
	g, r, hasRename := strings.Cut(v, ":")
	name := strings.TrimSuffix(g, "*")
	if strings.ContainsAny(name, "*?[]") || (name != "" && !validCredentialName(name)) || g == "" {
		return ImportCredential{}, fmt.Errorf("invalid credential glob %q: only a trailing '*' is allowed", g)
	}
	if hasRename {
		if r == "" || strings.ContainsAny(r, "*?[]/\x00") || len(r) > 255 {
			return ImportCredential{}, fmt.Errorf("invalid credential rename pattern %q", r)
		}
		if !strings.HasSuffix(g, "*") && !validCredentialName(r) {
			return ImportCredential{}, fmt.Errorf("invalid credential name %q", r)
		}
	}
	return ImportCredential{Glob: g, Rename: r}, nil
}

// Match reports whether the credential called name is imported and under
// which name.
func (ic ImportCredential) Match(name string) (string, bool) {
	if !validCredentialName(name) {
		return "", false
	}
	if prefix, ok := strings.CutSuffix(ic.Glob, "*"); ok {
		if !strings.HasPrefix(name, prefix) {
			return "", false
		}
		if ic.Rename == "" {
			return name, true
		}
		out := ic.Rename + name[len(prefix):]
		return out, validCredentialName(out)
	}
	if name != ic.Glob {
		return "", false
	}
	if ic.Rename != "" {
		return ic.Rename, true
	}
	return name, true
}

// cunescape decodes C-style escapes (\n, \t, \xNN, \NNN, \uXXXX, …); unlike
// in command lines, NUL bytes are allowed.
func cunescape(s string) ([]byte, error) {
	if !strings.Contains(s, `\`) {
		return []byte(s), nil
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		if i+1 >= len(s) {
			return nil, errors.New("trailing backslash")
		}
		switch {
		case strings.HasPrefix(s[i+1:], "x00"):
			b = append(b, 0)
			i += 3
			continue
		case strings.HasPrefix(s[i+1:], "000"):
			b = append(b, 0)
			i += 3
			continue
		}
		t, adv, err := unescapeOne(s[i+1:])
		if err != nil {
			return nil, err
		}
		b = append(b, t...)
		i += adv
	}
	return b, nil
}
