// Package dhcpclient is networkd's DHCPv4 client: it acquires a lease on a
// link (RFC 2131, through insomniacslk/dhcp's nclient4), applies the address
// and default route, keeps the lease in /run/systemd/netif/leases/IFINDEX
// so a restarted daemon keeps its address, renews at T1 (unicast to the
// server), rebinds from T2 (broadcast), drops the address when the lease
// expires and releases it when it stops.
package dhcpclient

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/stead-os/stead/lib/atomicfile"
)

// LeaseDir is where leases are kept, relative to the root.
const LeaseDir = "run/systemd/netif/leases"

// Lease is an acquired DHCPv4 lease.
type Lease struct {
	ACK      *dhcpv4.DHCPv4
	Acquired time.Time
}

// Address returns the leased address with its prefix: from the subnet mask
// (option 1), else the address's class (upstream does the same).
func (l *Lease) Address() netip.Prefix {
	a, _ := netip.AddrFromSlice(l.ACK.YourIPAddr.To4())
	bits := classBits(a)
	if m := l.ACK.SubnetMask(); m != nil {
		if ones, size := m.Size(); size == 32 && ones > 0 {
			bits = ones
		}
	}
	return netip.PrefixFrom(a, bits)
}

// classBits is the prefix length of a's class (A /8, B /16, C /24), 0 for
// classes D and E.
func classBits(a netip.Addr) int {
	if !a.Is4() {
		return 0
	}
	switch b := a.As4()[0]; {
	case b < 128:
		return 8
	case b < 192:
		return 16
	case b < 224:
		return 24
	}
	return 0
}

func seconds(v []byte) (time.Duration, bool) {
	if len(v) != 4 {
		return 0, false
	}
	return time.Duration(uint32(v[0])<<24|uint32(v[1])<<16|uint32(v[2])<<8|uint32(v[3])) * time.Second, true
}

// infinite is option 51's "forever" (RFC 2131 §3.3).
const infinite = time.Duration(0xffffffff) * time.Second

// Lifetime is the lease time (option 51); 0 means infinite.
func (l *Lease) Lifetime() time.Duration {
	if d, ok := seconds(l.ACK.Options.Get(dhcpv4.OptionIPAddressLeaseTime)); ok && d != infinite {
		return d
	}
	return 0
}

// timers returns T1 and T2 as upstream settles them: options 58 and 59 when
// 0 < T1 < T2 < lifetime, else half and 7/8 of the lifetime. Both are 0 for
// an infinite lease.
func (l *Lease) timers() (t1, t2 time.Duration) {
	lt := l.Lifetime()
	if lt == 0 {
		return 0, 0
	}
	t1, _ = seconds(l.ACK.Options.Get(dhcpv4.OptionRenewTimeValue))
	t2, _ = seconds(l.ACK.Options.Get(dhcpv4.OptionRebindingTimeValue))
	if t2 == 0 || t2 >= lt {
		t2 = lt - lt/8 // not lt*7/8: that overflows for lease times near 2^32 s
	}
	if t1 == 0 || t1 >= t2 {
		t1 = lt / 2
	}
	if t1 >= t2 {
		t1, t2 = lt/2, lt-lt/8
	}
	return t1, t2
}

// T1 is the renewal time: option 58, else half the lifetime (see timers).
func (l *Lease) T1() time.Duration { t1, _ := l.timers(); return t1 }

// T2 is the rebinding time: option 59, else 7/8 of the lifetime (see timers).
func (l *Lease) T2() time.Duration { _, t2 := l.timers(); return t2 }

// Expired tells whether the lease has run out at now.
func (l *Lease) Expired(now time.Time) bool {
	lt := l.Lifetime()
	return lt > 0 && !now.Before(l.Acquired.Add(lt))
}

// Validate checks an OFFER or ACK the way upstream does before taking it:
// a unicast IPv4 address (yiaddr), a server identifier (option 54), a lease
// time (option 51, not zero) and a usable prefix length (a contiguous subnet
// mask, else the address's class). Replies failing it are ignored.
func Validate(m *dhcpv4.DHCPv4) error {
	a, ok := netip.AddrFromSlice(m.YourIPAddr.To4())
	switch {
	case !ok || a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("no usable address (yiaddr %v)", m.YourIPAddr)
	case m.ServerIdentifier().To4() == nil || m.ServerIdentifier().To4().IsUnspecified():
		return errors.New("no server identifier")
	}
	if d, ok := seconds(m.Options.Get(dhcpv4.OptionIPAddressLeaseTime)); !ok || d == 0 {
		return errors.New("no lease time")
	}
	if (&Lease{ACK: m}).Address().Bits() == 0 {
		return errors.New("no usable subnet mask")
	}
	return nil
}

// MTU is the interface MTU of option 26; 0 when absent or below the
// minimum of 68 (RFC 2132 §5.1).
func (l *Lease) MTU() int {
	v := l.ACK.Options.Get(dhcpv4.OptionInterfaceMTU)
	if len(v) != 2 {
		return 0
	}
	if m := int(v[0])<<8 | int(v[1]); m >= 68 {
		return m
	}
	return 0
}

// DNS returns the IPv4 DNS servers of option 6.
func (l *Lease) DNS() []netip.Addr {
	var out []netip.Addr
	for _, ip := range l.ACK.DNS() {
		if a, ok := netip.AddrFromSlice(ip.To4()); ok {
			out = append(out, a)
		}
	}
	return out
}

// ServerID is the server identifier (option 54).
func (l *Lease) ServerID() (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(l.ACK.ServerIdentifier().To4())
	return a, ok
}

// Router returns the first router of option 3.
func (l *Lease) Router() (netip.Addr, bool) {
	for _, r := range l.ACK.Router() {
		if a, ok := netip.AddrFromSlice(r.To4()); ok {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func ips(list []net.IP) string {
	s := make([]string, 0, len(list))
	for _, ip := range list {
		s = append(s, ip.String())
	}
	return strings.Join(s, " ")
}

// Marshal writes the lease as KEY=VALUE lines. The keys follow the lease
// files upstream networkd keeps; STEAD_ACQUIRED and STEAD_ACK (the server's
// message, hex) are stead's, so the lease can be renewed after a restart.
func (l *Lease) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintln(&b, "# This is private data. Do not parse.")
	p := l.Address()
	fmt.Fprintf(&b, "ADDRESS=%s\n", p.Addr())
	fmt.Fprintf(&b, "NETMASK=%s\n", net.IP(net.CIDRMask(p.Bits(), 32)))
	if r := l.ACK.Router(); len(r) > 0 {
		fmt.Fprintf(&b, "ROUTER=%s\n", ips(r))
	}
	if s := l.ACK.ServerIdentifier(); s != nil {
		fmt.Fprintf(&b, "SERVER_ADDRESS=%s\n", s)
	}
	if d := l.ACK.DNS(); len(d) > 0 {
		fmt.Fprintf(&b, "DNS=%s\n", ips(d))
	}
	if h := l.ACK.HostName(); h != "" {
		fmt.Fprintf(&b, "HOSTNAME=%s\n", h)
	}
	fmt.Fprintf(&b, "LIFETIME=%d\n", int64(l.Lifetime()/time.Second))
	fmt.Fprintf(&b, "T1=%d\nT2=%d\n", int64(l.T1()/time.Second), int64(l.T2()/time.Second))
	fmt.Fprintf(&b, "STEAD_ACQUIRED=%d\n", l.Acquired.Unix())
	fmt.Fprintf(&b, "STEAD_ACK=%s\n", hex.EncodeToString(l.ACK.ToBytes()))
	return b.Bytes()
}

// Unmarshal reads what Marshal wrote.
func Unmarshal(data []byte) (*Lease, error) {
	var l Lease
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<10)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "STEAD_ACQUIRED":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bad STEAD_ACQUIRED: %w", err)
			}
			l.Acquired = time.Unix(n, 0)
		case "STEAD_ACK":
			b, err := hex.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("bad STEAD_ACK: %w", err)
			}
			if l.ACK, err = dhcpv4.FromBytes(b); err != nil {
				return nil, fmt.Errorf("bad STEAD_ACK: %w", err)
			}
		}
	}
	if l.ACK == nil || l.Acquired.IsZero() {
		return nil, errors.New("incomplete lease file")
	}
	if err := Validate(l.ACK); err != nil {
		return nil, fmt.Errorf("bad STEAD_ACK: %w", err)
	}
	return &l, nil
}

// Path is the lease file of link ifindex under root.
func Path(root string, ifindex int) string {
	return filepath.Join(root, LeaseDir, strconv.Itoa(ifindex))
}

// Save writes the lease atomically.
func Save(root string, ifindex int, l *Lease) error {
	p := Path(root, ifindex)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(p, l.Marshal(), 0o644)
}

// LoadLease reads the lease of link ifindex; (nil, nil) when there is none.
func LoadLease(root string, ifindex int) (*Lease, error) {
	b, err := os.ReadFile(Path(root, ifindex))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return Unmarshal(b)
}
