// Command oomctl shows the state of stead's oomd (systemd's oomctl) over Varlink. See
// docs/oomctl.md. This file only maps the command line to services/oomctl.Options.
package main

import (
	"context"
	"io"
	"time"

	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/services/oomctl"
)

// Set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Usage: oomctl [OPTION…] COMMAND …

Inspect the userspace OOM killer.

Commands:
  [dump]                     Show the current state of oomd

Options:
  -h --help                  Show this help and exit
     --version               Show the version and exit
     --no-pager              Do not start a pager (accepted; oomctl never pages)

stead additions:
     --json=pretty|short|off Print JSON (io.stead.oom.Describe's reply)
     --root=DIR              Talk to the oomd whose root is DIR

See docs/oomctl.md.
`

func main() { daemon.RunTool(run) }

// run is oomctl with a command line and its output streams; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := oomctl.Options{Root: "/", Stdout: stdout}
	var noPager bool
	c := cli.New("oomctl", usage, version)
	c.SetOutput(stdout, stderr)
	c.String(&o.Root, "root", 0)
	c.Bool(&noPager, "no-pager", 0)
	c.JSON(&o.JSON, "")
	words, code, ok := c.Args(args)
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := oomctl.Run(ctx, o, words); err != nil {
		return c.Report(err)
	}
	return cli.ExitSuccess
}
