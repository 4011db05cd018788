package networkd

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/stead-os/stead/services/networkd/dhcpclient"
	"github.com/stead-os/stead/services/networkd/netconf"
)

// LinkRow is one line of "networkctl list".
type LinkRow struct {
	Index               int    `json:"Index"`
	Name                string `json:"Name"`
	Type                string `json:"Type"`
	OperationalState    string `json:"OperationalState"`
	AdministrativeState string `json:"AdministrativeState"`
	NetworkFile         string `json:"NetworkFile,omitempty"`
}

// operState classifies a link the way networkctl's OPERATIONAL column does:
// off (down), no-carrier, carrier (no address but loopback ones), degraded
// (link-local addresses only) or routable (a global or private address).
func operState(ifi net.Interface) string {
	if ifi.Flags&net.FlagUp == 0 {
		return "off"
	}
	if ifi.Flags&net.FlagRunning == 0 {
		return "no-carrier"
	}
	addrs, _ := ifi.Addrs()
	state := "carrier"
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		switch a := p.Addr(); {
		case a.IsLoopback():
			// host-scope addresses leave the state at carrier
		case a.IsGlobalUnicast():
			return "routable"
		default:
			state = "degraded"
		}
	}
	return state
}

// ListLinks describes the links of the current network namespace, with the
// .network file (under root) that matches each.
func ListLinks(root string) ([]LinkRow, error) {
	links, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	nets, err := netconf.Load(root, nil)
	if err != nil {
		return nil, err
	}
	rows := make([]LinkRow, 0, len(links))
	for _, ifi := range links {
		li := LinkInfo(root, ifi)
		r := LinkRow{Index: ifi.Index, Name: ifi.Name, Type: li.Type, OperationalState: operState(ifi), AdministrativeState: "unmanaged"}
		if r.Type == "" {
			r.Type = "none"
		}
		if n := netconf.Find(nets, li); n != nil {
			r.AdministrativeState = "configured"
			r.NetworkFile = n.Path
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Index < rows[j].Index })
	return rows, nil
}

// WriteList prints rows as a table, or as {"Interfaces":[…]} with asJSON.
func WriteList(w io.Writer, rows []LinkRow, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(struct {
			Interfaces []LinkRow `json:"Interfaces"`
		}{rows})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "IDX\tLINK\tTYPE\tOPERATIONAL\tSETUP")
	for _, r := range rows {
		fmt.Fprintf(tw, "%3d\t%s\t%s\t%s\t%s\n", r.Index, r.Name, r.Type, r.OperationalState, r.AdministrativeState)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d links listed.\n", len(rows))
	return err
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
	Interface     string        `json:"Interface"`
	Address       string        `json:"Address"`
	ServerAddress string        `json:"ServerAddress,omitempty"`
	AcquiredUSec  int64         `json:"LeaseTimestampUSec"`
	LifetimeUSec  int64         `json:"LifetimeUSec"`
	Timeout1USec  int64         `json:"Timeout1USec"`
	Timeout2USec  int64         `json:"Timeout2USec"`
	ClientHWAddr  string        `json:"ClientHardwareAddress"`
	Options       []LeaseOption `json:"Options"`
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
		return strconv.Quote(string(b))
	}
	return fmt.Sprintf("% x", b)
}

// LeaseReportFor reads the saved lease of link ifname under root. specs,
// if any, select options ("CODE[:TYPE]").
func LeaseReportFor(root, ifname string, specs []string) (*LeaseReport, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	l, err := dhcpclient.LoadLease(root, ifi.Index)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, fmt.Errorf("interface %s has no DHCPv4 lease", ifname)
	}
	usec := func(d time.Duration) int64 { return d.Microseconds() }
	r := &LeaseReport{
		Interface: ifname, Address: l.Address().String(), AcquiredUSec: l.Acquired.UnixMicro(),
		LifetimeUSec: usec(l.Lifetime()), Timeout1USec: usec(l.T1()), Timeout2USec: usec(l.T2()),
		ClientHWAddr: l.ACK.ClientHWAddr.String(),
	}
	if s := l.ACK.ServerIdentifier(); s != nil {
		r.ServerAddress = s.String()
	}
	want := map[int]string{}
	for _, s := range specs {
		c, t, err := ParseOptionSpec(s)
		if err != nil {
			return nil, err
		}
		want[c] = t
	}
	codes := make([]int, 0, len(l.ACK.Options))
	for c := range l.ACK.Options {
		codes = append(codes, int(c))
	}
	sort.Ints(codes)
	for _, c := range codes {
		typ, ok := want[c]
		if len(want) > 0 && !ok {
			continue
		}
		b := l.ACK.Options[uint8(c)]
		raw := make([]int, len(b))
		for i, x := range b {
			raw[i] = int(x)
		}
		r.Options = append(r.Options, LeaseOption{Code: c, Name: dhcpv4.GenericOptionCode(c).String(), Value: formatOption(b, typ), Raw: raw})
	}
	return r, nil
}

// WriteLease prints a lease report as text or JSON.
func WriteLease(w io.Writer, r *LeaseReport, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	t := func(us int64) string { return (time.Duration(us) * time.Microsecond).String() }
	fmt.Fprintf(w, "Interface: %s\n", r.Interface)
	fmt.Fprintf(w, "Address: %s\n", r.Address)
	if r.ServerAddress != "" {
		fmt.Fprintf(w, "Server: %s\n", r.ServerAddress)
	}
	fmt.Fprintf(w, "Acquired: %s\n", time.UnixMicro(r.AcquiredUSec).UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "Lifetime: %s (T1 %s, T2 %s)\n", t(r.LifetimeUSec), t(r.Timeout1USec), t(r.Timeout2USec))
	fmt.Fprintf(w, "Client: %s\n", r.ClientHWAddr)
	fmt.Fprintln(w, "Options:")
	for _, o := range r.Options {
		_, err := fmt.Fprintf(w, "  %3d %s: %s\n", o.Code, o.Name, o.Value)
		if err != nil {
			return err
		}
	}
	return nil
}
