// Command networkctl shows the state of network links (systemd's
// networkctl). This version works without the daemon: it reads the links
// of its network namespace, the .network files and the saved DHCP leases.
// See docs/networkctl.md. This file only maps arguments to services/networkd.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/stead-os/stead/services/networkd"
)

var version = "dev"

const usage = `Usage: networkctl [OPTION…] COMMAND

Query the status of network links.

Commands:
  list                       List links
  dhcp-lease LINK [CODE[:TYPE]…]
                             Show the DHCPv4 lease of a link (all options, or the
                             listed ones decoded as uint8, uint16, uint32,
                             ipv4address or string)

Options:
  -h --help                  Show this help and exit
     --version               Show the version and exit
     --json=pretty|short|off Print JSON
     --root=DIR              Resolve every path under DIR

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
	var out io.Writer = os.Stdout
	var buf bytes.Buffer
	if jsonMode == "pretty" {
		out = &buf
		defer func() {
			var ind bytes.Buffer
			if json.Indent(&ind, buf.Bytes(), "", "  ") == nil {
				os.Stdout.Write(ind.Bytes())
			}
		}()
	}
	args := fs.Args()
	if len(args) == 0 {
		args = []string{"list"}
	}
	switch args[0] {
	case "list":
		rows, err := networkd.ListLinks(root)
		if err != nil {
			fail(1, err)
		}
		if err := networkd.WriteList(out, rows, asJSON); err != nil {
			fail(1, err)
		}
	case "dhcp-lease":
		if len(args) < 2 {
			fail(2, fmt.Errorf("dhcp-lease needs an interface name"))
		}
		r, err := networkd.LeaseReportFor(root, args[1], args[2:])
		if err != nil {
			fail(1, err)
		}
		if err := networkd.WriteLease(out, r, asJSON); err != nil {
			fail(1, err)
		}
	default:
		fail(2, fmt.Errorf("unknown command %q", args[0]))
	}
}

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, "networkctl:", err)
	os.Exit(code)
}
