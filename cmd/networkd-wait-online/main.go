// Command networkd-wait-online blocks until the network is online
// (systemd-networkd-wait-online), asking stead's networkd over
// io.systemd.Network. See docs/networkd-wait-online.md. This file only maps
// flags to services/networkd.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/services/networkd"
)

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

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	fs := flag.NewFlagSet("networkd-wait-online", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	var help, showVersion, quiet bool
	var ifaces, ignore listFlag
	var oper, timeout string
	o := networkd.WaitOptions{Interfaces: map[string]networkd.OperRange{}, Ignore: map[string]bool{}}
	fs.BoolVar(&help, "help", false, "")
	fs.BoolVar(&help, "h", false, "")
	fs.BoolVar(&showVersion, "version", false, "")
	fs.BoolVar(&quiet, "quiet", false, "")
	fs.BoolVar(&quiet, "q", false, "")
	fs.Var(&ifaces, "interface", "")
	fs.Var(&ifaces, "i", "")
	fs.Var(&ignore, "ignore", "")
	fs.StringVar(&oper, "operational-state", "", "")
	fs.StringVar(&oper, "o", "", "")
	fs.BoolVar(&o.IPv4, "ipv4", false, "")
	fs.BoolVar(&o.IPv4, "4", false, "")
	fs.BoolVar(&o.IPv6, "ipv6", false, "")
	fs.BoolVar(&o.IPv6, "6", false, "")
	fs.BoolVar(&o.Any, "any", false, "")
	fs.StringVar(&timeout, "timeout", "120", "")
	fs.StringVar(&o.Root, "root", "/", "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	switch {
	case help:
		fmt.Print(usage)
		return
	case showVersion:
		fmt.Println("networkd-wait-online (stead)", version)
		return
	case fs.NArg() > 0:
		fail(2, errors.New("unexpected arguments"))
	}
	for _, i := range ifaces {
		name, rng, _ := strings.Cut(i, ":")
		var r networkd.OperRange
		if rng != "" {
			var err error
			if r, err = networkd.ParseOperRangeArg(rng); err != nil {
				fail(2, err)
			}
		}
		o.Interfaces[name] = r
	}
	for _, i := range ignore {
		o.Ignore[i] = true
	}
	if oper != "" {
		r, err := networkd.ParseOperRangeArg(oper)
		if err != nil {
			fail(2, err)
		}
		o.Oper = r
	}
	// A time span as upstream takes it: "30", "5s", "1min 30s", "infinity"; 0 or infinity
	// waits for ever.
	d, err := conf.ParseTimespan(timeout)
	if err != nil {
		fail(2, fmt.Errorf("invalid --timeout=%q: %w", timeout, err))
	}
	if d == conf.Infinity {
		d = 0
	}
	o.Timeout = d
	if !quiet {
		o.Progress = func(s string) { fmt.Fprintln(os.Stderr, "networkd-wait-online:", s) }
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := networkd.WaitOnline(ctx, o); err != nil {
		fail(1, err)
	}
}

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, "networkd-wait-online:", err)
	os.Exit(code)
}
