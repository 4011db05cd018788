package networkctl

import (
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
)

// FuzzLeaseReportOf: whatever lease object a networkd (ours or another) sends, networkctl's
// report of it never panics, and prints.
func FuzzLeaseReportOf(f *testing.F) {
	f.Add("0a010007", "c0a8", "020000000001", 1, "ffffff00", 51, "00000e10", "1:ipv4address")
	f.Add("", "", "zz", 255, "", 0, "0", "3:uint32")
	f.Fuzz(func(t *testing.T, yi, gi, ch string, tag1 int, data1 string, tag2 int, data2, spec string) {
		ts := uint64(1)
		it := api.Interface{Name: "x", DHCPv4Client: &api.DHCPv4Client{Lease: &api.DHCPv4Lease{LeaseTimestampUSec: &ts,
			Message: &api.DHCPMessage{YIAddr: yi, GIAddr: gi, CHAddr: ch, SIAddr: gi,
				Options: []api.DHCPOption{{Tag: tag1, Data: data1}, {Tag: tag2, Data: data2}}}}}}
		r, err := LeaseReportOf(it, []string{spec})
		if err != nil {
			return
		}
		var b strings.Builder
		if err := WriteLease(&b, r, false); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOptionNames: the option codes and names networkctl prints without the DHCP library are
// the library's, which networkd uses (and networkctl did).
func TestOptionNames(t *testing.T) {
	if optionSubnetMask != int(dhcpv4.OptionSubnetMask) || optionServerIdentifier != int(dhcpv4.OptionServerIdentifier) {
		t.Error("option codes differ from the DHCP library's")
	}
	var opts []api.DHCPOption
	for c := 1; c < 255; c++ {
		opts = append(opts, api.DHCPOption{Tag: c, Data: "00"})
	}
	r, err := LeaseReportOf(api.Interface{Name: "x", DHCPv4Client: &api.DHCPv4Client{Lease: &api.DHCPv4Lease{
		Message: &api.DHCPMessage{Options: opts}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range r.Options {
		if _, known := optionFormats[o.Code]; known {
			continue
		}
		if want := strings.ToLower(dhcpv4.GenericOptionCode(o.Code).String()); o.Name != want {
			t.Errorf("option %d: %q, want %q", o.Code, o.Name, want)
		}
	}
}
