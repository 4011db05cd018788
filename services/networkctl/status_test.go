package networkctl

import (
	"bytes"
	"strings"
	"testing"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
)

func TestWriteList(t *testing.T) {
	var b bytes.Buffer
	WriteList(&b, []api.Interface{{Index: 1, Name: "lo", Type: "loopback", OperationalState: "carrier", AdministrativeState: "unmanaged"},
		{Index: 12, Name: "veth-long", Type: "ether", OperationalState: "routable", AdministrativeState: "configured"}}, false)
	want := "IDX LINK      TYPE     OPERATIONAL SETUP\n  1 lo        loopback carrier     unmanaged\n 12 veth-long ether    routable    configured\n\n2 links listed.\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	for in, ok := range map[string]bool{"3": true, "51:uint32": true, "0": false, "255": false, "3:float": false, "x": false} {
		if _, _, err := ParseOptionSpec(in); (err == nil) != ok {
			t.Errorf("%q: %v", in, err)
		}
	}
	if got := formatOption([]byte{10, 0, 0, 1, 10, 0, 0, 2}, "ipv4address"); got != "10.0.0.1 10.0.0.2" {
		t.Error(got)
	}
	if got := formatOption([]byte{0, 0, 0, 120}, "uint32"); got != "120" {
		t.Error(got)
	}
	if got := formatOption([]byte{1, 2}, "uint32"); !strings.Contains(got, "01 02") {
		t.Error(got)
	}
}

func TestCheckArgs(t *testing.T) {
	for args, ok := range map[string]bool{"": true, "list": true, "status c0": true, "reload": true, "dhcp-lease c0": true,
		"renew": false, "up": false, "dhcp-lease": false, "lldp": false} {
		if err := check(strings.Fields(args)); (err == nil) != ok {
			t.Errorf("%q: %v", args, err)
		}
	}
}
