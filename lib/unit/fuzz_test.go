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

func FuzzEnvironmentFile(f *testing.F) {
	for _, s := range []string{"A=1\nB='x\ny'\nC=\"a\\\"b\"\n", "#c\\\nD=\\\n", "A=\"", "=x\n", " K = v \\\n w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, kv := range LoadEnvironmentFile(s) {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || !isEnvName(k) {
				t.Fatalf("%q gave invalid assignment %q", s, kv)
			}
		}
	})
}

func FuzzCredentialSpecs(f *testing.F) {
	for _, s := range []string{"a:/b", "a", `a:\x00\n`, "a.*:b.", "*", "a:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if lc, err := ParseLoadCredential(s); err == nil && (!validCredentialName(lc.ID) || lc.Path == "") {
			t.Fatalf("LoadCredential=%q gave %+v", s, lc)
		}
		if sc, err := ParseSetCredential(s); err == nil && !validCredentialName(sc.ID) {
			t.Fatalf("SetCredential=%q gave %+v", s, sc)
		}
		if ic, err := ParseImportCredential(s); err == nil {
			if n, ok := ic.Match("x.y"); ok && !validCredentialName(n) {
				t.Fatalf("ImportCredential=%q renamed to invalid %q", s, n)
			}
		}
	})
}
