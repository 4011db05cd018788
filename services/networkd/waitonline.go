package networkd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/services/networkd/netconf"
)

// OperRange is a range of operational states; zero means "the link's own
// RequiredForOnline= range" (degraded:routable unless its file says otherwise).
type OperRange struct{ Min, Max string }

// ParseOperRangeArg reads "MIN[:MAX]" as -o and -i take it.
func ParseOperRangeArg(s string) (OperRange, error) {
	min, max, err := netconf.ParseOperRange(s)
	return OperRange{min, max}, err
}

// WaitOptions are networkd-wait-online's settings (upstream's flags).
type WaitOptions struct {
	Root       string
	Interfaces map[string]OperRange // -i NAME[:MIN[:MAX]]; empty: every managed link
	Ignore     map[string]bool      // --ignore
	Oper       OperRange            // -o MIN[:MAX]
	IPv4, IPv6 bool                 // -4, -6
	Any        bool                 // --any
	Timeout    time.Duration        // 0: wait forever
	// Progress, when set, is told why the system is not online yet, whenever the reason changes.
	Progress func(string)
}

// ErrWaitTimeout is returned when the links did not come online in time.
var ErrWaitTimeout = errors.New("timeout waiting for the network to come online")

// WaitOnline polls networkd's io.systemd.Network until the links o names
// (or all managed ones) are online, the way systemd-networkd-wait-online
// decides it. It keeps trying while networkd is not there yet.
func WaitOnline(ctx context.Context, o WaitOptions) error {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	var ctl *Ctl
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
		if ctl == nil {
			c, err := DialNetworkd(ctx, o.Root)
			if err != nil {
				tell("waiting for networkd: " + err.Error())
			}
			ctl = c
		}
		if ctl != nil {
			links, err := ctl.Links(ctx)
			if err != nil {
				tell("asking networkd: " + err.Error())
				ctl.Close()
				ctl = nil
			} else if ok, why := o.Online(links); ok {
				ctl.Close()
				return nil
			} else {
				tell(why)
			}
		}
		select {
		case <-ctx.Done():
			if ctl != nil {
				ctl.Close()
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w (%s)", ErrWaitTimeout, last)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Online decides whether links satisfy o; why says what is missing.
func (o *WaitOptions) Online(links []api.Interface) (ok bool, why string) {
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
			if o.linkOnline(l, OperRange{}) {
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
	slices.Sort(waiting) // the same reason reads the same: WaitOnline reports only changes
	return false, "waiting for " + strings.Join(waiting, ", ")
}

// linkOnline checks one link against the range (r, else -o, else the
// link's own) and the address families (-4/-6, else the link's own).
func (o *WaitOptions) linkOnline(l api.Interface, r OperRange) bool {
	switch {
	case r.Min != "":
	case o.Oper.Min != "":
		r = o.Oper
	case len(l.RequiredOperStateForOnline) == 2:
		r = OperRange{l.RequiredOperStateForOnline[0], l.RequiredOperStateForOnline[1]}
	default:
		r = OperRange{"degraded", "routable"}
	}
	rank := netconf.OperRank(l.OperationalState)
	if rank < netconf.OperRank(r.Min) || rank > netconf.OperRank(r.Max) {
		return false
	}
	need := "degraded"
	if r.Min == "routable" {
		need = "routable"
	}
	v4, v6 := o.IPv4, o.IPv6
	if !v4 && !v6 {
		switch l.RequiredFamilyForOnline {
		case "ipv4":
			v4 = true
		case "ipv6":
			v6 = true
		case "both":
			v4, v6 = true, true
		}
	}
	if v4 && addrRank[l.IPv4AddressState] < addrRank[need] {
		return false
	}
	if v6 && addrRank[l.IPv6AddressState] < addrRank[need] {
		return false
	}
	return true
}
