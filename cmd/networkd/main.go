// Command networkd is stead's network daemon (systemd-networkd). For now it
// applies .network files, runs DHCPv4 clients and the DHCPv4 relay agent.
// See docs/networkd.md. This file only maps flags (lib/cli) to services/networkd.
package main

import (
	"errors"
	"os"

	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/services/networkd"
)

var version = "dev"

const usage = `Usage: networkd [OPTION…]

Configure network links: static settings, the DHCPv4 client and the DHCPv4 relay agent.

Options:
  -h --help        Show this help and exit
     --version     Show the version and exit
     --root=DIR    Resolve every path under DIR

See docs/networkd.md.
`

func main() {
	o := networkd.Options{Root: "/", Version: version}
	c := cli.New("networkd", usage, version)
	c.String(&o.Root, "root", 0)
	if args := c.ParseOrExit(os.Args[1:]); len(args) > 0 {
		c.Fail(errors.New("unexpected arguments"))
	}
	os.Exit(networkd.Main(o))
}
