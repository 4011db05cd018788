package hwdb

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestFnmatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"", "", true},
		{"", "a", false},
		{"a", "", false},
		{"*", "", true},
		{"*", "anything/at:all", true},
		{"**", "", true},
		{"a*", "a", true},
		{"*a", "ba", true},
		{"*a", "ab", false},
		{"a*b*c", "a-x-b-y-c", true},
		{"a*b*c", "a-x-c-y-b", false},
		{"*ab", "aab", true},   // backtracking
		{"*aab", "aaab", true}, // backtracking
		{"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"?", "", false},
		{"?", "/", true},       // no FNM_PATHNAME
		{"*", ".hidden", true}, // no FNM_PERIOD
		{"a/*", "a/b/c", true}, // '*' crosses '/'
		{"[abc]", "b", true},
		{"[abc]", "d", false},
		{"[!abc]", "d", true},
		{"[^abc]", "a", false},
		{"[]]", "]", true}, // ']' first is a member
		{"[!]]", "]", false},
		{"[!]]", "x", true},
		{"[]-b]", "a", true},  // range ']'..'b'
		{"[a-]", "-", true},   // '-' last is a member
		{"[-a]", "-", true},   // '-' first is a member
		{"[c-a]", "b", false}, // reversed range is empty
		{"[a-c]", "c", true},
		{"[[:digit:]]", "7", true},
		{"[[:digit:][:upper:]]", "Q", true},
		{"[[:alpha:]]", "\xe9", false}, // C locale: only ASCII
		{"[[:space:]]", "\v", true},
		{"[[:punct:]]", ":", true},
		{"[[:xdigit:]]", "F", true},
		{"[[:bogus:]]", "a", false}, // unknown class: never matches
		{"[a[:bogus:]]", "a", true}, // ... unless a member before it hit
		{"[[:ALPHA:]]", "A]", true}, // not a class name: '[' ':' 'A' … are members, then ']'
		{"[[:z:]]", "z]", true},     // glibc does not accept 'z' in class names
		{"[[.a.]]", "a", true},
		{"[[.a.]-c]", "b", true},
		{"[[.ab.]]", "a", false},
		{"[[=a=]]", "a", true},
		{"[[=a]", "=", true}, // malformed equivalence class: '[' is a member
		{"[", "[", true},     // unterminated: literal '['
		{"[a", "[a", true},
		{"[a", "a", false},
		{"[]", "[]", true},
		{"[a-", "[a-", false}, // a range without end fails
		{"[\\]]", "]", true},
		{"[\\", "[\\", false},
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"\\", "\\", false}, // a trailing backslash never matches
		{"a\\", "a\\", false},
		{"*\\", "\\", false},
		{"\\a", "a", true},
		{"dmi:*:svnAmazonEC2:*", "dmi:bvnX:svnAmazonEC2:pnY:", true},
		{"dmi:*:cat7783-7084-3265-9085-8269-3286-77:*", "dmi:bvnA:cvnB:ct3:cat7783-7084-3265-9085-8269-3286-77:", true},
	} {
		if got := Fnmatch(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Fnmatch(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

// TestFnmatchGlibc replays fnmatch(3) results recorded from glibc 2.43.
func TestFnmatchGlibc(t *testing.T) {
	f, err := os.Open("testdata/fnmatch-glibc.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		pattern, name, result, err := parseVector(text)
		if err != nil {
			t.Fatalf("testdata/fnmatch-glibc.txt:%d: %v", line, err)
		}
		n++
		if got := Fnmatch(pattern, name); got != (result == "match") {
			t.Errorf("line %d: Fnmatch(%q, %q) = %v, glibc says %s", line, pattern, name, got, result)
		}
	}
	if n < 500 {
		t.Fatalf("only %d vectors read", n)
	}
}

func parseVector(s string) (pattern, name, result string, err error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return
	}
	pattern, _ = strconv.Unquote(q)
	s = strings.TrimPrefix(s[len(q):], " ")
	if q, err = strconv.QuotedPrefix(s); err != nil {
		return
	}
	name, _ = strconv.Unquote(q)
	result = strings.TrimPrefix(s[len(q):], " ")
	return
}

// TestMatchLikeSystemdHwdb checks Match against what systemd-hwdb 262 ("systemd-hwdb update"
// + "systemd-hwdb query") returned for files holding these patterns: hits lists, per query,
// the 1-based numbers of the patterns that matched.
func TestMatchLikeSystemdHwdb(t *testing.T) {
	for _, set := range []struct {
		patterns []string
		hits     map[string][]int
	}{
		{
			patterns: []string{
				"p:abc", "p:a?c", "p:a*c", "p:a[bx]c", "p:a[!b]c", "p:a[^b]c",
				"p:a[]]c", "p:a[!]]c", "p:a[a-c]c", "p:a[c-a]c", "p:a[-b]c", "p:a[b-]c",
				"p:a[]-b]c", "p:a[[:digit:]]c", "p:a[[:alpha:][:digit:]]c", "p:a[[:bogus:]]c", "p:a[[:ALPHA:]]c", "p:a[[.b.]]c",
				"p:a[[=b=]]c", "p:a[c", "p:a[", "p:a\\bc", "p:a\\*c", "p:a\\",
				"p:a[\\]]c", "p:a[\\!]c", "p:*[", "p:a*b*c", "p:a**c", "p:*",
				"p:a/c", "p:a*/c", "p:a?/c", "p:a[/]c", "p:.*", "p:a[!a-z]c",
				"p:a[b", "p:ab[", "p:a[[]c", "p:a[[:]c", "p:a[[:x]c", "p:a?",
				"p:a[:digit:]c",
			},
			hits: map[string][]int{
				"p:abc":   {1, 2, 3, 4, 8, 9, 11, 12, 13, 15, 18, 19, 28, 29, 30},
				"p:axc":   {2, 3, 4, 5, 6, 8, 15, 29, 30, 41},
				"p:aXc":   {2, 3, 5, 6, 8, 15, 29, 30, 36},
				"p:a]c":   {2, 3, 5, 6, 7, 13, 25, 29, 30, 36},
				"p:a-c":   {2, 3, 5, 6, 8, 11, 12, 29, 30, 36},
				"p:a1c":   {2, 3, 5, 6, 8, 14, 15, 29, 30, 36},
				"p:a c":   {2, 3, 5, 6, 8, 29, 30, 36},
				"p:a\\bc": {3, 22, 23, 28, 29, 30},
				"p:a*c":   {2, 3, 5, 6, 8, 29, 30, 36},
				"p:a\\":   {24, 30, 42},
				"p:a!c":   {2, 3, 5, 6, 8, 26, 29, 30, 36},
				"p:a[c":   {2, 3, 5, 6, 8, 20, 29, 30, 36, 39, 40, 41},
				"p:a[":    {21, 27, 30, 42},
				"p:ab[":   {27, 30, 38},
				"p:a[b":   {30, 37},
				"p:a/c":   {2, 3, 5, 6, 8, 29, 30, 31, 32, 34, 36},
				"p:ab/c":  {3, 28, 29, 30, 32, 33},
				"p:.x":    {30, 35},
				"p:ac":    {3, 29, 30, 42},
				"p:abbbc": {3, 28, 29, 30},
				"p:a":     {30},
				"p:ab":    {30, 42},
				"p:a:c":   {2, 3, 5, 6, 8, 29, 30, 36, 40, 41, 43},
				"p:adc":   {2, 3, 5, 6, 8, 15, 29, 30, 43},
				"p:":      {30},
			},
		},
		{
			patterns: []string{
				"q:a[[.b]c", "q:a[[=b]c", "q:a[[.bc.]]c", "q:a[[.-.]-z]c", "q:a[[=b=]-z]c", "q:a[\\",
				"q:a*\\", "q:a*\\*", "q:a*\\b", "q:?\\\\", "q:a[b-\\]]c", "q:a[[:digit:]-z]c",
				"q:a[z-[:digit:]]c", "q:a[!]c", "q:a[]c", "q:a[[:z:]]c", "q:a[[:alpha:]c", "q:[!a]*",
				"q:a[--/]c", "q:*?*?", "q:a[\\-]c", "q:a[b\\-d]c",
			},
			hits: map[string][]int{
				"q:abc":      {2, 4, 5, 20, 22},
				"q:a[.b]c":   {20},
				"q:a[=b]c":   {20},
				"q:a[c":      {2, 4, 20},
				"q:a-c":      {4, 5, 12, 19, 20, 21, 22},
				"q:azc":      {4, 5, 12, 20},
				"q:ayc":      {4, 20},
				"q:a1c":      {4, 12, 20},
				"q:a\\c":     {4, 20},
				"q:a\\":      {10, 20},
				"q:ab\\":     {20},
				"q:a*":       {8, 20},
				"q:ab*":      {8, 20},
				"q:abb":      {9, 20},
				"q:a\\\\":    {20},
				"q:x\\":      {10, 18, 20},
				"q:a]c":      {4, 20},
				"q:a!c":      {20},
				"q:a[]c":     {15, 16, 20},
				"q:a:c":      {4, 20},
				"q:a.c":      {4, 19, 20},
				"q:a/c":      {4, 19, 20},
				"q:adc":      {4, 20, 22},
				"q:a":        {},
				"q:ab":       {9, 20},
				"q:b":        {18},
				"q:abcc":     {20},
				"q:a[:z:]]c": {20},
				"q:a[a]c":    {20},
				"q:a[b":      {9, 20},
				"q:a[\\":     {6, 20},
			},
		},
	} {
		for s, want := range set.hits {
			var got []int
			for i, p := range set.patterns {
				if Match(p, s) {
					got = append(got, i+1)
				}
			}
			if s == `q:a[\` {
				// systemd also matched pattern 6 (`q:a[\`) here, by walking its trie through
				// the '[' as a literal byte; see the package documentation.
				want = slices.DeleteFunc(slices.Clone(want), func(i int) bool { return i == 6 })
			}
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("query %q: patterns %v match, systemd-hwdb found %v", s, got, want)
			}
		}
	}
}

func TestMatchLiteralPrefix(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{`a\b`, `a\b`, true}, // no wildcard: plain comparison, backslash included
		{`a\b`, `ab`, false},
		{`a\*`, `a\xyz`, true}, // the backslash before the first wildcard is literal
		{`a\*`, `a*`, false},
		{`x*\*`, `xy*`, true}, // after the first wildcard, fnmatch rules apply
		{`dmi:*`, `dmi:`, true},
		{`dmi:*`, `dm`, false},
	} {
		if got := Match(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}
