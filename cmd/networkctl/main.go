// Command networkctl queries and controls stead's networkd (systemd's
// networkctl) over its io.systemd.Network Varlink interface. See
// docs/networkctl.md. This file only maps arguments to services/networkd.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/stead-os/stead/services/networkd"
)

var version = "dev"

const usage = `Usage: networkctl [OPTION…] COMMAND …

Query and control networkd.

Commands:
  list [PATTERN…]            List links
  status [PATTERN…]          Show the system's or the links' status
  dhcp-lease LINK [CODE[:TYPE]…]
                             Show the DHCPv4 lease of a link (all options, or the
                             listed ones decoded as uint8, uint16, uint32,
                             ipv4address or string)
  renew LINK…                Renew the DHCPv4 leases of links
  reconfigure LINK…          Apply the configuration to links again
  up LINK…, down LINK…       Bring links up or down
  reload                     Reload .network files and reconfigure links

Options:
  -h --help                  Show this help and exit
     --version               Show the version and exit
     --json=pretty|short|off Print JSON
     --root=DIR              Talk to the networkd whose root is DIR

See docs/networkctl.md.
`

func main() {
	fs := flag.NewFlagSet("networkctl", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	var help, showVersion bool
	var root, jsonMode string
	fs.BoolVar(&help, "help", false, "")
	fs.BoolVar(&help, "h", false, "")
	fs.BoolVar(&showVersion, "version", false, "")
	fs.StringVar(&root, "root", "/", "")
	fs.StringVar(&jsonMode, "json", "off", "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if help {
		fmt.Print(usage)
		return
	}
	if showVersion {
		fmt.Println("networkctl (stead)", version)
		return
	}
	asJSON := false
	switch jsonMode {
	case "off":
	case "pretty", "short":
		asJSON = true
	default:
		fail(2, fmt.Errorf("unknown --json= mode %q", jsonMode))
	}
	args := fs.Args()
	if len(args) == 0 {
		args = []string{"list"}
	}
	var need int
	switch args[0] {
	case "list", "status", "reload":
	case "dhcp-lease", "renew", "reconfigure", "up", "down":
		need = 1
	default:
		fail(2, fmt.Errorf("unknown command %q", args[0]))
	}
	if len(args)-1 < need {
		fail(2, fmt.Errorf("%s needs an interface name", args[0]))
	}
	var out io.Writer = os.Stdout
	var buf bytes.Buffer
	if jsonMode == "pretty" {
		out = &buf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ctl, err := networkd.DialNetworkd(ctx, root)
	if err != nil {
		fail(1, err)
	}
	defer ctl.Close()
	if err := run(ctx, ctl, out, args, asJSON); err != nil {
		fail(1, err)
	}
	if jsonMode == "pretty" {
		var ind bytes.Buffer
		if json.Indent(&ind, buf.Bytes(), "", "  ") == nil {
			os.Stdout.Write(ind.Bytes())
		}
	}
}

func run(ctx context.Context, ctl *networkd.Ctl, out io.Writer, args []string, asJSON bool) error {
	switch args[0] {
	case "list", "status", "dhcp-lease":
		links, err := ctl.Links(ctx)
		if err != nil {
			return err
		}
		pats := args[1:]
		if args[0] == "dhcp-lease" {
			pats = args[1:2]
		}
		sel, err := networkd.Select(links, pats)
		if err != nil {
			return err
		}
		switch args[0] {
		case "list":
			return networkd.WriteList(out, sel, asJSON)
		case "status":
			summary := len(args) == 1
			st, err := ctl.States(ctx)
			if err != nil {
				return err
			}
			return networkd.WriteStatus(out, sel, st, summary, asJSON)
		}
		r, err := networkd.LeaseReportOf(sel[0], args[2:])
		if err != nil {
			return err
		}
		return networkd.WriteLease(out, r, asJSON)
	case "reload":
		return ctl.Reload(ctx)
	}
	method := map[string]string{"renew": "Renew", "reconfigure": "Reconfigure", "up": "Up", "down": "Down"}[args[0]]
	for _, l := range args[1:] {
		if err := ctl.LinkCall(ctx, method, l); err != nil {
			return fmt.Errorf("%s %s: %w", args[0], l, err)
		}
	}
	return nil
}

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, "networkctl:", err)
	os.Exit(code)
}
