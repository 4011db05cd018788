package main

import (
	"reflect"
	"testing"

	"github.com/stead-os/stead/lib/cli/clitest"
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
	clitest.Run(t, run, []clitest.Case{
		{Args: []string{"--help"}, Stdout: "Usage: steadctl"},
		{Args: []string{"status", "-h"}, Stdout: "Usage: steadctl"},
		{Args: []string{"--version"}, Stdout: "steadctl (stead) dev\n"},
		{Args: []string{"--bogus"}, Code: 1, Stderr: "steadctl: unrecognized option '--bogus'"},
		{Args: []string{"list-units", "--all=yes"}, Code: 1, Stderr: "steadctl: "},
		{Args: []string{"show", "x", "-p"}, Code: 1, Stderr: "steadctl: option requires an argument -- 'p'"},
		{Args: []string{"--root=" + t.TempDir(), "is-active", "x"}, Code: 1, Stderr: "Failed to get unit state: "},
	})
}
