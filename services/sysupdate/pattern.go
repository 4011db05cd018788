package sysupdate

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// A Pattern is a parsed MatchPattern=: literals and @-wildcards, each wildcard at most once,
// @v mandatory, two wildcards always separated by a literal (the literal after a wildcard is
// where its value ends: its first occurrence). "@@" is a literal '@'. A source pattern may
// start with "**/": then only the last path component of a name is matched.
type Pattern struct {
	Text     string
	AnyDir   bool // "**/" prefix
	elements []element
}

type element struct {
	field   byte // 0 for a literal, else the wildcard letter (v, u, f, …)
	literal string
}

// Wildcard letters and what they hold.
const wildcards = "vufatmsdlrgh"

// Metadata is what a name's wildcards hold (nil: not in the name).
type Metadata struct {
	Version       string
	PartitionUUID *string // canonical lower-case 8-4-4-4-12 form
	Flags         *uint64
	NoAuto        *bool
	ReadOnly      *bool
	GrowFS        *bool
	Mtime         *uint64 // µs since the epoch
	Mode          *uint32
	Size          *uint64
	TriesDone     *uint64
	TriesLeft     *uint64
	SHA256        *[32]byte
}

// ParsePattern checks and splits a MatchPattern= word. source allows the "**/" prefix.
func ParsePattern(s string, source bool) (*Pattern, error) {
	p := &Pattern{Text: s}
	rest := s
	if strings.HasPrefix(rest, "**/") {
		if !source {
			return nil, fmt.Errorf("pattern %q: the \"**/\" prefix is only allowed in [Source]", s)
		}
		p.AnyDir = true
		rest = rest[3:]
		if strings.Contains(rest, "/") {
			return nil, fmt.Errorf("pattern %q: no further \"/\" is allowed after \"**/\"", s)
		}
	}
	var seen [256]bool
	lastLiteral := true
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.elements = append(p.elements, element{literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c == '@' {
			if i+1 >= len(rest) {
				return nil, fmt.Errorf("pattern %q: trailing '@'", s)
			}
			i++
			w := rest[i]
			if w != '@' {
				if !strings.ContainsRune(wildcards, rune(w)) {
					return nil, fmt.Errorf("pattern %q: unknown wildcard '@%c'", s, w)
				}
				if seen[w] {
					return nil, fmt.Errorf("pattern %q: wildcard '@%c' appears twice", s, w)
				}
				if !lastLiteral {
					return nil, fmt.Errorf("pattern %q: two wildcards without a literal between them", s)
				}
				seen[w] = true
				flush()
				p.elements = append(p.elements, element{field: w})
				lastLiteral = false
				continue
			}
			c = '@'
		}
		if c < ' ' || c >= 127 || strings.IndexByte("$*?[]!\\|", c) >= 0 {
			return nil, fmt.Errorf("pattern %q: invalid character %q", s, c)
		}
		if c == '/' && (i == 0 || i == len(rest)-1 || rest[i-1] == '/') {
			return nil, fmt.Errorf("pattern %q: empty path component", s)
		}
		lit.WriteByte(c)
		lastLiteral = true
	}
	flush()
	if !seen['v'] {
		return nil, fmt.Errorf("pattern %q: the version wildcard @v is missing", s)
	}
	return p, nil
}

// Has reports whether the pattern holds wildcard w.
func (p *Pattern) Has(w byte) bool {
	for _, e := range p.elements {
		if e.field == w {
			return true
		}
	}
	return false
}

// Match matches a whole name and returns its wildcards' values.
func (p *Pattern) Match(name string) (Metadata, bool) {
	var m Metadata
	if p.AnyDir {
		name = name[strings.LastIndexByte(name, '/')+1:]
	}
	rest := name
	for i, e := range p.elements {
		if e.field == 0 {
			if !strings.HasPrefix(rest, e.literal) {
				return Metadata{}, false
			}
			rest = rest[len(e.literal):]
			continue
		}
		end := len(rest)
		if i+1 < len(p.elements) {
			end = strings.Index(rest, p.elements[i+1].literal)
			if end < 0 {
				return Metadata{}, false
			}
		}
		if !m.set(e.field, rest[:end]) {
			return Metadata{}, false
		}
		rest = rest[end:]
	}
	if rest != "" {
		return Metadata{}, false
	}
	return m, true
}

// set parses one wildcard's value as upstream does; false means the name does not match.
func (m *Metadata) set(field byte, v string) bool {
	u64 := func() (*uint64, bool) {
		if v == "" || v[0] == '+' || v[0] == '-' {
			return nil, false
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == ^uint64(0) {
			return nil, false
		}
		return &n, true
	}
	boolean := func() (*bool, bool) {
		b, err := parseBoolWord(v)
		return &b, err == nil
	}
	var ok bool
	switch field {
	case 'v':
		m.Version, ok = v, ValidVersion(v)
	case 'u':
		var u string
		u, ok = canonicalUUID(v)
		m.PartitionUUID = &u
	case 'f':
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(v, "0x"), "0X"), 16, 64)
		m.Flags, ok = &n, err == nil && v != ""
	case 't':
		m.Mtime, ok = u64()
		ok = ok && *m.Mtime/1_000_000 <= 1<<63-1
	case 'm':
		n, err := strconv.ParseUint(v, 8, 32)
		mode := uint32(n)
		m.Mode, ok = &mode, err == nil && n&^0o775 == 0
	case 's':
		m.Size, ok = u64()
	case 'd':
		m.TriesDone, ok = u64()
	case 'l':
		m.TriesLeft, ok = u64()
	case 'a':
		m.NoAuto, ok = boolean()
	case 'r':
		m.ReadOnly, ok = boolean()
	case 'g':
		m.GrowFS, ok = boolean()
	case 'h':
		var h [32]byte
		_, err := hex.Decode(h[:], []byte(v))
		m.SHA256, ok = &h, len(v) == 64 && err == nil
	}
	return ok
}

// Format builds a name from the pattern and values; every wildcard of the pattern must have
// a value.
func (p *Pattern) Format(m Metadata) (string, error) {
	var b strings.Builder
	for _, e := range p.elements {
		if e.field == 0 {
			b.WriteString(e.literal)
			continue
		}
		v, ok := m.format(e.field)
		if !ok {
			return "", fmt.Errorf("pattern %q: no value for @%c", p.Text, e.field)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

func (m *Metadata) format(field byte) (string, bool) {
	bit := func(b *bool) (string, bool) {
		if b == nil {
			return "", false
		}
		if *b {
			return "1", true
		}
		return "0", true
	}
	num := func(n *uint64) (string, bool) {
		if n == nil {
			return "", false
		}
		return strconv.FormatUint(*n, 10), true
	}
	switch field {
	case 'v':
		return m.Version, m.Version != ""
	case 'u':
		if m.PartitionUUID == nil {
			return "", false
		}
		return strings.ReplaceAll(*m.PartitionUUID, "-", ""), true // upstream writes the 32-digit form
	case 'f':
		if m.Flags == nil {
			return "", false
		}
		return strconv.FormatUint(*m.Flags, 16), true
	case 't':
		return num(m.Mtime)
	case 'm':
		if m.Mode == nil {
			return "", false
		}
		return fmt.Sprintf("%03o", *m.Mode), true
	case 's':
		return num(m.Size)
	case 'd':
		return num(m.TriesDone)
	case 'l':
		return num(m.TriesLeft)
	case 'a':
		return bit(m.NoAuto)
	case 'r':
		return bit(m.ReadOnly)
	case 'g':
		return bit(m.GrowFS)
	case 'h':
		if m.SHA256 == nil {
			return "", false
		}
		return hex.EncodeToString(m.SHA256[:]), true
	}
	return "", false
}

// canonicalUUID accepts a UUID as 32 hex digits or in the 8-4-4-4-12 form.
func canonicalUUID(s string) (string, bool) {
	h := s
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return "", false
		}
		h = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	if len(h) != 32 {
		return "", false
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", false
	}
	h = strings.ToLower(h)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], true
}

// parseBoolWord is systemd's boolean vocabulary.
func parseBoolWord(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "yes", "y", "true", "t", "on":
		return true, nil
	case "0", "no", "n", "false", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}

// MatchAny matches name against each pattern in turn.
func MatchAny(ps []*Pattern, name string) (Metadata, bool) {
	for _, p := range ps {
		if m, ok := p.Match(name); ok {
			return m, true
		}
	}
	return Metadata{}, false
}
