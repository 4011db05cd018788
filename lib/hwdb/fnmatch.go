package hwdb

import "strings"

// This file holds the wildcard matching used by hwdb lookups.
//
// Fnmatch follows glibc's fnmatch(3) called with flags 0 in the C locale, which is what udev's
// hwdb lookup uses: '*' and '?' also match '/' and a leading '.', a backslash quotes the next
// character, and bytes are compared as bytes (no multibyte or case folding). The behaviour on
// malformed patterns was checked against glibc 2.43 (Debian forky, the libc upstream systemd
// 262 runs on); fnmatch_test.go holds those observations as test vectors:
//
//   - '[' without a closing ']' is an ordinary character;
//   - "[!" and "[^" negate; a ']' right after "[", "[!" or "[^" is a member;
//   - "a-z" is a byte range (empty when reversed); '-' first or last is a member; a range cut
//     off by the end of the pattern fails, unless its first byte already matched;
//   - "[:name:]" is a character class; an unknown lower-case name makes the pattern fail, while a
//     name with any other byte (glibc also refuses 'z') turns the '[' into an ordinary member;
//   - "[=c=]" is the single byte c (a malformed one makes '[' an ordinary member), "[.c.]" is the
//     single byte c and may start or end a range (a malformed one makes the pattern fail);
//   - members are tried in order and the first hit ends the set, so a bad class after a hit is
//     never looked at (a malformed "[=" or "[." after a hit still fails);
//   - a pattern that ends in a lone backslash never matches.

// Fnmatch reports whether name matches the shell wildcard pattern, like fnmatch(3) with no flags
// in the C locale.
func Fnmatch(pattern, name string) bool {
	p, n := 0, 0
	starP, starN := -1, 0 // where to resume after the last '*': pattern index, name index
	for {
		if p < len(pattern) && pattern[p] == '*' {
			for p < len(pattern) && pattern[p] == '*' {
				p++
			}
			if p == len(pattern) {
				return true
			}
			starP, starN = p, n
			continue
		}
		if p < len(pattern) && n < len(name) {
			if ok, next := matchOne(pattern, p, name[n]); ok {
				p, n = next, n+1
				continue
			}
		} else if p == len(pattern) && n == len(name) {
			return true
		}
		// Mismatch: let the last '*' swallow one more byte, if there is one. When an ordinary
		// byte follows the '*', skip straight to its next occurrence.
		if starP < 0 || starN >= len(name) {
			return false
		}
		starN++
		if c := pattern[starP]; c != '?' && c != '[' && c != '\\' {
			i := strings.IndexByte(name[starN:], c)
			if i < 0 {
				return false
			}
			starN += i
		}
		p, n = starP, starN
	}
}

// Match reports whether a hwdb match line matches s the way systemd's hwdb lookup does: the
// bytes before the first '*', '?' or '[' of the pattern are compared literally (a backslash
// there is an ordinary byte), and the remainder goes through Fnmatch against the remainder of
// s. A pattern without any of those three bytes therefore matches only itself.
func Match(pattern, s string) bool {
	i := globIndex(pattern)
	if i < 0 {
		return pattern == s
	}
	if len(s) < i || s[:i] != pattern[:i] {
		return false
	}
	return Fnmatch(pattern[i:], s[i:])
}

// globIndex returns the index of the first '*', '?' or '[' in pattern, or -1.
func globIndex(pattern string) int {
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '*', '?', '[':
			return i
		}
	}
	return -1
}

// matchOne matches the single-byte pattern element at pattern[p] (not '*') against c and
// returns whether it matched and the index just past the element.
func matchOne(pattern string, p int, c byte) (bool, int) {
	switch pattern[p] {
	case '?':
		return true, p + 1
	case '\\':
		if p+1 >= len(pattern) {
			return false, p + 1 // a trailing backslash never matches
		}
		return pattern[p+1] == c, p + 2
	case '[':
		switch ok, next, st := matchBracket(pattern, p, c); st {
		case bracketUnterminated:
			return c == '[', p + 1
		case bracketBad:
			return false, p + 1
		default:
			return ok, next
		}
	}
	return pattern[p] == c, p + 1
}

type bracketStatus int

const (
	bracketOK           bracketStatus = iota
	bracketUnterminated               // no closing ']': the '[' is an ordinary byte
	bracketBad                        // malformed: the pattern cannot match here
)

// matchBracket evaluates the bracket expression starting at pattern[start] == '[' against c.
// It returns whether c is in the set and the index just past the closing ']'.
func matchBracket(pattern string, start int, c byte) (bool, int, bracketStatus) {
	p := start + 1
	negate := false
	if p < len(pattern) && (pattern[p] == '!' || pattern[p] == '^') {
		negate = true
		p++
	}
	first := true
	for {
		if p >= len(pattern) {
			return false, 0, bracketUnterminated
		}
		b := pattern[p]
		if b == ']' && !first {
			return negate, p + 1, bracketOK // c was not in the set
		}
		first = false

		// One member: a class, an equivalence class, or a single byte (possibly a range).
		var lo byte
		switch {
		case b == '\\':
			if p+1 >= len(pattern) {
				return false, 0, bracketBad
			}
			lo, p = pattern[p+1], p+2
		case b == '[' && p+1 < len(pattern) && pattern[p+1] == ':':
			name, next, kind := className(pattern, p)
			if kind == classTooLong {
				return false, 0, bracketBad
			}
			if kind == notAClass {
				lo, p = '[', p+1
				break
			}
			in, known := inClass(name, c)
			if !known {
				return false, 0, bracketBad
			}
			if in {
				return finishBracket(pattern, next, negate)
			}
			p = next
			continue
		case b == '[' && p+1 < len(pattern) && pattern[p+1] == '=':
			if p+4 < len(pattern) && pattern[p+3] == '=' && pattern[p+4] == ']' {
				if pattern[p+2] == c {
					return finishBracket(pattern, p+5, negate)
				}
				p += 5
				continue // an equivalence class never starts a range
			}
			lo, p = '[', p+1
		case b == '[' && p+1 < len(pattern) && pattern[p+1] == '.':
			sym, next, ok := collatingSymbol(pattern, p)
			if !ok {
				return false, 0, bracketBad
			}
			lo, p = sym, next
		default:
			lo, p = b, p+1
		}

		// A range "lo-hi", unless the '-' is the last member.
		if p+1 < len(pattern) && pattern[p] == '-' && pattern[p+1] != ']' {
			p++
			hi := pattern[p]
			p++
			switch {
			case hi == '\\':
				if p >= len(pattern) {
					return false, 0, bracketBad
				}
				hi, p = pattern[p], p+1
			case hi == '[' && p < len(pattern) && pattern[p] == '.':
				sym, next, ok := collatingSymbol(pattern, p-1)
				if !ok {
					return false, 0, bracketBad
				}
				hi, p = sym, next
			}
			if lo <= c && c <= hi {
				return finishBracket(pattern, p, negate)
			}
			continue
		}
		if lo == c {
			return finishBracket(pattern, p, negate)
		}
		if p < len(pattern) && pattern[p] == '-' && p+1 >= len(pattern) {
			return false, 0, bracketBad // a range with no end, unless its start already hit
		}
	}
}

type classKind int

const (
	isAClass     classKind = iota
	notAClass              // not shaped like a class: glibc treats the '[' as an ordinary member
	classTooLong           // a name of 256 bytes or more: the pattern fails
)

// maxClassName is glibc's CHAR_CLASS_MAX_LENGTH.
const maxClassName = 256

// className parses "[:name:]" at pattern[p]; the name may hold only 'a'…'y' (glibc's test).
func className(pattern string, p int) (name string, next int, kind classKind) {
	for i := p + 2; i < len(pattern); i++ {
		if i-(p+2) >= maxClassName {
			return "", 0, classTooLong
		}
		if pattern[i] == ':' && i+1 < len(pattern) && pattern[i+1] == ']' {
			return pattern[p+2 : i], i + 2, isAClass
		}
		if pattern[i] < 'a' || pattern[i] >= 'z' {
			return "", 0, notAClass
		}
	}
	return "", 0, notAClass
}

// collatingSymbol parses "[.c.]" at pattern[p]; only single bytes exist in the C locale.
func collatingSymbol(pattern string, p int) (byte, int, bool) {
	if p+4 < len(pattern) && pattern[p+3] == '.' && pattern[p+4] == ']' {
		return pattern[p+2], p + 5, true
	}
	return 0, 0, false
}

// finishBracket skips the members after a hit up to the closing ']' (without judging them,
// as glibc does) and returns the result of the whole set.
func finishBracket(pattern string, p int, negate bool) (bool, int, bracketStatus) {
	for p < len(pattern) {
		switch b := pattern[p]; {
		case b == ']':
			return !negate, p + 1, bracketOK
		case b == '\\':
			if p+1 >= len(pattern) {
				return false, 0, bracketBad
			}
			p += 2
		case b == '[' && p+1 < len(pattern) && pattern[p+1] == ':':
			switch _, next, kind := className(pattern, p); kind {
			case isAClass:
				p = next
			case notAClass:
				p++
			default:
				return false, 0, bracketBad
			}
		case b == '[' && p+1 < len(pattern) && pattern[p+1] == '=':
			if p+4 < len(pattern) && pattern[p+3] == '=' && pattern[p+4] == ']' {
				p += 5
			} else {
				return false, 0, bracketBad
			}
		case b == '[' && p+1 < len(pattern) && pattern[p+1] == '.':
			end := -1
			for i := p + 2; i+1 < len(pattern); i++ {
				if pattern[i] == '.' && pattern[i+1] == ']' {
					end = i
					break
				}
			}
			if end < 0 {
				return false, 0, bracketBad
			}
			p = end + 2
		default:
			p++
		}
	}
	return false, 0, bracketUnterminated
}

// inClass reports whether c is in the named POSIX class of the C locale; known is false for an
// unknown name.
func inClass(name string, c byte) (in, known bool) {
	lower := 'a' <= c && c <= 'z'
	upper := 'A' <= c && c <= 'Z'
	digit := '0' <= c && c <= '9'
	punct := c > ' ' && c < 0x7f && !lower && !upper && !digit
	switch name {
	case "alnum":
		return lower || upper || digit, true
	case "alpha":
		return lower || upper, true
	case "blank":
		return c == ' ' || c == '\t', true
	case "cntrl":
		return c < ' ' || c == 0x7f, true
	case "digit":
		return digit, true
	case "graph":
		return c > ' ' && c < 0x7f, true
	case "lower":
		return lower, true
	case "print":
		return c >= ' ' && c < 0x7f, true
	case "punct":
		return punct, true
	case "space":
		return c == ' ' || ('\t' <= c && c <= '\r'), true
	case "upper":
		return upper, true
	case "xdigit":
		return digit || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F'), true
	}
	return false, false
}
