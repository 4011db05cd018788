// Command steadctl controls stead's service manager, like systemctl: it
// lists units, shows their status and properties, starts, stops, restarts
// and reloads them and reloads the manager — over Varlink only
// (io.systemd.Unit, io.systemd.Manager and io.stead.Manager on
// /run/systemd/io.systemd.Manager). Listing and showing also work against
// upstream systemd 262. See docs/steadctl.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
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
  list-jobs                List the manager's queued jobs

Manager commands:
  daemon-reload            Re-read all unit files
  poweroff, reboot, halt   Stop every unit and shut the machine down
                           (a host-mode manager exits)

Options:
  -h --help                Show this help and exit
     --version             Show the version and exit
  -a --all                 list-units: include inactive units
  -p --property=NAME[,…]   show: only these properties
  -P NAME                  show: the value of one property (-p NAME --value)
     --value               show: print values only
     --json=pretty|short   Print JSON (--json alone means pretty)
     --job-mode=MODE       start & co: replace (default) or fail
     --no-block            start & co: return once the job is queued
  -q --quiet               is-active, is-failed: print nothing
     --no-legend           list-units: no header, legend or count
     --no-pager            Accepted; steadctl never pages
     --root=DIR            Talk to the manager whose sockets are under DIR

Unit names without a type suffix get ".service". See docs/steadctl.md.
`

// options are the command-line options.
type options struct {
	root     string
	all      bool
	props    []string
	value    bool
	json     string // "", "pretty" or "short"
	mode     string
	noBlock  bool
	quiet    bool
	noLegend bool
	help     bool
	version  bool
}

// parseArgs separates options (anywhere on the line, as systemctl allows)
// from the verb and its arguments.
func parseArgs(args []string) (o options, verb string, rest []string, err error) {
	o.root = "/"
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			words = append(words, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			words = append(words, a)
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		// value returns the option's argument: after "=" or the next word.
		value := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s needs an argument", name)
			}
			i++
			return args[i], nil
		}
		noValue := func() error {
			if hasVal {
				return fmt.Errorf("option %s takes no argument", name)
			}
			return nil
		}
		switch name {
		case "-h", "--help":
			o.help = true
		case "--version":
			o.version = true
		case "-a", "--all":
			err = noValue()
			o.all = true
		case "-p", "--property", "-P":
			var v string
			if v, err = value(); err == nil {
				for _, p := range strings.Split(v, ",") {
					if p != "" {
						o.props = append(o.props, p)
					}
				}
				if name == "-P" {
					o.value = true
				}
			}
		case "--value":
			err = noValue()
			o.value = true
		case "--json":
			o.json = "pretty"
			if hasVal {
				switch val {
				case "pretty", "short":
					o.json = val
				case "off":
					o.json = ""
				default:
					err = fmt.Errorf("unknown --json= mode %q", val)
				}
			}
		case "--job-mode":
			o.mode, err = value()
		case "--no-block":
			err = noValue()
			o.noBlock = true
		case "-q", "--quiet":
			o.quiet = true
		case "--no-legend":
			o.noLegend = true
		case "--no-pager", "-l", "--full":
		case "--root":
			o.root, err = value()
		default:
			err = fmt.Errorf("unknown option %s", a)
		}
		if err != nil {
			return o, "", nil, err
		}
	}
	verb = "list-units"
	if len(words) > 0 {
		verb, rest = words[0], words[1:]
	}
	return o, verb, rest, nil
}

func main() {
	o, verb, args, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "steadctl:", err)
		os.Exit(1)
	}
	if o.help {
		fmt.Print(usage)
		return
	}
	if o.version {
		fmt.Println("steadctl (stead)", version)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	x := &cli{opts: o, c: newClient(o.root), stdout: os.Stdout, stderr: os.Stderr, now: time.Now}
	code := x.run(ctx, verb, args)
	stop()
	os.Exit(code)
}
