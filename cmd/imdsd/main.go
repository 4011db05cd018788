// Command imdsd brokers access to the cloud's instance metadata service: it serves
// io.systemd.InstanceMetadata on /run/systemd/io.systemd.InstanceMetadata, prints one value
// when given a key, or writes the early network configuration with --setup-network. See
// docs/imdsd.md. This file only maps flags to services/imds.Options.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/services/imds"
)

// Set at build time with -ldflags "-X main.version=… -X main.defaultIMDSNetwork=locked".
var (
	version            = "dev"
	defaultIMDSNetwork = "unlocked"
)

const usage = `Usage: imdsd [OPTION…] [KEY]

Fetch cloud instance metadata (IMDS). Without KEY or -K, serve
io.systemd.InstanceMetadata over Varlink; with one, print that value and exit.

Options:
  -h --help                       Show this help and exit
     --version                    Show the version and exit
  -i --interface=INTERFACE        Send requests through this interface only
     --refresh=SEC                Maximum age of cached values and token lifetime
     --fwmark=INTEGER             Firewall mark for requests (empty: none)
     --cache=BOOL                 Whether cached values may be used
     --wait=BOOL                  Whether to wait for network interfaces
  -w                              Same as --wait=yes
  -K --well-known=NAME            Print this well-known value (hostname, region, …)
     --setup-network              Write the early network and resolver configuration

Endpoint (instead of the automatic detection):
     --vendor=VENDOR              Name of the cloud
     --token-url=URL              Where to PUT for a session token
     --refresh-header-name=NAME   Token request header carrying the lifetime
     --data-url=URL               URL the keys are appended to
     --data-url-suffix=STRING     Text appended after the key
     --token-header-name=NAME     Data request header carrying the token
     --extra-header='NAME: VALUE' Header added to data requests (repeatable)
     --address-ipv4=ADDRESS       IPv4 address of the metadata service
     --address-ipv6=ADDRESS       IPv6 address of the metadata service
     --well-known-key=NAME:KEY    Path of a well-known value (repeatable)

stead additions:
     --root=DIR                   Resolve every path under DIR
     --exit-idle=SEC              Socket-activated: exit after SEC without clients
     --request-timeout=SEC        Deadline of a request on a known interface (40s)
     --scan-timeout=SEC           Deadline of a request that searches interfaces (45s)
     --retry-initial=SEC          First pause between retries, then doubled (20ms)
     --retry-max=SEC              Longest pause between retries (3s)
     --retries=N                  Retries after transient failures (10)

See docs/imdsd.md.
`

func main() {
	o := imds.Options{Version: version, DefaultNetworkMode: defaultIMDSNetwork, IdleExit: imds.DefaultIdleExit}
	fs := flag.NewFlagSet("imdsd", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(os.Stderr, "See 'imdsd --help'.") }
	var showVersion, help bool
	fs.BoolVar(&help, "help", false, "")
	fs.BoolVar(&help, "h", false, "")
	fs.BoolVar(&showVersion, "version", false, "")
	fs.StringVar(&o.Root, "root", "/", "")

	str := func(name string) {
		fs.Func(name, "", func(v string) error { return o.Endpoint.Set(name, v) })
	}
	for _, n := range []string{"vendor", "token-url", "refresh-header-name", "data-url", "data-url-suffix",
		"token-header-name", "extra-header", "address-ipv4", "address-ipv6"} {
		str(n)
	}
	fs.Func("well-known-key", "", o.Endpoint.SetWellKnownKey)

	fs.StringVar(&o.Interface, "interface", "", "")
	fs.StringVar(&o.Interface, "i", "", "")
	fs.StringVar(&o.WellKnown, "well-known", "", "")
	fs.StringVar(&o.WellKnown, "K", "", "")
	fs.BoolVar(&o.SetupNetwork, "setup-network", false, "")
	fs.Func("refresh", "", timespan(&o.Refresh))
	fs.Func("fwmark", "", func(v string) error {
		m, err := imds.ParseFirewallMark(v)
		o.FirewallMark = &m
		return err
	})
	fs.Func("cache", "", func(v string) error {
		b, err := conf.ParseBool(v)
		o.NoCache = !b
		return err
	})
	fs.Func("wait", "", func(v string) error {
		b, err := conf.ParseBool(v)
		o.Wait = b
		return err
	})
	fs.BoolFunc("w", "", func(string) error { o.Wait = true; return nil })

	fs.Func("exit-idle", "", timespan(&o.IdleExit))
	fs.Func("request-timeout", "", timespan(&o.Timing.Timeout))
	fs.Func("scan-timeout", "", timespan(&o.Timing.TimeoutScan))
	fs.Func("retry-initial", "", timespan(&o.Timing.RetryInitial))
	fs.Func("retry-max", "", timespan(&o.Timing.RetryMax))
	fs.Func("retries", "", func(v string) error {
		n, err := strconv.Atoi(v)
		if err == nil && n < 1 {
			err = fmt.Errorf("want at least 1")
		}
		o.Timing.Retries = n
		return err
	})

	// Options may follow the key, as with getopt.
	var args []string
	rest := os.Args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			os.Exit(imds.ExitFailure)
		}
		if fs.NArg() == 0 {
			break
		}
		args = append(args, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if help {
		fmt.Print(usage)
		return
	}
	if showVersion {
		fmt.Printf("stead imdsd %s\n", version)
		return
	}
	if len(args) > 1 {
		fmt.Fprintln(os.Stderr, "imdsd: at most one KEY expected")
		os.Exit(imds.ExitFailure)
	}
	if len(args) == 1 {
		o.Key = args[0]
	}
	os.Exit(imds.Main(context.Background(), o))
}

// timespan parses a systemd time span ("20ms", "1min 30s", a bare number of seconds) into d.
func timespan(d *time.Duration) func(string) error {
	return func(v string) error {
		t, err := conf.ParseTimespan(v)
		*d = t
		return err
	}
}
