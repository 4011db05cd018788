// Package networkctl is the logic of networkctl, stead's counterpart of systemd's networkctl:
// it lists links, shows their status and DHCPv4 leases, renews, reconfigures, brings links
// up or down and reloads networkd — asking networkd everything over io.systemd.Network
// through lib/api/iosystemdnetwork's client, never the kernel. cmd/networkctl maps the
// command line to Options. See docs/networkctl.md.
package networkctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Options are networkctl's settings.
type Options struct {
	Root   string    // networkd's socket is under Root
	JSON   string    // "" or "off" (text), "short" or "pretty"
	Stdout io.Writer // where the results go
}

// linkMethods are the io.systemd.Network.Link calls of the link verbs.
var linkMethods = map[string]func(*api.Client, context.Context, api.Selector) error{
	"renew":       (*api.Client).Renew,
	"reconfigure": (*api.Client).Reconfigure,
	"up":          (*api.Client).Up,
	"down":        (*api.Client).Down,
}

// check reports what is wrong with a command line's command and arguments (args[0] is the
// command; none means list), before anything is asked of networkd.
func check(args []string) error {
	if len(args) == 0 {
		return nil
	}
	need := 0
	switch args[0] {
	case "list", "status", "reload":
	case "dhcp-lease", "renew", "reconfigure", "up", "down":
		need = 1
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
	if len(args)-1 < need {
		return fmt.Errorf("%s needs an interface name", args[0])
	}
	return nil
}

// Run runs the command args[0] (list when args is empty) with its arguments.
func Run(ctx context.Context, o Options, args []string) error {
	if err := check(args); err != nil {
		return err
	}
	if len(args) == 0 {
		args = []string{"list"}
	}
	asJSON := o.JSON == "short" || o.JSON == "pretty"
	out := o.Stdout
	var buf bytes.Buffer
	if o.JSON == "pretty" {
		out = &buf
	}
	vc, err := varlinkd.Dial(ctx, api.SocketAddress(o.Root))
	if err != nil {
		return fmt.Errorf("connecting to networkd (is it running?): %w", err)
	}
	defer vc.Close()
	if err := run(ctx, api.NewClient(vc), out, args, asJSON); err != nil {
		return err
	}
	if o.JSON == "pretty" {
		var ind bytes.Buffer
		if json.Indent(&ind, buf.Bytes(), "", "  ") == nil {
			_, err = o.Stdout.Write(ind.Bytes())
		}
	}
	return err
}

func run(ctx context.Context, c *api.Client, out io.Writer, args []string, asJSON bool) error {
	switch args[0] {
	case "list", "status", "dhcp-lease":
		links, err := describeLinks(ctx, c)
		if err != nil {
			return err
		}
		pats := args[1:]
		if args[0] == "dhcp-lease" {
			pats = args[1:2]
		}
		sel, err := Select(links, pats)
		if err != nil {
			return err
		}
		switch args[0] {
		case "list":
			return WriteList(out, sel, asJSON)
		case "status":
			summary := len(args) == 1
			st, err := c.GetStates(ctx)
			if err != nil {
				return err
			}
			return WriteStatus(out, sel, &st, summary, asJSON)
		}
		r, err := LeaseReportOf(sel[0], args[2:])
		if err != nil {
			return err
		}
		return WriteLease(out, r, asJSON)
	case "reload":
		return c.Reload(ctx)
	}
	for _, l := range args[1:] {
		if err := linkMethods[args[0]](c, ctx, api.ByName(l)); err != nil {
			return fmt.Errorf("%s %s: %w", args[0], l, err)
		}
	}
	return nil
}

// describeLinks describes every link (io.systemd.Network.Describe), ordered by index.
func describeLinks(ctx context.Context, c *api.Client) ([]api.Interface, error) {
	r, err := c.Describe(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(r.Interfaces, func(i, j int) bool { return r.Interfaces[i].Index < r.Interfaces[j].Index })
	return r.Interfaces, nil
}
