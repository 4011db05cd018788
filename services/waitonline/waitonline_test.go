package waitonline

import (
	"testing"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
)

func TestWaitOnlineDecision(t *testing.T) {
	yes, no := true, false
	c0 := api.Interface{Name: "c0", Type: "ether", AdministrativeState: "configured", OperationalState: "routable",
		IPv4AddressState: "routable", IPv6AddressState: "off", RequiredForOnline: &yes, RequiredOperStateForOnline: []string{"degraded", "routable"}}
	c1 := api.Interface{Name: "c1", Type: "ether", AdministrativeState: "configured", OperationalState: "carrier",
		IPv4AddressState: "off", IPv6AddressState: "off", RequiredForOnline: &yes}
	spare := api.Interface{Name: "spare", Type: "ether", AdministrativeState: "configured", OperationalState: "off", RequiredForOnline: &no}
	lo := api.Interface{Name: "lo", Type: "loopback", AdministrativeState: "unmanaged", OperationalState: "carrier"}
	links := []api.Interface{lo, c0, c1, spare}
	for _, c := range []struct {
		name string
		o    Options
		want bool
	}{
		{"all managed", Options{}, false},
		{"any", Options{Any: true}, true},
		{"ignore c1", Options{Ignore: map[string]bool{"c1": true}}, true},
		{"-i c0", Options{Interfaces: map[string]api.OperRange{"c0": {}}}, true},
		{"-i c1", Options{Interfaces: map[string]api.OperRange{"c1": {}}}, false},
		{"-i c1:carrier", Options{Interfaces: map[string]api.OperRange{"c1": {Min: "carrier", Max: "routable"}}}, true},
		{"-i missing", Options{Interfaces: map[string]api.OperRange{"nope": {}}}, false},
		{"-o carrier", Options{Oper: api.OperRange{Min: "carrier", Max: "routable"}}, true},
		{"-6", Options{Interfaces: map[string]api.OperRange{"c0": {}}, IPv6: true}, false},
		{"-4", Options{Interfaces: map[string]api.OperRange{"c0": {}}, IPv4: true}, true},
	} {
		if got, why := c.o.Online(links); got != c.want {
			t.Errorf("%s: online %v (%s), want %v", c.name, got, why, c.want)
		}
	}
	if ok, why := (&Options{}).Online([]api.Interface{lo, spare}); ok || why != "no managed link" {
		t.Errorf("no candidates: %v %q", ok, why)
	}
}

// The reason for waiting names the links in a stable order, so that networkd-wait-online
// reports it once rather than on every poll.
func TestWaitOnlineReasonStable(t *testing.T) {
	o := &Options{Interfaces: map[string]api.OperRange{}}
	for _, n := range []string{"a0", "b0", "c0", "d0", "e0"} {
		o.Interfaces[n] = api.OperRange{}
	}
	_, first := o.Online(nil)
	if first != "waiting for a0 (not present), b0 (not present), c0 (not present), d0 (not present), e0 (not present)" {
		t.Fatalf("reason %q", first)
	}
	for range 20 {
		if _, why := o.Online(nil); why != first {
			t.Fatalf("reason changed from %q to %q", first, why)
		}
	}
}
