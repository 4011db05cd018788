// Command networkd is stead's network daemon (systemd-networkd). For now it
// applies .network files, runs DHCPv4 clients and the DHCPv4 relay agent.
// See docs/networkd.md. This file only maps flags to services/networkd.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	steadlog "github.com/stead-os/stead/lib/log"
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
	o := networkd.Options{Version: version}
	fs := flag.NewFlagSet("networkd", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	var help, showVersion bool
	fs.BoolVar(&help, "help", false, "")
	fs.BoolVar(&help, "h", false, "")
	fs.BoolVar(&showVersion, "version", false, "")
	fs.StringVar(&o.Root, "root", "/", "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	switch {
	case help:
		fmt.Print(usage)
		return
	case showVersion:
		fmt.Println("networkd (stead)", version)
		return
	case fs.NArg() > 0:
		fmt.Fprintln(os.Stderr, "networkd: unexpected arguments")
		os.Exit(2)
	}
	log := steadlog.Setup("networkd")
	if err := networkd.Run(context.Background(), o, log); err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
}
