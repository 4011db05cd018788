// Command oomd is stead's userspace OOM killer (systemd-oomd). See docs/oomd.md. This file
// only maps flags (lib/cli) to services/oomd.
package main

import (
	"errors"
	"os"

	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/services/oomd"
)

var version = "dev"

const usage = `Usage: oomd [OPTION…]

Run the userspace out-of-memory (OOM) killer.

Options:
  -h --help        Show this help and exit
     --version     Show the version and exit
  -n --dry-run     Only log what would be killed

stead additions:
     --root=DIR    Resolve every path under DIR

See docs/oomd.md.
`

func main() {
	o := oomd.Options{Root: "/", Version: version}
	c := cli.New("oomd", usage, version)
	c.String(&o.Root, "root", 0)
	c.Bool(&o.DryRun, "dry-run", 'n')
	if args := c.ParseOrExit(os.Args[1:]); len(args) > 0 {
		c.Fail(errors.New("unexpected arguments"))
	}
	os.Exit(oomd.Main(o))
}
