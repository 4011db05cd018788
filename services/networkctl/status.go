package networkctl

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
)

// Select picks the links whose name matches one of patterns (shell globs);
// no pattern selects all. A pattern that matches nothing is an error.
func Select(links []api.Interface, patterns []string) ([]api.Interface, error) {
	if len(patterns) == 0 {
		return links, nil
	}
	var out []api.Interface
	for _, p := range patterns {
		hit := false
		for _, l := range links {
			if ok, _ := filepath.Match(p, l.Name); ok || p == strconv.Itoa(l.Index) {
				hit = true
				out = append(out, l)
			}
		}
		if !hit {
			return nil, fmt.Errorf("interface %q not found", p)
		}
	}
	return out, nil
}

// setupState is the SETUP column: the administrative state.
func setupState(i api.Interface) string { return i.AdministrativeState }

// WriteList prints links as upstream's "networkctl list" table, or as
// {"Interfaces":[…]} (Describe's objects) with asJSON.
func WriteList(w io.Writer, links []api.Interface, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(api.DescribeReply{Interfaces: links})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "IDX\tLINK\tTYPE\tOPERATIONAL\tSETUP")
	for _, r := range links {
		fmt.Fprintf(tw, "%3d\t%s\t%s\t%s\t%s\n", r.Index, r.Name, r.Type, r.OperationalState, setupState(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d links listed.\n", len(links))
	return err
}

// statusRow is one "Key: value" line of status; empty values are skipped.
type statusRow struct{ key, value string }

func writeRows(w io.Writer, rows []statusRow) error {
	width := 0
	for _, r := range rows {
		if r.value != "" && len(r.key) > width {
			width = len(r.key)
		}
	}
	for _, r := range rows {
		if r.value == "" {
			continue
		}
		for i, v := range strings.Split(r.value, "\n") {
			k := r.key + ":"
			if i > 0 {
				k = ""
			}
			if _, err := fmt.Fprintf(w, "%*s %s\n", width+1, k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func addressLines(i api.Interface) string {
	var s []string
	for _, a := range i.Addresses {
		line := a.AddressString
		switch {
		case a.ConfigSource == "DHCPv4" && a.ConfigProviderString != "":
			line += " (DHCPv4 via " + a.ConfigProviderString + ")"
		case a.ConfigSource != "foreign" && a.ConfigSource != "":
			line += " (" + a.ConfigSource + ")"
		}
		s = append(s, line)
	}
	return strings.Join(s, "\n")
}

func gatewayLines(i api.Interface) string {
	var s []string
	for _, r := range i.Routes {
		if r.DestinationPrefixLength == 0 && r.GatewayString != "" {
			line := r.GatewayString
			if r.Table != 0 && r.Table != 254 {
				line += fmt.Sprintf(" (table %d)", r.Table)
			}
			s = append(s, line)
		}
	}
	return strings.Join(s, "\n")
}

func mac(b []int) string {
	if len(b) == 0 {
		return ""
	}
	s := make([]string, len(b))
	for i, x := range b {
		s[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(s, ":")
}

// WriteStatus prints links as upstream's "networkctl status LINK" does: one
// block per link, state first. Without links (status with no argument) it
// prints the system's summary from st and all links' addresses.
func WriteStatus(w io.Writer, links []api.Interface, st *api.States, summary, asJSON bool) error {
	if asJSON {
		if summary {
			return json.NewEncoder(w).Encode(struct {
				*api.States
				Interfaces []api.Interface `json:"Interfaces"`
			}{st, links})
		}
		return json.NewEncoder(w).Encode(api.DescribeReply{Interfaces: links})
	}
	if summary {
		var addrs, gws, dns []string
		for _, i := range links {
			if i.Type == "loopback" {
				continue
			}
			for _, a := range strings.Split(addressLines(i), "\n") {
				if a != "" {
					addrs = append(addrs, a+" on "+i.Name)
				}
			}
			for _, g := range strings.Split(gatewayLines(i), "\n") {
				if g != "" {
					gws = append(gws, g+" on "+i.Name)
				}
			}
			for _, d := range i.DNS {
				dns = append(dns, d.AddressString)
			}
		}
		fmt.Fprintln(w, "● Interfaces: "+strconv.Itoa(len(links)))
		return writeRows(w, []statusRow{
			{"State", st.OperationalState}, {"Online state", st.OnlineState},
			{"Address", strings.Join(addrs, "\n")}, {"Gateway", strings.Join(gws, "\n")},
			{"DNS", strings.Join(dns, " ")},
		})
	}
	for n, i := range links {
		if n > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "● %d: %s\n", i.Index, i.Name)
		nf := i.NetworkFile
		if nf == "" {
			nf = "n/a"
		}
		req := ""
		if i.RequiredForOnline != nil {
			req = yesNo(*i.RequiredForOnline)
		}
		var dns []string
		for _, d := range i.DNS {
			dns = append(dns, d.AddressString)
		}
		err := writeRows(w, []statusRow{
			{"Link File", "n/a"},
			{"Network File", nf},
			{"State", fmt.Sprintf("%s (%s)", i.OperationalState, i.AdministrativeState)},
			{"Online state", i.OnlineState},
			{"Type", i.Type}, {"Kind", i.Kind},
			{"Hardware Address", mac(i.HardwareAddress)},
			{"MTU", strconv.Itoa(i.MTU)},
			{"Address", addressLines(i)},
			{"Gateway", gatewayLines(i)},
			{"DNS", strings.Join(dns, " ")},
			{"Activation Policy", i.ActivationPolicy},
			{"Required For Online", req},
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
