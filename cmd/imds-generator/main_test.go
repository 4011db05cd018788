package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunCommandLine(t *testing.T) {
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"--help"}, 0, "Usage: imds-generator", ""},
		{[]string{"--version"}, 0, "imds-generator (stead) dev\n", ""},
		{[]string{"--bogus", "/d"}, 1, "", "imds-generator: unrecognized option '--bogus'"},
		{[]string{"/a", "/b"}, 1, "", "Usage: imds-generator"},
		{nil, 1, "", "Usage: imds-generator"},
	} {
		var out, errOut bytes.Buffer
		code := run(c.args, &out, &errOut)
		if code != c.code || !strings.HasPrefix(out.String(), c.stdout) || !strings.HasPrefix(errOut.String(), c.stderr) ||
			(c.stdout == "" && out.Len() > 0) || (c.stderr == "" && errOut.Len() > 0) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", c.args, code, out.String(), errOut.String())
		}
	}
}
