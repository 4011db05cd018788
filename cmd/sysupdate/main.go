// Command sysupdate is stead's systemd-sysupdate: it updates the OS (or a component) A/B
// style from sysupdate.d/*.transfer definitions, or serves io.systemd.SysUpdate. See
// docs/sysupdate.md. This file only maps the command line to services/sysupdate.Options.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/log"
	"github.com/stead-os/stead/services/sysupdate"
	"golang.org/x/sys/unix"
)

// Set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Usage: sysupdate [OPTION…] COMMAND …

Update OS images.

Commands:
  [list [VERSION]]          Show installed and available versions
  features [FEATURE]        Show optional features
  enable-feature FEATURE…   Enable optional feature
  disable-feature FEATURE…  Disable optional feature
  check-new                 Check if there's a new version available
  update [VERSION]          Install new version now
  acquire [VERSION]         Acquire (download and verify) new version now
  vacuum                    Make room, by deleting old versions
  pending                   Report whether a newer version is installed than
                            currently booted
  reboot                    Reboot if a newer version is installed than booted
  components                Show list of components

Options:
  -h --help                 Show this help
     --version              Show package version
  -C --component=NAME       Select component to update
     --definitions=DIR      Find transfer definitions in specified directory
     --root=PATH            Operate on an alternate filesystem root
     --image=PATH           Operate on disk image as filesystem root
     --transfer-source=PATH Specify the directory to transfer sources from
  -m --instances-max=INT    How many instances to maintain
     --sync=BOOL            Controls whether to sync data to disk (stead
                            always syncs)
     --verify=BOOL          Force signature verification on or off
     --reboot               Reboot after updating to newer version
     --offline              Do not fetch metadata from the network
     --no-pager             Do not start a pager (accepted; never pages)
     --no-legend            Do not show headers and footers
     --json=FORMAT          Generate JSON output (pretty, short, or off)

stead additions:
     --varlink              Serve io.systemd.SysUpdate (also when started on a
                            socket with $LISTEN_FDS)
     --exit-idle=SEC        Activated on a listening socket: exit after SEC
                            without clients

See docs/sysupdate.md.
`

func main() { daemon.RunTool(run) }

// run is sysupdate with a command line and its output streams; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := sysupdate.Options{Version: version, Stdout: stdout, Stderr: stderr}
	var serve, noPager bool
	sync := true
	idle := sysupdate.DefaultIdleExit
	c := cli.New("sysupdate", usage, version)
	c.SetOutput(stdout, stderr)
	c.String(&o.Component, "component", 'C')
	c.String(&o.Definitions, "definitions", 0)
	c.String(&o.Root, "root", 0)
	c.String(&o.Image, "image", 0)
	c.String(&o.TransferSource, "transfer-source", 0)
	c.Func("instances-max", 'm', func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("invalid --instances-max= value %q", v)
		}
		o.InstancesMax = n
		return nil
	})
	c.Func("sync", 0, func(v string) error {
		b, err := conf.ParseBool(v)
		sync = b
		return err
	})
	c.Func("verify", 0, func(v string) error {
		b, err := conf.ParseBool(v)
		o.Verify = &b
		return err
	})
	c.Bool(&o.Reboot, "reboot", 0)
	c.Bool(&o.Offline, "offline", 0)
	c.Bool(&noPager, "no-pager", 0)
	c.Bool(&o.NoLegend, "no-legend", 0)
	c.JSON(&o.JSON, "")
	c.Bool(&serve, "varlink", 0)
	c.Func("exit-idle", 0, func(v string) error {
		t, err := conf.ParseTimespan(v)
		idle = t
		return err
	})
	words, code, ok := c.Args(args)
	if !ok {
		return code
	}
	if !sync {
		fmt.Fprintln(stderr, "sysupdate: --sync=no is not supported: stead always syncs what it installs")
	}
	if serve || (len(words) == 0 && os.Getenv("LISTEN_FDS") != "") {
		if o.Image != "" {
			return c.Report(fmt.Errorf("--image= cannot be combined with --varlink"))
		}
		if o.Root == "" {
			o.Root = "/"
		}
		return sysupdate.Serve(ctx, o, idle)
	}
	o.Verb = "list"
	if len(words) > 0 {
		o.Verb, words = words[0], words[1:]
	}
	max, known := sysupdate.Verbs[o.Verb]
	if !known {
		return c.Report(fmt.Errorf("unknown command %q", o.Verb))
	}
	if len(words) > max {
		return c.Report(fmt.Errorf("too many arguments for %s", o.Verb))
	}
	o.Args = words
	o.Log = log.New(stderr, "sysupdate")
	if f, ok := stderr.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		o.Terminal = err == nil
	}
	return sysupdate.Main(ctx, o)
}
