package cli

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

type opts struct {
	quiet, all bool
	root, json string
	level      string
}

func newTest() (*Command, *opts, *bytes.Buffer, *bytes.Buffer, *int) {
	o := &opts{root: "/"}
	c := New("tool", "Usage: tool [OPTION…]\n", "262")
	c.Bool(&o.quiet, "quiet", 'q')
	c.Bool(&o.all, "all", 'a')
	c.String(&o.root, "root", 0)
	c.String(&o.json, "json", 0)
	c.Func("log-level", 'l', func(s string) error {
		if s != "debug" && s != "info" {
			return errors.New("unknown level")
		}
		o.level = s
		return nil
	})
	var out, errOut bytes.Buffer
	code := -1
	c.Stdout, c.Stderr = &out, &errOut
	c.Exit = func(n int) { code = n }
	return c, o, &out, &errOut, &code
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want opts
		rest []string
	}{
		{nil, opts{root: "/"}, nil},
		{[]string{"list", "-q", "--root", "/x", "eth0"}, opts{quiet: true, root: "/x"}, []string{"list", "eth0"}},
		{[]string{"-qa", "--json=short"}, opts{quiet: true, all: true, root: "/", json: "short"}, nil},
		{[]string{"-ldebug", "x"}, opts{root: "/", level: "debug"}, []string{"x"}},
		{[]string{"-l", "info"}, opts{root: "/", level: "info"}, nil},
		{[]string{"-ql", "info"}, opts{quiet: true, root: "/", level: "info"}, nil},
		{[]string{"--ro=/y", "--qui"}, opts{quiet: true, root: "/y"}, nil},
		{[]string{"--quiet=no", "--all=yes"}, opts{all: true, root: "/"}, nil},
		{[]string{"a", "--", "-q", "--root=/z"}, opts{root: "/"}, []string{"a", "-q", "--root=/z"}},
		{[]string{"-"}, opts{root: "/"}, []string{"-"}},
	} {
		c, o, _, _, _ := newTest()
		rest, err := c.Parse(tc.args)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if *o != tc.want || !reflect.DeepEqual(rest, tc.rest) {
			t.Errorf("%q: %+v %q, want %+v %q", tc.args, *o, rest, tc.want, tc.rest)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for args, want := range map[string]string{
		"--bogus":       "unrecognized option '--bogus'",
		"-x":            "invalid option -- 'x'",
		"--root":        "option '--root' requires an argument",
		"-l":            "option requires an argument -- 'l'",
		"--log-level=x": "unknown level",
		"--quiet=maybe": `invalid boolean "maybe"`,
		"--":            "",
	} {
		c, _, out, errOut, code := newTest()
		rest := c.ParseOrExit(strings.Fields(args))
		if want == "" {
			if *code != -1 || len(rest) != 0 {
				t.Errorf("%s: exit %d, rest %q", args, *code, rest)
			}
			continue
		}
		if *code != ExitFailure || out.Len() != 0 || !strings.HasPrefix(errOut.String(), "tool: ") || !strings.Contains(errOut.String(), want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", args, *code, out, errOut, want)
		}
	}
	c, _, _, errOut, _ := newTest()
	c.Bool(new(bool), "verbose", 0)
	c.ParseOrExit([]string{"--ver"})
	if !strings.Contains(errOut.String(), "ambiguous; possibilities: --verbose --version") {
		t.Errorf("ambiguous prefix: %q", errOut)
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"list", "--help"}, {"--he"}} {
		c, _, out, errOut, code := newTest()
		c.ParseOrExit(args)
		if *code != 0 || out.String() != c.Usage || errOut.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, *code, out, errOut)
		}
	}
	c, _, out, _, code := newTest()
	c.ParseOrExit([]string{"--version"})
	if *code != 0 || out.String() != "tool (stead) 262\n" {
		t.Errorf("--version: exit %d, %q", *code, out)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("list -q --root /x eth0 -- -a")
	f.Add("-qal debug --json=pretty --ro")
	f.Fuzz(func(t *testing.T, line string) {
		c, _, _, _, _ := newTest()
		c.Parse(strings.Fields(line))
	})
}

func TestJSON(t *testing.T) {
	for _, tc := range []struct {
		bare, arg, want string
		ok              bool
	}{
		{"", "--json=pretty", "pretty", true},
		{"", "--json=off", "", true},
		{"", "--json", "", false},
		{"short", "--json", "short", true},
		{"pretty", "--json", "pretty", true},
		{"pretty", "--json=short", "short", true},
		{"pretty", "--json=yaml", "", false},
	} {
		mode := "unset"
		c := New("tool", "", "1")
		c.JSON(&mode, tc.bare)
		_, err := c.Parse([]string{tc.arg})
		if (err == nil) != tc.ok || (tc.ok && mode != tc.want) {
			t.Errorf("bare %q, %s: mode %q, err %v", tc.bare, tc.arg, mode, err)
		}
	}
}
