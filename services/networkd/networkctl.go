package networkd

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/lib/varlinkd"
)

// Ctl is networkctl's connection to networkd's io.systemd.Network.
type Ctl struct {
	c *varlinkd.Client
}

// DialNetworkd connects to the io.systemd.Network socket under root.
func DialNetworkd(ctx context.Context, root string) (*Ctl, error) {
	c, err := varlinkd.Dial(ctx, filepath.Join(root, SocketPath))
	if err != nil {
		return nil, fmt.Errorf("connecting to networkd (is it running?): %w", err)
	}
	return &Ctl{c: c}, nil
}

// Close ends the connection.
func (n *Ctl) Close() error { return n.c.Close() }

// Links describes every link (io.systemd.Network.Describe), ordered by index.
func (n *Ctl) Links(ctx context.Context) ([]api.Interface, error) {
	var r api.DescribeReply
	if err := n.c.Call(ctx, api.Name+".Describe", nil, &r); err != nil {
		return nil, err
	}
	sort.Slice(r.Interfaces, func(i, j int) bool { return r.Interfaces[i].Index < r.Interfaces[j].Index })
	return r.Interfaces, nil
}

// States is the system's state (io.systemd.Network.GetStates).
func (n *Ctl) States(ctx context.Context) (*api.States, error) {
	var st api.States
	if err := n.c.Call(ctx, api.Name+".GetStates", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

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

// LinkCall calls an io.systemd.Network.Link method (Renew, Reconfigure, Up, Down, …) on a link.
func (n *Ctl) LinkCall(ctx context.Context, method, ifname string) error {
	return n.c.Call(ctx, api.LinkName+"."+method, api.Selector{InterfaceName: &ifname}, nil)
}

// Reload asks networkd to reload its files and reconfigure the links.
func (n *Ctl) Reload(ctx context.Context) error {
	return n.c.Call(ctx, api.Name+".Reload", nil, nil)
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

// boottimeToReal turns a CLOCK_BOOTTIME µs timestamp into wall-clock time.
func boottimeToReal(us uint64) time.Time {
	return time.UnixMicro(int64(us)).Add(boottimeOffset())
}

// LeaseOption is one option of a lease as printed by dhcp-lease.
type LeaseOption struct {
	Code  int    `json:"Code"`
	Name  string `json:"Name,omitempty"`
	Value string `json:"Value"`
	Raw   []int  `json:"Raw"`
}

// LeaseReport is what "networkctl dhcp-lease" shows.
type LeaseReport struct {
	Interface     string `json:"Interface"`
	Address       string `json:"Address"`
	ServerAddress string `json:"ServerAddress,omitempty"`
	AcquiredUSec  int64  `json:"LeaseTimestampUSec"`
	LifetimeUSec  int64  `json:"LifetimeUSec"`
	Timeout1USec  int64  `json:"Timeout1USec"`
	Timeout2USec  int64  `json:"Timeout2USec"`
	ClientHWAddr  string `json:"ClientHardwareAddress"`
	// Header fields of the server's message, as upstream's dhcp-lease shows them.
	HardwareType      int           `json:"HardwareType"`
	NextServerAddress string        `json:"NextServerAddress,omitempty"`
	RelayAgentAddress string        `json:"RelayAgentAddress,omitempty"`
	Options           []LeaseOption `json:"Options"`
}

// optionFormats are how dhcp-lease decodes well-known options when no
// CODE:TYPE says otherwise, with upstream's names; other options are hex.
var optionFormats = map[int]struct{ name, typ string }{
	1: {"subnet mask", "ipv4address"}, 3: {"router", "ipv4address"}, 6: {"domain name server", "ipv4address"},
	12: {"host name", "string"}, 15: {"domain name", "string"}, 26: {"interface mtu", "uint16"},
	28: {"broadcast address", "ipv4address"}, 42: {"ntp server", "ipv4address"}, 51: {"lease time", "time"},
	53: {"message type", "uint8"}, 54: {"server identifier", "ipv4address"}, 58: {"renewal time", "time"},
	59: {"rebinding time", "time"},
}

// timespan prints seconds as upstream's format_timespan does: "2min", "1min 45s".
func timespan(sec uint64) string {
	if sec == 0 {
		return "0"
	}
	var parts []string
	for _, u := range []struct {
		n    uint64
		name string
	}{{86400, "d"}, {3600, "h"}, {60, "min"}, {1, "s"}} {
		if sec >= u.n {
			parts = append(parts, strconv.FormatUint(sec/u.n, 10)+u.name)
			sec %= u.n
		}
	}
	return strings.Join(parts, " ")
}

// ParseOptionSpec reads CODE[:TYPE] (TYPE: uint8, uint16, uint32,
// ipv4address, string; default: hex bytes).
func ParseOptionSpec(s string) (code int, typ string, err error) {
	c, t, _ := strings.Cut(s, ":")
	n, err := strconv.Atoi(c)
	if err != nil || n < 1 || n > 254 {
		return 0, "", fmt.Errorf("invalid option code %q", c)
	}
	switch t {
	case "", "uint8", "uint16", "uint32", "ipv4address", "string":
	default:
		return 0, "", fmt.Errorf("unknown option type %q", t)
	}
	return n, t, nil
}

func formatOption(b []byte, typ string) string {
	switch typ {
	case "uint8":
		if len(b) == 1 {
			return strconv.Itoa(int(b[0]))
		}
	case "uint16":
		if len(b) == 2 {
			return strconv.Itoa(int(binary.BigEndian.Uint16(b)))
		}
	case "uint32":
		if len(b) == 4 {
			return strconv.FormatUint(uint64(binary.BigEndian.Uint32(b)), 10)
		}
	case "ipv4address":
		if len(b)%4 == 0 && len(b) > 0 {
			var s []string
			for i := 0; i < len(b); i += 4 {
				s = append(s, netip.AddrFrom4([4]byte(b[i:i+4])).String())
			}
			return strings.Join(s, " ")
		}
	case "string":
		return string(b)
	case "time":
		if len(b) == 4 {
			return timespan(uint64(binary.BigEndian.Uint32(b)))
		}
	}
	return fmt.Sprintf("% x", b)
}

func hexAddr(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return ""
	}
	return netip.AddrFrom4([4]byte(b)).String()
}

// LeaseReportOf turns the DHCPv4Client.Lease networkd reports for link i
// into a report. specs, if any, select options ("CODE[:TYPE]").
func LeaseReportOf(i api.Interface, specs []string) (*LeaseReport, error) {
	if i.DHCPv4Client == nil || i.DHCPv4Client.Lease == nil || i.DHCPv4Client.Lease.Message == nil {
		return nil, fmt.Errorf("interface %s has no DHCPv4 lease", i.Name)
	}
	l := i.DHCPv4Client.Lease
	m := l.Message
	opts := map[int][]byte{}
	for _, o := range m.Options {
		b, err := hex.DecodeString(o.Data)
		if err != nil {
			return nil, fmt.Errorf("bad option %d from networkd: %w", o.Tag, err)
		}
		opts[o.Tag] = b
	}
	r := &LeaseReport{Interface: i.Name, Address: hexAddr(m.YIAddr)}
	if mask, ok := opts[int(dhcpv4.OptionSubnetMask)]; ok && len(mask) == 4 {
		ones := 0
		for _, x := range mask {
			for ; x != 0; x <<= 1 {
				ones++
			}
		}
		r.Address += "/" + strconv.Itoa(ones)
	}
	if sid, ok := opts[int(dhcpv4.OptionServerIdentifier)]; ok && len(sid) == 4 {
		r.ServerAddress = netip.AddrFrom4([4]byte(sid)).String()
	}
	u := func(p *uint64) int64 {
		if p == nil {
			return 0
		}
		return int64(*p)
	}
	if l.LeaseTimestampUSec != nil {
		r.AcquiredUSec = boottimeToReal(*l.LeaseTimestampUSec).UnixMicro()
	}
	r.LifetimeUSec, r.Timeout1USec, r.Timeout2USec = u(l.LifetimeUSec), u(l.Timeout1USec), u(l.Timeout2USec)
	if hw, err := hex.DecodeString(m.CHAddr); err == nil && len(hw) >= 6 {
		r.ClientHWAddr = mac(ints(hw[:6]))
	}
	r.HardwareType = m.HType
	if a := hexAddr(m.SIAddr); a != "" && a != "0.0.0.0" {
		r.NextServerAddress = a
	}
	if a := hexAddr(m.GIAddr); a != "" && a != "0.0.0.0" {
		r.RelayAgentAddress = a
	}
	want := map[int]string{}
	for _, s := range specs {
		c, t, err := ParseOptionSpec(s)
		if err != nil {
			return nil, err
		}
		want[c] = t
	}
	codes := make([]int, 0, len(opts))
	for c := range opts {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		typ, ok := want[c]
		if len(want) > 0 && !ok {
			continue
		}
		f, known := optionFormats[c]
		if typ == "" {
			typ = f.typ
		}
		if !known {
			f.name = strings.ToLower(dhcpv4.GenericOptionCode(c).String())
		}
		b := opts[c]
		r.Options = append(r.Options, LeaseOption{Code: c, Name: f.name, Value: formatOption(b, typ), Raw: ints(b)})
	}
	return r, nil
}

// WriteLease prints a lease report as upstream's "networkctl dhcp-lease"
// does (a header table, then the options), or as JSON.
func WriteLease(w io.Writer, r *LeaseReport, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	htype := strconv.Itoa(r.HardwareType)
	if r.HardwareType == 1 {
		htype = "ETHER"
	}
	addr, _, _ := strings.Cut(r.Address, "/")
	rows := [][2]string{{"KEY", "VALUE"}}
	for _, kv := range [][2]string{{"Hardware Type", htype}, {"Hardware Address", r.ClientHWAddr},
		{"Client Address", addr}, {"Server Address", r.NextServerAddress}, {"Relay Agent Address", r.RelayAgentAddress}} {
		if kv[1] != "" {
			rows = append(rows, [2]string{kv[0] + ":", kv[1]})
		}
	}
	width := 0
	for _, kv := range rows {
		width = max(width, len(kv[0]))
	}
	fmt.Fprintln(w, "Header:")
	for _, kv := range rows {
		fmt.Fprintf(w, "%*s %s\n", width, kv[0], kv[1])
	}
	fmt.Fprintln(w, "\nOptions:")
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "CODE\tNAME\tDATA")
	for _, o := range r.Options {
		fmt.Fprintf(tw, "%4d\t%s\t%s\n", o.Code, o.Name, o.Value)
	}
	return tw.Flush()
}
