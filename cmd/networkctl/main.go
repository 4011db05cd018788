// Command networkctl queries and controls stead's networkd (systemd's networkctl) over its
// io.systemd.Network Varlink interface. See docs/networkctl.md. This file only maps the
// command line to services/networkctl.Options.
package main

import (
	"context"
	"io"
	"time"

	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/services/networkctl"
)

// Set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Usage: networkctl [OPTION…] COMMAND …

Query and control networkd.

Commands:
  list [PATTERN…]            List links
  status [PATTERN…]          Show the system's or the links' status
  dhcp-lease LINK [CODE[:TYPE]…]
                             Show the DHCPv4 lease of a link (all options, or the
                             listed ones decoded as uint8, uint16, uint32,
                             ipv4address or string)
  renew LINK…                Renew the DHCPv4 leases of links
  reconfigure LINK…          Apply the configuration to links again
  up LINK…, down LINK…       Bring links up or down
  reload                     Reload .network files and reconfigure links

Options:
  -h --help                  Show this help and exit
     --version               Show the version and exit
     --json=pretty|short|off Print JSON
     --root=DIR              Talk to the networkd whose root is DIR

See docs/networkctl.md.
`

func main() { daemon.RunTool(run) }

// run is networkctl with a command line and its output streams; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := networkctl.Options{Root: "/", Stdout: stdout}
	c := cli.New("networkctl", usage, version)
	c.SetOutput(stdout, stderr)
	c.String(&o.Root, "root", 0)
	c.JSON(&o.JSON, "")
	words, code, ok := c.Args(args)
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := networkctl.Run(ctx, o, words); err != nil {
		return c.Report(err)
	}
	return cli.ExitSuccess
}
