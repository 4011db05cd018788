// Command imds is stead's systemd-imds: it prints a summary of the cloud instance metadata,
// single values and the user data, and imports them into credentials (--import), asking
// imdsd over io.systemd.InstanceMetadata. See docs/imds.md. This file only maps flags to
// services/imds.Options.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/daemon"
	steadlog "github.com/stead-os/stead/lib/log"
	"github.com/stead-os/stead/services/imds"
)

// Set at build time with -ldflags "-X main.version=… -X main.imdsdPath=…".
var (
	version   = "dev"
	imdsdPath = imds.DefaultImdsdPath
)

const usage = `Usage: imds [OPTION…] [KEY]

Show cloud instance metadata, fetched through imdsd.
Without arguments, print a summary of the instance; started by the service manager
with a socket (systemd-imds-metrics.socket), serve io.systemd.Metrics on it.

Options:
  -h --help             Show this help and exit
     --version          Show the version and exit
  -K --well-known=NAME  Print a well-known value ('help' lists the names);
                        with 'base' or 'userdata-base', KEY is appended
  -u --userdata         Print the user data
     --import           Store host name, SSH key and user data credentials in
                        /run/credstore and the public addresses as resolver records
     --refresh=SEC      Accept cached values up to this age
     --cache=BOOL       Whether cached values may be used at all
     --json=MODE        Print JSON: short, pretty or off
     --root=DIR         Resolve every path under DIR

See docs/imds.md.
`

func main() { daemon.RunTool(run) }

// run is imds with a command line and its output streams; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	log := steadlog.NewTool(stderr, "imds")
	o := imds.Options{Root: "/", Stdout: stdout, Stderr: stderr, Log: log, ImdsdPath: imdsdPath}
	if p := os.Getenv(imds.EnvImdsdPath); p != "" {
		o.ImdsdPath = p
	}
	c := cli.New("imds", usage, version)
	c.SetOutput(stdout, stderr)
	var userdataFlag, importFlag bool
	c.Bool(&userdataFlag, "userdata", 'u')
	c.Bool(&importFlag, "import", 0)
	c.String(&o.WellKnown, "well-known", 'K')
	c.String(&o.Root, "root", 0)
	c.JSON(&o.JSON, "short")
	c.Func("refresh", 0, func(v string) error {
		d, err := conf.ParseTimespan(v)
		o.Refresh = d
		return err
	})
	c.Func("cache", 0, func(v string) error {
		b, err := conf.ParseBool(v)
		o.Cache = &b
		return err
	})
	pos, code, ok := c.Args(args)
	if !ok {
		return code
	}
	if o.WellKnown == "help" {
		fmt.Fprintln(stdout, strings.Join(imds.WellKnown, "\n"))
		return 0
	}
	if len(pos) == 0 && len(args) == 0 && os.Getenv("LISTEN_FDS") != "" {
		return imds.ServeMetrics(ctx, o, version)
	}
	if len(pos) > 1 {
		return c.Report(errors.New("at most one KEY may be given"))
	}
	if len(pos) == 1 {
		o.Key = pos[0]
	}
	n := 0
	for _, b := range []bool{userdataFlag, importFlag, o.WellKnown != "" || o.Key != ""} {
		if b {
			n++
		}
	}
	if n > 1 {
		return c.Report(errors.New("--userdata, --import and -K/KEY exclude each other"))
	}
	switch {
	case userdataFlag:
		o.Action = imds.Userdata
	case importFlag:
		o.Action = imds.Import
	case o.WellKnown != "" || o.Key != "":
		o.Action = imds.Lookup
	}
	err := imds.Run(ctx, o)
	var ee *imds.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		fmt.Fprintln(stderr, ee.Msg)
		return ee.Code
	default:
		fmt.Fprintf(stderr, "imds: %v\n", err)
		return 1
	}
}
