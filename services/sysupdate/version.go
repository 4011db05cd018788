package sysupdate

import "strings"

// CompareVersions orders two version strings the way upstream's strverscmp_improved() does
// (what `systemd-analyze compare-versions` prints): it returns -1, 0 or 1.
//
// A version is split into segments of digits or of letters; every other character except
// '~', '-', '^' and '.' is dropped and only separates segments. At each step:
//   - a segment prefixed with '~' (a pre-release) is older than anything else, even the end;
//   - then, when either string has ended, the longer one is newer;
//   - '-' (version/release separator) is older than any other prefix, '^' (a patched release)
//     older than no prefix, and '.' older than no prefix too;
//   - a numeric segment is newer than an alphabetic (or missing) one; numbers compare by value
//     (leading zeros ignored), letters as ASCII, a longer run of letters being newer.
func CompareVersions(a, b string) int {
	if a == "" || b == "" {
		return cmpInt(len(a), len(b)) // upstream compares with strcmp here: "" is oldest
	}
	for {
		a, b = skipInvalid(a), skipInvalid(b)
		if r, ok := prefixOrder(&a, &b, '~'); ok {
			if r != 0 {
				return -r // '~' makes the older one
			}
		}
		if a == "" || b == "" {
			return strings.Compare(a, b)
		}
		for _, sep := range []byte{'-', '^', '.'} {
			if r, _ := prefixOrder(&a, &b, sep); r != 0 {
				return -r
			}
		}
		var r int
		if isDigit(at(a, 0)) || isDigit(at(b, 0)) {
			na, nb := span(a, isDigit), span(b, isDigit)
			if r = cmpBool(na > 0, nb > 0); r != 0 {
				return r
			}
			da, db := strings.TrimLeft(a[:na], "0"), strings.TrimLeft(b[:nb], "0")
			if r = cmpInt(len(da), len(db)); r == 0 {
				r = strings.Compare(da, db)
			}
			a, b = a[na:], b[nb:]
		} else {
			na, nb := span(a, isAlpha), span(b, isAlpha)
			n := min(na, nb)
			if r = strings.Compare(a[:n], b[:n]); r == 0 {
				r = cmpInt(na, nb)
			}
			a, b = a[na:], b[nb:]
		}
		if r != 0 {
			return r
		}
	}
}

// prefixOrder handles one prefix character: when either string starts with c it reports
// which one does (1 when only a does, -1 when only b does, 0 when both do, and then strips
// it from both). ok is false when neither starts with c.
func prefixOrder(a, b *string, c byte) (r int, ok bool) {
	pa, pb := at(*a, 0) == c, at(*b, 0) == c
	if !pa && !pb {
		return 0, false
	}
	if pa != pb {
		if pa {
			return 1, true
		}
		return -1, true
	}
	*a, *b = (*a)[1:], (*b)[1:]
	return 0, true
}

func skipInvalid(s string) string {
	for s != "" && !validVersionChar(s[0]) {
		s = s[1:]
	}
	return s
}

func validVersionChar(c byte) bool {
	return isDigit(c) || isAlpha(c) || c == '~' || c == '-' || c == '^' || c == '.'
}

func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func span(s string, f func(byte) bool) int {
	n := 0
	for n < len(s) && f(s[n]) {
		n++
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// ValidVersion reports whether s may be a version, as upstream accepts the @v field of a
// name: non-empty, a valid file name part (at most 255 bytes, not "." or ".."), made of ASCII
// letters, digits and ".,_-+".
func ValidVersion(s string) bool {
	if s == "" || len(s) > 255 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && !isAlpha(c) && !strings.ContainsRune(".,_-+", rune(c)) {
			return false
		}
	}
	return true
}
