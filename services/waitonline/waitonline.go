// Package waitonline is the logic of networkd-wait-online, stead's
// systemd-networkd-wait-online: it polls networkd over io.systemd.Network, through
// lib/api/iosystemdnetwork's client, until the links are online as upstream decides it.
// cmd/networkd-wait-online maps the command line to Options. See
// docs/networkd-wait-online.md.
package waitonline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Options are networkd-wait-online's settings (upstream's flags). An OperRange with an empty
// Min means "the link's own RequiredForOnline= range" (degraded:routable unless its file
// says otherwise).
type Options struct {
	Root       string
	Interfaces map[string]api.OperRange // -i NAME[:MIN[:MAX]]; empty: every managed link
	Ignore     map[string]bool          // --ignore
	Oper       api.OperRange            // -o MIN[:MAX]
	IPv4, IPv6 bool                     // -4, -6
	Any        bool                     // --any
	Timeout    time.Duration            // 0: wait forever
	// Progress, when set, is told why the system is not online yet, whenever the reason changes.
	Progress func(string)
}

// ParseOperRange reads "MIN[:MAX]" as -o and -i take it.
func ParseOperRange(s string) (api.OperRange, error) {
	min, max, err := api.ParseOperRange(s)
	return api.OperRange{Min: min, Max: max}, err
}

// ErrTimeout is returned when the links did not come online in time.
var ErrTimeout = errors.New("timeout waiting for the network to come online")

// Run polls networkd's io.systemd.Network until the links o names (or all managed ones) are
// online, the way systemd-networkd-wait-online decides it. It keeps trying while networkd is
// not there yet.
func Run(ctx context.Context, o Options) error {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	var conn *varlinkd.Client
	last := ""
	tell := func(s string) {
		if s != last && o.Progress != nil {
			o.Progress(s)
		}
		last = s
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if conn == nil {
			c, err := varlinkd.Dial(ctx, api.SocketAddress(o.Root))
			if err != nil {
				tell("waiting for networkd: connecting to networkd (is it running?): " + err.Error())
			}
			conn = c
		}
		if conn != nil {
			r, err := api.NewClient(conn).Describe(ctx)
			if err != nil {
				tell("asking networkd: " + err.Error())
				conn.Close()
				conn = nil
			} else if ok, why := o.Online(r.Interfaces); ok {
				conn.Close()
				return nil
			} else {
				tell(why)
			}
		}
		select {
		case <-ctx.Done():
			if conn != nil {
				conn.Close()
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w (%s)", ErrTimeout, last)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Online decides whether links satisfy o; why says what is missing.
func (o *Options) Online(links []api.Interface) (ok bool, why string) {
	byName := map[string]api.Interface{}
	for _, l := range links {
		byName[l.Name] = l
	}
	var waiting []string
	good := 0
	if len(o.Interfaces) > 0 {
		for name, r := range o.Interfaces {
			l, found := byName[name]
			switch {
			case !found:
				waiting = append(waiting, name+" (not present)")
			case !o.linkOnline(l, r):
				waiting = append(waiting, name+" ("+l.OperationalState+")")
			default:
				good++
			}
		}
	} else {
		candidates := 0
		for _, l := range links {
			if l.Type == "loopback" || o.Ignore[l.Name] || l.AdministrativeState != "configured" ||
				(l.RequiredForOnline != nil && !*l.RequiredForOnline) {
				continue
			}
			candidates++
			if o.linkOnline(l, api.OperRange{}) {
				good++
			} else {
				waiting = append(waiting, l.Name+" ("+l.OperationalState+")")
			}
		}
		if candidates == 0 {
			return false, "no managed link"
		}
	}
	if (o.Any && good > 0) || len(waiting) == 0 {
		return true, ""
	}
	slices.Sort(waiting) // the same reason reads the same: Run reports only changes
	return false, "waiting for " + strings.Join(waiting, ", ")
}

// linkOnline checks one link against the range (r, else -o, else the link's own) and the
// address families (-4/-6, else the link's own).
func (o *Options) linkOnline(l api.Interface, r api.OperRange) bool {
	switch {
	case r.Min != "":
	case o.Oper.Min != "":
		r = o.Oper
	case len(l.RequiredOperStateForOnline) == 2:
		r = api.OperRange{Min: l.RequiredOperStateForOnline[0], Max: l.RequiredOperStateForOnline[1]}
	default:
		r = api.OperRange{Min: "degraded", Max: "routable"}
	}
	family := l.RequiredFamilyForOnline
	switch {
	case o.IPv4 && o.IPv6:
		family = "both"
	case o.IPv4:
		family = "ipv4"
	case o.IPv6:
		family = "ipv6"
	}
	return api.LinkOnline(l.OperationalState, l.IPv4AddressState, l.IPv6AddressState, r, family)
}
