package unit

import (
	"strings"
	"testing"
)

func FuzzParseExec(f *testing.F) {
	for _, s := range []string{`/bin/echo "a b" 'c'`, `-@/bin/sh sh -c x ; /bin/y \;`, `\x41\u00e9\101`, `"`, `!!+/x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cmds, err := ParseExec(s)
		if err != nil {
			return
		}
		for _, c := range cmds {
			if c.Path == "" || len(c.Argv) == 0 {
				t.Fatalf("empty command from %q: %+v", s, c)
			}
			_ = ExpandArgv(c.Argv, map[string]string{"A": "x y"})
		}
	})
}

func FuzzSpecifiers(f *testing.F) {
	for _, s := range []string{"%n %i %I %%", "%", "%f%j%J", "a\\x2db"} {
		f.Add(s, "a\\x2db-c")
	}
	f.Fuzz(func(t *testing.T, s, inst string) {
		sp := Specifiers{Name: "p@" + inst + ".service", Prefix: "p", Instance: inst}
		out, err := sp.Expand(s)
		if !strings.Contains(s, "%") && (err != nil || out != s) {
			t.Fatalf("%q without specifiers changed to %q (%v)", s, out, err)
		}
		if err == nil && !strings.ContainsAny(inst, "%\\") && !strings.Contains(s, "%%") && strings.Contains(out, "%") {
			t.Fatalf("%q expanded to %q, which still has a %%", s, out)
		}
	})
}
