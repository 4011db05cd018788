package networkd

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vishvananda/netlink"

	"github.com/stead-os/stead/lib/atomicfile"
)

// RecordDir holds, per link, what networkd put there from the .network files
// (file name: the interface index), relative to the root. It outlives the
// process, so that a restarted networkd still removes what an earlier one
// added once the files stop asking for it. Only stead reads these files.
const RecordDir = "run/systemd/netif/stead-static"

// record is the on-disk form of a Static: JSON, one object per link,
//
//	{"link":"c0","addresses":[{"key":…,"prefix":"192.0.2.10/24"}],
//	 "routes":[{"key":…,"family":2,"dst":"203.0.113.0/24","gateway":"192.0.2.254",
//	            "type":1,"table":100,"protocol":4,"device":true}],
//	 "rules":[{"key":…,"family":2,"table":100,"mark":16,"mask":255,"priority":1000}]}
//
// The keys are those of Static; the rest is what deleting the object takes.
type record struct {
	Link      string        `json:"link"`
	Addresses []addrRecord  `json:"addresses,omitempty"`
	Routes    []routeRecord `json:"routes,omitempty"`
	Rules     []ruleRecord  `json:"rules,omitempty"`
}

type addrRecord struct {
	Key    string       `json:"key"`
	Prefix netip.Prefix `json:"prefix"`
}

type routeRecord struct {
	Key      string       `json:"key"`
	Family   int          `json:"family,omitempty"`
	Dst      netip.Prefix `json:"dst,omitzero"`
	Gateway  netip.Addr   `json:"gateway,omitzero"`
	Type     int          `json:"type,omitempty"`
	Table    int          `json:"table,omitempty"`
	Protocol int          `json:"protocol,omitempty"`
	Device   bool         `json:"device,omitempty"` // on the link (else a blackhole-like route)
	Scope    int          `json:"scope,omitempty"`  // the kernel deletes an IPv4 route only with its scope
}

type ruleRecord struct {
	Key      string  `json:"key"`
	Family   int     `json:"family,omitempty"`
	Table    int     `json:"table,omitempty"`
	Mark     uint32  `json:"mark,omitempty"`
	Mask     *uint32 `json:"mask,omitempty"`
	Priority int     `json:"priority"`
	Invert   bool    `json:"invert,omitempty"`
}

func prefixOf(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits)
}

func toRecord(link string, s Static) record {
	r := record{Link: link}
	for k, a := range s.Addrs {
		r.Addresses = append(r.Addresses, addrRecord{Key: k, Prefix: prefixOf(a.IPNet)})
	}
	for k, rt := range s.Routes {
		gw, _ := netip.AddrFromSlice(rt.Gw)
		if rt.Gw == nil {
			gw = netip.Addr{}
		}
		r.Routes = append(r.Routes, routeRecord{Key: k, Family: rt.Family, Dst: prefixOf(rt.Dst), Gateway: gw.Unmap(),
			Type: rt.Type, Table: rt.Table, Protocol: int(rt.Protocol), Device: rt.LinkIndex != 0, Scope: int(rt.Scope)})
	}
	for k, ru := range s.Rules {
		r.Rules = append(r.Rules, ruleRecord{Key: k, Family: ru.Family, Table: ru.Table, Mark: ru.Mark, Mask: ru.Mask, Priority: ru.Priority, Invert: ru.Invert})
	}
	return r
}

// fromRecord rebuilds the Static of link ifindex; objects that cannot be
// rebuilt are skipped.
func fromRecord(r record, ifindex int) Static {
	s := newStatic()
	for _, a := range r.Addresses {
		if a.Key == "" || !a.Prefix.IsValid() {
			continue
		}
		s.Addrs[a.Key] = &netlink.Addr{IPNet: ipnet(a.Prefix)}
	}
	for _, rt := range r.Routes {
		if rt.Key == "" {
			continue
		}
		nr := &netlink.Route{Family: rt.Family, Type: rt.Type, Table: rt.Table, Protocol: netlink.RouteProtocol(rt.Protocol),
			Scope: netlink.Scope(rt.Scope)}
		if rt.Dst.IsValid() {
			nr.Dst = ipnet(rt.Dst)
		}
		if rt.Gateway.IsValid() {
			nr.Gw = rt.Gateway.AsSlice()
		}
		if rt.Device {
			nr.LinkIndex = ifindex
		}
		s.Routes[rt.Key] = nr
	}
	for _, ru := range r.Rules {
		if ru.Key == "" {
			continue
		}
		nr := netlink.NewRule()
		nr.Family, nr.Table, nr.Mark, nr.Mask, nr.Priority, nr.Invert = ru.Family, ru.Table, ru.Mark, ru.Mask, ru.Priority, ru.Invert
		s.Rules[ru.Key] = nr
	}
	return s
}

func recordPath(root string, ifindex int) string {
	return filepath.Join(root, RecordDir, strconv.Itoa(ifindex))
}

// saveRecord writes what link ifindex got (atomically); an empty Static
// removes the file.
func saveRecord(root string, ifindex int, link string, s Static) error {
	p := recordPath(root, ifindex)
	if len(s.Addrs)+len(s.Routes)+len(s.Rules) == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.Marshal(toRecord(link, s))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(p, append(b, '\n'), 0o644)
}

// parseRecord reads one record file's contents.
func parseRecord(b []byte) (record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, fmt.Errorf("bad record: %w", err)
	}
	return r, nil
}

// loadRecords reads every record under root, by interface index; damaged
// files are reported through bad and skipped.
func loadRecords(root string, bad func(path string, err error)) map[int]record {
	out := map[int]record{}
	dir := filepath.Join(root, RecordDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			bad(dir, err)
		}
		return out
	}
	for _, e := range ents {
		idx, err := strconv.Atoi(e.Name())
		if err != nil || idx <= 0 {
			continue // e.g. a left-over .tmp
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err == nil {
			out[idx], err = parseRecord(b)
		}
		if err != nil {
			bad(p, err)
			delete(out, idx)
		}
	}
	return out
}
