package networkctl

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
)

// DHCPv4 option codes the report reads.
const (
	optionSubnetMask       = 1
	optionServerIdentifier = 54
)

// boottimeToReal turns a CLOCK_BOOTTIME µs timestamp into wall-clock time.
func boottimeToReal(us uint64) time.Time {
	return time.UnixMicro(int64(us)).Add(boottimeOffset())
}

// boottimeOffset is realtime minus CLOCK_BOOTTIME: upstream's lease timestamps are boottime.
func boottimeOffset() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(time.Now().UnixNano() - ts.Nano())
}

func ints(b []byte) []int {
	r := make([]int, len(b))
	for i, x := range b {
		r[i] = int(x)
	}
	return r
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
	if mask, ok := opts[optionSubnetMask]; ok && len(mask) == 4 {
		ones := 0
		for _, x := range mask {
			for ; x != 0; x <<= 1 {
				ones++
			}
		}
		r.Address += "/" + strconv.Itoa(ones)
	}
	if sid, ok := opts[optionServerIdentifier]; ok && len(sid) == 4 {
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
			f.name = fmt.Sprintf("unknown (%d)", c) // the DHCP library's name for them (TestOptionNames)
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
