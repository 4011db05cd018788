// Command steadctl controls stead's service manager, like systemctl: it lists units, shows
// their status and properties, starts, stops, restarts and reloads them and reloads the
// manager — over Varlink only. This file only maps the command line to
// services/steadctl.Options; see docs/steadctl.md.
package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/services/steadctl"
)

// Set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Usage: steadctl [OPTIONS…] COMMAND [UNIT…]

Query or control stead's service manager.

Unit commands:
  list-units [PATTERN…]    List loaded units (the default command)
  status UNIT…             Show the runtime status of units
  show UNIT…               Show properties of units
  is-active UNIT…          Check whether units are active
  is-failed UNIT…          Check whether units have failed
  start UNIT…              Start (activate) units
  stop UNIT…               Stop (deactivate) units
  restart UNIT…            Stop units if running, then start them
  reload UNIT…             Reload the configuration of running units
  isolate UNIT             Start a unit (a target if no suffix) and stop all others
                           it does not pull in (needs AllowIsolate=yes)
  list-jobs                List the manager's queued jobs
  list-timers [PATTERN…]   List timer units: next and last elapse
  list-fdstore UNIT        List the fds a service keeps in its fd store
  clean --what=fdstore UNIT…
                           Close the fds in the fd store of stopped services

Unit file commands:
  enable UNIT…|PATH…       Create the symlinks the units' [Install] sections ask for
  disable UNIT…            Remove the symlinks to the units
  reenable UNIT…           Disable, then enable units
  preset UNIT…             Enable or disable units as the preset files say
  preset-all               Apply the presets to every unit file
  is-enabled UNIT…         Check whether unit files are enabled
  mask UNIT…               Link units to /dev/null so they cannot be started
  unmask UNIT…             Remove the masks of units

Manager commands:
  daemon-reload            Re-read all unit files
  daemon-reexec            Execute the manager again, keeping its state
  soft-reboot              Stop every unit and start userspace again
  kexec                    Stop every unit and boot the kexec kernel
  poweroff, reboot, halt   Stop every unit and shut the machine down
                           (a host-mode manager exits)

Options:
  -h --help                Show this help and exit
     --version             Show the version and exit
  -a --all                 list-units, list-timers: include inactive units
  -p --property=NAME[,…]   show: only these properties
  -P NAME                  show: the value of one property (-p NAME --value)
     --value               show: print values only
     --json=pretty|short   Print JSON (--json alone means pretty)
     --job-mode=MODE       start & co: replace (default), fail, or isolate (start)
     --no-block            start & co: return once the job is queued
  -q --quiet               is-active, is-failed: print nothing
     --no-legend           list-units & co: no header, legend or count
     --what=fdstore        clean: what to remove (only fdstore is supported)
     --no-pager            Accepted; steadctl never pages
     --root=DIR            Talk to the manager whose sockets are under DIR; the
                           unit file commands change the tree under DIR
     --runtime             enable & co: change /run/systemd/system, not /etc
  -f --force               enable, mask: replace conflicting symlinks
     --now                 enable, reenable, unmask: also start; disable, mask: stop
     --no-reload           enable & co: do not ask the manager to reload
     --preset-mode=MODE    preset, preset-all: full, enable-only or disable-only
  -l --full                is-enabled: list the unit's symlinks

Unit names without a type suffix get ".service". See docs/steadctl.md.
`

func main() { daemon.RunTool(run) }

// run is steadctl with a command line and its output streams; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o steadctl.Options
	c := command(&o)
	c.SetOutput(stdout, stderr)
	words, code, ok := c.Args(args)
	if !ok {
		return code
	}
	verb, rest := split(words)
	o.Stdout, o.Stderr = stdout, stderr
	return steadctl.Run(ctx, o, verb, rest)
}

// parseArgs separates options (anywhere on the line, as systemctl allows) from the verb and
// its arguments. It returns cli.ErrHelp or cli.ErrVersion when those were asked for.
func parseArgs(args []string) (o steadctl.Options, verb string, rest []string, err error) {
	words, err := command(&o).Parse(args)
	if err != nil {
		return o, "", nil, err
	}
	verb, rest = split(words)
	return o, verb, rest, nil
}

// split takes the verb from the words that are not options; it defaults to list-units.
func split(words []string) (verb string, rest []string) {
	if len(words) == 0 {
		return "list-units", nil
	}
	return words[0], words[1:]
}

// command defines steadctl's options, which set o.
func command(o *steadctl.Options) *cli.Command {
	o.Root = "/"
	c := cli.New("steadctl", usage, version)
	// As systemctl's (getopt's no_argument), the switches take no value: --all=yes is an error.
	sw := func(p *bool, long string, short byte) { c.Var(noArg{p, long}, long, short) }
	sw(&o.All, "all", 'a')
	sw(&o.Value, "value", 0)
	sw(&o.NoBlock, "no-block", 0)
	sw(&o.Quiet, "quiet", 'q')
	sw(&o.NoLegend, "no-legend", 0)
	sw(new(bool), "no-pager", 0)
	sw(&o.Install.Full, "full", 'l')
	sw(&o.Install.Runtime, "runtime", 0)
	sw(&o.Install.Force, "force", 'f')
	sw(&o.Install.Now, "now", 0)
	sw(&o.Install.NoReload, "no-reload", 0)
	c.Func("preset-mode", 0, func(v string) error {
		switch v {
		case "full", "enable-only", "disable-only":
			o.Install.PresetMode = v
			return nil
		}
		return fmt.Errorf("unknown preset mode %q", v)
	})
	props := func(v string) error {
		for _, p := range strings.Split(v, ",") {
			if p != "" {
				o.Props = append(o.Props, p)
			}
		}
		return nil
	}
	c.Func("property", 'p', props)
	// -P NAME has no long form upstream; cli wants one, so it is "--P".
	c.Func("P", 'P', func(v string) error { o.Value = true; return props(v) })
	c.JSON(&o.JSON, "pretty")
	c.String(&o.Mode, "job-mode", 0)
	c.Func("what", 0, func(v string) error { o.What = append(o.What, v); return nil })
	c.String(&o.Root, "root", 0)
	return c
}

// noArg is a switch that takes no value, as getopt's no_argument options.
type noArg struct {
	p    *bool
	name string
}

func (n noArg) IsBoolFlag() bool { return true }
func (n noArg) String() string   { return "" }
func (n noArg) Set(v string) error {
	if v != "true" { // what cli passes for the bare switch
		return fmt.Errorf("option '--%s' doesn't allow an argument", n.name)
	}
	*n.p = true
	return nil
}
