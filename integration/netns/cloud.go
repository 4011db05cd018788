//go:build integration

package netns

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/stead-os/stead/integration/fakecloud"
)

// Cloud is the topology of the IMDS tests and benchmarks: a fake cloud of one provider
// (integration/fakecloud, serving in the test process) and an instance, in two namespaces on
// a veth pair; nothing leaves them.
//
//	namespace "cloud"                          namespace "inst"
//	  cloud0 10.99.0.1/24 + the provider's  ──   eth0 10.99.0.2/24
//	  IMDS address(es) /32; the fake cloud        route <IMDS address>/32 dev eth0
//	  listens on them :80                         imdsd (ours or upstream's), clients
//
// The fake cloud listens on sockets opened inside the cloud namespace (NS.Listen), so the
// caller keeps its Go API: faults, counters, token expiry. A provider whose data URL names a
// host (Tencent's metadata.tencentyun.com) gets it mapped to its first IMDS address in an
// /etc/hosts of the instance namespace's own (SetHosts; programs started with Inst.Command
// see it), as the cloud's DHCP-provided DNS would.
type Cloud struct {
	Prov      fakecloud.ProviderInfo
	Srv       *fakecloud.Server
	Cloud     *NS // the fake cloud's side
	Inst      *NS // the instance's side: run imdsd and its clients here
	Addresses []netip.Addr
}

// NewCloud builds the topology for vendor (a fakecloud provider) with the fake cloud's
// options; the server is closed, and the namespaces deleted, when t ends.
func NewCloud(t testing.TB, vendor string, opts ...fakecloud.Option) *Cloud {
	t.Helper()
	prov, ok := fakecloud.Lookup(vendor)
	if !ok {
		t.Fatalf("no provider %s", vendor)
	}
	cloud := New(t, "cloud")
	inst := New(t, "inst")
	Veth(t, cloud, "cloud0", inst, "eth0")
	cloud.IP(t, "addr", "add", "10.99.0.1/24", "dev", "cloud0")
	inst.IP(t, "addr", "add", "10.99.0.2/24", "dev", "eth0")
	srv, err := fakecloud.New(vendor, opts...)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cloud{Prov: prov, Srv: srv, Cloud: cloud, Inst: inst}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		srv.Close()
		wg.Wait()
	})
	for _, a := range prov.IPv4 {
		cloud.IP(t, "addr", "add", a.String()+"/32", "dev", "cloud0")
		inst.IP(t, "route", "add", a.String()+"/32", "dev", "eth0")
		l, err := cloud.Listen("tcp4", net.JoinHostPort(a.String(), "80"))
		if err != nil {
			t.Fatalf("listen in %s: %v", cloud.Name, err)
		}
		c.Addresses = append(c.Addresses, a)
		wg.Add(1)
		go func() { defer wg.Done(); srv.Serve(l) }()
	}
	if prov.Host != "" {
		inst.SetHosts(t, fmt.Sprintf("127.0.0.1 localhost\n%s %s\n", prov.IPv4[0], prov.Host))
	}
	return c
}
