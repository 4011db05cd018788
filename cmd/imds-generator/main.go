// Command imds-generator is stead's systemd-imds-generator: a systemd generator that pulls in
// the cloud metadata units (imdsd socket, early network, optionally the import) when the
// machine is recognised as a cloud instance or the kernel command line asks for it. See
// docs/imds-generator.md. This file only maps arguments to services/imdsgen.Options.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/stead-os/stead/lib/cli"
	steadlog "github.com/stead-os/stead/lib/log"
	"github.com/stead-os/stead/services/imdsgen"
)

// Set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Usage: imds-generator [--root=DIR] NORMAL-DIR [EARLY-DIR LATE-DIR]

systemd generator: pulls in the cloud instance metadata units. Links and drop-ins
are written to EARLY-DIR (NORMAL-DIR when only one directory is given).
See docs/imds-generator.md.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the generator with a command line and its output streams; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	log := steadlog.NewTool(stderr, "imds-generator")
	o := imdsgen.Options{Root: "/", Log: log}
	c := cli.New("imds-generator", usage, version)
	c.SetOutput(stdout, stderr)
	c.String(&o.Root, "root", 0)
	dirs, code, ok := c.Args(args)
	if !ok {
		return code
	}
	switch len(dirs) {
	case 1:
		o.Dir = dirs[0]
	case 3:
		o.Dir = dirs[1]
	default:
		fmt.Fprint(stderr, usage)
		return cli.ExitFailure
	}
	if _, err := imdsgen.Run(o); err != nil {
		log.Error("generator failed", "err", err)
		return cli.ExitFailure
	}
	return cli.ExitSuccess
}
