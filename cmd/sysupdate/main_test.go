package main

import (
	"testing"

	"github.com/stead-os/stead/lib/cli/clitest"
)

func TestCommandLine(t *testing.T) {
	root := t.TempDir()
	clitest.Run(t, run, []clitest.Case{
		{Args: []string{"--help"}, Code: 0, Stdout: "Usage: sysupdate"},
		{Args: []string{"--root=" + root, "frobnicate"}, Code: 1, Stderr: `sysupdate: unknown command "frobnicate"`},
		{Args: []string{"--root=" + root, "check-new", "3"}, Code: 1, Stderr: "sysupdate: too many arguments for check-new"},
		{Args: []string{"--root=" + root, "--instances-max=x", "list"}, Code: 1, Stderr: "sysupdate: "},
		{Args: []string{"--root=" + root, "--image=/x.raw", "list"}, Code: 1, Stderr: "--root= and --image= may not be combined"},
		{Args: []string{"--image=/x.raw", "--varlink"}, Code: 1, Stderr: "sysupdate: --image= cannot be combined with --varlink"},
		{Args: []string{"--root=" + root, "list"}, Code: 1, Stderr: "No transfer definitions found."},
		{Args: []string{"--root=" + root, "--json=short", "components"}, Code: 0, Stdout: `{"default":false,"components":[]}`},
	})
}
