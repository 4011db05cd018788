// Package clitest checks a tool's command line in-process: each Case runs the tool's run
// function and compares its exit code and the beginning of what it printed.
package clitest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// Case is one command line and the tool's expected answer. Stdout and Stderr are prefixes of
// what must be printed; "" means nothing at all.
type Case struct {
	Args           []string
	Code           int
	Stdout, Stderr string
}

// RunFunc is a tool's entry point: run(ctx, args, stdout, stderr) returns the exit code.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Run runs every case and reports each mismatch.
func Run(t testing.TB, run RunFunc, cases []Case) {
	t.Helper()
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := run(context.Background(), c.Args, &out, &errOut)
		if code != c.Code || !matches(out.String(), c.Stdout) || !matches(errOut.String(), c.Stderr) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d, stdout %q…, stderr %q…",
				c.Args, code, out.String(), errOut.String(), c.Code, c.Stdout, c.Stderr)
		}
	}
}

func matches(got, prefix string) bool {
	if prefix == "" {
		return got == ""
	}
	return strings.HasPrefix(got, prefix)
}
