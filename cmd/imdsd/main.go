// Command imdsd brokers access to the cloud's instance metadata service: it serves
// io.systemd.InstanceMetadata on /run/systemd/io.systemd.InstanceMetadata, prints one value
// when given a key, or writes the early network configuration with --setup-network. See
// docs/imdsd.md. This file only maps flags (lib/cli) to services/imdsd.Options.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/services/imdsd"
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
	o := imdsd.Options{Root: "/", Version: version, DefaultNetworkMode: defaultIMDSNetwork, IdleExit: imdsd.DefaultIdleExit}
	c := command(&o)
	switch args := c.ParseOrExit(os.Args[1:]); len(args) {
	case 0:
	case 1:
		o.Key = args[0]
	default:
		c.Fail(errors.New("at most one KEY expected"))
	}
	os.Exit(imdsd.Main(context.Background(), o))
}

// command defines imdsd's options, upstream's and ours, on o.
func command(o *imdsd.Options) *cli.Command {
	c := cli.New("imdsd", usage, version)
	c.String(&o.Root, "root", 0)
	for _, n := range []string{"vendor", "token-url", "refresh-header-name", "data-url", "data-url-suffix",
		"token-header-name", "extra-header", "address-ipv4", "address-ipv6"} {
		c.Func(n, 0, func(v string) error { return o.Endpoint.Set(n, v) })
	}
	c.Func("well-known-key", 0, o.Endpoint.SetWellKnownKey)

	c.String(&o.Interface, "interface", 'i')
	c.String(&o.WellKnown, "well-known", 'K')
	c.Bool(&o.SetupNetwork, "setup-network", 0)
	c.Func("refresh", 0, timespan(&o.Refresh))
	c.Func("fwmark", 0, func(v string) error {
		m, err := imdsd.ParseFirewallMark(v)
		o.FirewallMark = &m
		return err
	})
	c.Func("cache", 0, func(v string) error {
		b, err := conf.ParseBool(v)
		o.NoCache = !b
		return err
	})
	c.Func("wait", 0, func(v string) error {
		b, err := conf.ParseBool(v)
		o.Wait = b
		return err
	})
	c.Var(waitYes{&o.Wait}, "w", 'w') // upstream has -w alone; lib/cli names every option

	c.Func("exit-idle", 0, timespan(&o.IdleExit))
	c.Func("request-timeout", 0, timespan(&o.Timing.Timeout))
	c.Func("scan-timeout", 0, timespan(&o.Timing.TimeoutScan))
	c.Func("retry-initial", 0, timespan(&o.Timing.RetryInitial))
	c.Func("retry-max", 0, timespan(&o.Timing.RetryMax))
	c.Func("retries", 0, func(v string) error {
		n, err := strconv.Atoi(v)
		if err == nil && n < 1 {
			err = fmt.Errorf("want at least 1")
		}
		o.Timing.Retries = n
		return err
	})

	return c
}

// timespan parses a systemd time span ("20ms", "1min 30s", a bare number of seconds) into d.
func timespan(d *time.Duration) func(string) error {
	return func(v string) error {
		t, err := conf.ParseTimespan(v)
		*d = t
		return err
	}
}

// waitYes is -w, "same as --wait=yes": a boolean option that only ever turns waiting on.
type waitYes struct{ p *bool }

func (w waitYes) IsBoolFlag() bool { return true }
func (w waitYes) String() string   { return "" }
func (w waitYes) Set(v string) error {
	b, err := conf.ParseBool(v)
	if b {
		*w.p = true
	}
	return err
}
