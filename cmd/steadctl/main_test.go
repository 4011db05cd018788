package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	o, verb, rest, err := parseArgs([]string{"show", "a", "-p", "MainPID,SubState", "--property=Result", "--value", "--root=/r", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if verb != "show" || !reflect.DeepEqual(rest, []string{"a", "b"}) || o.Root != "/r" || !o.Value ||
		!reflect.DeepEqual(o.Props, []string{"MainPID", "SubState", "Result"}) {
		t.Errorf("got %+v %q %q", o, verb, rest)
	}
	o, verb, _, err = parseArgs([]string{"--all", "--json"})
	if err != nil || verb != "list-units" || !o.All || o.JSON != "pretty" {
		t.Errorf("defaults: %+v %q %v", o, verb, err)
	}
	o, _, _, err = parseArgs([]string{"-P", "ActiveState", "show", "x", "--json=short"})
	if err != nil || !o.Value || o.JSON != "short" || o.Props[0] != "ActiveState" {
		t.Errorf("-P: %+v %v", o, err)
	}
	for _, bad := range [][]string{{"--bogus"}, {"-p"}, {"--json=yaml"}, {"--all=yes"}} {
		if _, _, _, err := parseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestRunCommandLine: --help and --version print to standard output and exit 0, usage errors
// exit 1 with "steadctl: …" on standard error, before any manager is asked.
func TestRunCommandLine(t *testing.T) {
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"--help"}, 0, "Usage: steadctl", ""},
		{[]string{"status", "-h"}, 0, "Usage: steadctl", ""},
		{[]string{"--version"}, 0, "steadctl (stead) dev\n", ""},
		{[]string{"--bogus"}, 1, "", "steadctl: unrecognized option '--bogus'"},
		{[]string{"list-units", "--all=yes"}, 1, "", "steadctl: "},
		{[]string{"show", "x", "-p"}, 1, "", "steadctl: option requires an argument -- 'p'"},
		{[]string{"--root=" + t.TempDir(), "is-active", "x"}, 1, "", "Failed to get unit state: "},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), c.args, &out, &errOut)
		if code != c.code || !strings.HasPrefix(out.String(), c.stdout) || !strings.HasPrefix(errOut.String(), c.stderr) ||
			(c.stdout == "" && out.Len() > 0) || (c.stderr == "" && errOut.Len() > 0) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", c.args, code, out.String(), errOut.String())
		}
	}
}
