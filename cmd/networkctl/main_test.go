package main

import (
	"testing"

	"github.com/stead-os/stead/lib/cli/clitest"
)

// TestRunCommandLine: --help and --version print to standard output and exit 0, usage errors
// exit 1 with "networkctl: …" on standard error, before networkd is asked.
func TestRunCommandLine(t *testing.T) {
	clitest.Run(t, run, []clitest.Case{
		{Args: []string{"--help"}, Stdout: "Usage: networkctl"},
		{Args: []string{"status", "-h"}, Stdout: "Usage: networkctl"},
		{Args: []string{"--version"}, Stdout: "networkctl (stead) dev\n"},
		{Args: []string{"--bogus"}, Code: 1, Stderr: "networkctl: unrecognized option '--bogus'"},
		{Args: []string{"--json=yaml", "list"}, Code: 1, Stderr: "networkctl: "},
		{Args: []string{"--json"}, Code: 1, Stderr: "networkctl: option '--json' requires an argument"},
		{Args: []string{"frobnicate"}, Code: 1, Stderr: `networkctl: unknown command "frobnicate"`},
		{Args: []string{"renew"}, Code: 1, Stderr: "networkctl: renew needs an interface name"},
		{Args: []string{"--root=" + t.TempDir(), "list"}, Code: 1, Stderr: "networkctl: connecting to networkd (is it running?): "},
	})
}
