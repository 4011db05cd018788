package networkd

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestRecordRoundTrip: what is written for a link comes back with the same
// keys and the fields deleting the objects needs; an empty Static removes
// the file, a damaged one is reported and skipped.
func TestRecordRoundTrip(t *testing.T) {
	root := t.TempDir()
	s := newStatic()
	s.Addrs["192.0.2.10/24"] = &netlink.Addr{IPNet: ipnet(netip.MustParsePrefix("192.0.2.10/24"))}
	s.Routes["r1"] = &netlink.Route{LinkIndex: 7, Dst: ipnet(netip.MustParsePrefix("203.0.113.0/24")),
		Gw: netip.MustParseAddr("192.0.2.254").AsSlice(), Table: 100, Protocol: unix.RTPROT_STATIC, Scope: netlink.SCOPE_LINK}
	s.Routes["r2"] = &netlink.Route{Dst: ipnet(netip.MustParsePrefix("198.18.0.0/15")), Type: unix.RTN_PROHIBIT, Protocol: unix.RTPROT_STATIC}
	mask := uint32(0xff)
	rule := netlink.NewRule()
	rule.Table, rule.Mark, rule.Mask, rule.Priority, rule.Invert = 100, 0x10, &mask, 1000, true
	s.Rules["fw"] = rule
	if err := saveRecord(root, 7, "c0", s); err != nil {
		t.Fatal(err)
	}
	recs := loadRecords(root, func(p string, err error) { t.Errorf("%s: %v", p, err) })
	got := fromRecord(recs[7], 7)
	if recs[7].Link != "c0" || len(got.Addrs) != 1 || len(got.Routes) != 2 || len(got.Rules) != 1 {
		t.Fatalf("round trip: %+v", recs[7])
	}
	if a := got.Addrs["192.0.2.10/24"]; a == nil || a.IPNet.String() != "192.0.2.10/24" {
		t.Errorf("address %v", a)
	}
	if r := got.Routes["r1"]; r.Dst.String() != "203.0.113.0/24" || r.Gw.String() != "192.0.2.254" || r.Table != 100 || r.LinkIndex != 7 || r.Protocol != unix.RTPROT_STATIC || r.Scope != netlink.SCOPE_LINK {
		t.Errorf("route %+v", r)
	}
	if r := got.Routes["r2"]; r.Gw != nil || r.LinkIndex != 0 || r.Type != unix.RTN_PROHIBIT {
		t.Errorf("prohibit route %+v", r)
	}
	if r := got.Rules["fw"]; r.Table != 100 || r.Mark != 0x10 || r.Mask == nil || *r.Mask != 0xff || r.Priority != 1000 || !r.Invert {
		t.Errorf("rule %+v", r)
	}
	if err := saveRecord(root, 7, "c0", newStatic()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(recordPath(root, 7)); !os.IsNotExist(err) {
		t.Errorf("empty record kept: %v", err)
	}
	os.WriteFile(filepath.Join(root, RecordDir, "9"), []byte("{"), 0o644)
	var bad int
	if recs := loadRecords(root, func(string, error) { bad++ }); len(recs) != 0 || bad != 1 {
		t.Errorf("damaged record: %v, %d reported", recs, bad)
	}
}

// FuzzParseRecord: a damaged record never panics, and what is accepted
// rebuilds into objects that can be written again.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"link":"c0","addresses":[{"key":"a","prefix":"192.0.2.10/24"}],"routes":[{"key":"r","dst":"10.0.0.0/8","gateway":"10.0.0.1","device":true}],"rules":[{"key":"x","mask":255,"priority":1}]}`))
	f.Add([]byte(`{"addresses":[{"key":"a","prefix":"zz"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRecord(b)
		if err != nil {
			return
		}
		s := fromRecord(r, 3)
		_ = toRecord(r.Link, s)
	})
}
