// Command fstab-generator is stead's systemd-fstab-generator: a systemd generator that turns
// /etc/fstab into mount and swap units for init. See docs/fstab-generator.md. This file only
// maps arguments to services/fstabgen.Options.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/stead-os/stead/lib/cli"
	steadlog "github.com/stead-os/stead/lib/log"
	"github.com/stead-os/stead/services/fstabgen"
)

// Set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Usage: fstab-generator NORMAL-DIR [EARLY-DIR LATE-DIR]

systemd generator: writes mount and swap units for the entries of /etc/fstab
($SYSTEMD_FSTAB overrides the file) into NORMAL-DIR. fstab=no on the kernel
command line turns it off. See docs/fstab-generator.md.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the generator with a command line and its output streams; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	log := steadlog.NewTool(stderr, "fstab-generator")
	c := cli.New("fstab-generator", usage, version)
	c.SetOutput(stdout, stderr)
	dirs, code, ok := c.Args(args)
	if !ok {
		return code
	}
	if len(dirs) != 1 && len(dirs) != 3 {
		fmt.Fprint(stderr, usage)
		return cli.ExitFailure
	}
	o := fstabgen.Options{Fstab: os.Getenv("SYSTEMD_FSTAB"), Dir: dirs[0], Log: log}
	if err := fstabgen.Run(o); err != nil {
		log.Error("generator failed", "err", err)
		return cli.ExitFailure
	}
	return cli.ExitSuccess
}
