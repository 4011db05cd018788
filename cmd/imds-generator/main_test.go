package main

import (
	"context"
	"io"
	"testing"

	"github.com/stead-os/stead/lib/cli/clitest"
)

func TestRunCommandLine(t *testing.T) {
	clitest.Run(t, func(_ context.Context, args []string, stdout, stderr io.Writer) int { return run(args, stdout, stderr) }, []clitest.Case{
		{Args: []string{"--help"}, Stdout: "Usage: imds-generator"},
		{Args: []string{"--version"}, Stdout: "imds-generator (stead) dev\n"},
		{Args: []string{"--bogus", "/d"}, Code: 1, Stderr: "imds-generator: unrecognized option '--bogus'"},
		{Args: []string{"/a", "/b"}, Code: 1, Stderr: "Usage: imds-generator"},
		{Args: nil, Code: 1, Stderr: "Usage: imds-generator"},
	})
}
