// Command networkd-wait-online blocks until the network is online
// (systemd-networkd-wait-online), asking stead's networkd over io.systemd.Network. See
// docs/networkd-wait-online.md. This file only maps the command line to
// services/waitonline.Options.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/services/waitonline"
)

// Set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Usage: networkd-wait-online [OPTION…]

Block until the network is configured.

Options:
  -h --help                          Show this help and exit
     --version                       Show the version and exit
  -q --quiet                         Do not show status information
  -i --interface=IFNAME[:MIN[:MAX]]  Wait for these interfaces, in the operational
                                     state between MIN and MAX (repeatable)
     --ignore=IFNAME                 Leave these interfaces out (repeatable)
  -o --operational-state=MIN[:MAX]   Require an operational state between MIN and MAX
  -4 --ipv4                          Require an IPv4 address
  -6 --ipv6                          Require an IPv6 address
     --any                           Wait for one of the interfaces only
     --timeout=TIME                  Give up after TIME (seconds, or a time span such as
                                     5s or 1min; default 120; 0 or infinity: never)
     --root=DIR                      Ask the networkd whose root is DIR

See docs/networkd-wait-online.md.
`

func main() { daemon.RunTool(run) }

// run is networkd-wait-online with a command line and its output streams; it returns the
// exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, quiet, c, code := parse(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if !quiet {
		o.Progress = func(s string) { fmt.Fprintln(stderr, "networkd-wait-online:", s) }
	}
	if err := waitonline.Run(ctx, o); err != nil {
		return c.Report(err)
	}
	return cli.ExitSuccess
}

// parse reads the command line into Options; a code of 0 or more means it is done (help,
// version, a usage error) and run returns it.
func parse(args []string, stdout, stderr io.Writer) (o waitonline.Options, quiet bool, c *cli.Command, code int) {
	o = waitonline.Options{Root: "/", Interfaces: map[string]api.OperRange{}, Ignore: map[string]bool{}}
	c = cli.New("networkd-wait-online", usage, version)
	c.SetOutput(stdout, stderr)
	timeout := "120"
	c.Bool(&quiet, "quiet", 'q')
	c.Func("interface", 'i', func(v string) error {
		name, rng, _ := strings.Cut(v, ":")
		var r api.OperRange
		if rng != "" {
			var err error
			if r, err = waitonline.ParseOperRange(rng); err != nil {
				return err
			}
		}
		o.Interfaces[name] = r
		return nil
	})
	c.Func("ignore", 0, func(v string) error { o.Ignore[v] = true; return nil })
	c.Func("operational-state", 'o', func(v string) (err error) {
		o.Oper, err = waitonline.ParseOperRange(v)
		return err
	})
	c.Bool(&o.IPv4, "ipv4", '4')
	c.Bool(&o.IPv6, "ipv6", '6')
	c.Bool(&o.Any, "any", 0)
	c.String(&timeout, "timeout", 0)
	c.String(&o.Root, "root", 0)
	rest, code, ok := c.Args(args)
	switch {
	case !ok:
		return o, quiet, c, code
	case len(rest) > 0:
		return o, quiet, c, c.Report(errors.New("unexpected arguments"))
	}
	// A time span as upstream takes it: "30", "5s", "1min 30s", "infinity"; 0 or infinity
	// waits for ever.
	d, err := conf.ParseTimespan(timeout)
	if err != nil {
		return o, quiet, c, c.Report(fmt.Errorf("invalid --timeout=%q: %w", timeout, err))
	}
	if d == conf.Infinity {
		d = 0
	}
	o.Timeout = d
	return o, quiet, c, -1
}
