package hwdb

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to ParseFile: it must not panic, and what it returns must be
// well formed.
func FuzzParse(f *testing.F) {
	f.Add("dmi:bvnAmazonEC2:*\n IMDS_VENDOR=amazon-ec2\n\n")
	f.Add("# c\nk:*\nk:a\n K=v # x\n  L = w \n\n K=orphan\nk:x\n\n")
	f.Add("k:*\r\n A=1\n\r\x00 B\n =\n\tT=1\nk:y\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		entries, errs := ParseFile(strings.NewReader(in), "fuzz.hwdb")
		for _, err := range errs {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "fuzz.hwdb" || pe.Line < 1 {
				t.Fatalf("bad error %#v", err)
			}
		}
		for _, e := range entries {
			if len(e.Matches) == 0 || len(e.Properties) == 0 || e.Line < 1 {
				t.Fatalf("bad entry %+v", e)
			}
			for _, m := range e.Matches {
				if m == "" || m[0] == ' ' || strings.ContainsAny(m, "#\n\r\x00") {
					t.Fatalf("bad match %q", m)
				}
			}
			for _, p := range e.Properties {
				if p.Key == "" || p.Line <= e.Line || strings.ContainsAny(p.Key, "=#\n\r\x00") ||
					strings.ContainsAny(p.Value, "#\n\r\x00") {
					t.Fatalf("bad property %+v", p)
				}
			}
		}
		db := New(entries)
		for _, e := range entries {
			for _, m := range e.Matches {
				db.Query(m)
			}
		}
	})
}

// FuzzMatch: Fnmatch and Match must not panic; a pattern without wildcards matches itself;
// "*" plus a pattern matches whatever the pattern matches with anything in front; a string
// with every byte escaped matches itself.
func FuzzMatch(f *testing.F) {
	f.Add("dmi:*:svnAmazonEC2:*", "dmi:bvnX:svnAmazonEC2:pn:")
	f.Add("a[[:alpha:]-z]\\", "ab\\")
	f.Add("[!]-[.a.]]*?", "]]x")
	f.Add("[[=a=][:bogus:]", "a")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := Fnmatch(pattern, s)
		m := Match(pattern, s)
		if !strings.ContainsAny(pattern, "*?[") {
			if !Match(pattern, pattern) {
				t.Fatalf("literal pattern %q does not Match itself", pattern)
			}
			if m != (pattern == s) {
				t.Fatalf("Match(%q, %q) = %v", pattern, s, m)
			}
			if !strings.Contains(pattern, "\\") && !Fnmatch(pattern, pattern) {
				t.Fatalf("literal pattern %q does not Fnmatch itself", pattern)
			}
		}
		if got && !Fnmatch("*"+pattern, "prefix"+s) {
			t.Fatalf("%q matches %q but *%q does not match prefix%q", pattern, s, pattern, s)
		}
		if !Fnmatch("*", s) {
			t.Fatalf("* does not match %q", s)
		}
		var quoted strings.Builder // every byte of s behind a backslash
		for i := 0; i < len(s); i++ {
			quoted.WriteByte('\\')
			quoted.WriteByte(s[i])
		}
		if !Fnmatch(quoted.String(), s) {
			t.Fatalf("%q does not match %q", quoted.String(), s)
		}
	})
}
