package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRunCommandLine: --help and --version print to standard output and exit 0, usage errors
// exit 1 with "networkctl: …" on standard error, before networkd is asked.
func TestRunCommandLine(t *testing.T) {
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"--help"}, 0, "Usage: networkctl", ""},
		{[]string{"status", "-h"}, 0, "Usage: networkctl", ""},
		{[]string{"--version"}, 0, "networkctl (stead) dev\n", ""},
		{[]string{"--bogus"}, 1, "", "networkctl: unrecognized option '--bogus'"},
		{[]string{"--json=yaml", "list"}, 1, "", "networkctl: "},
		{[]string{"--json"}, 1, "", "networkctl: option '--json' requires an argument"},
		{[]string{"frobnicate"}, 1, "", `networkctl: unknown command "frobnicate"`},
		{[]string{"renew"}, 1, "", "networkctl: renew needs an interface name"},
		{[]string{"--root=" + t.TempDir(), "list"}, 1, "", "networkctl: connecting to networkd (is it running?): "},
	} {
		var out, errOut bytes.Buffer
		code := run(c.args, &out, &errOut)
		if code != c.code || !strings.HasPrefix(out.String(), c.stdout) || !strings.HasPrefix(errOut.String(), c.stderr) ||
			(c.stdout == "" && out.Len() > 0) || (c.stderr == "" && errOut.Len() > 0) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", c.args, code, out.String(), errOut.String())
		}
	}
}
