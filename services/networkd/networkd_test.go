package networkd

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func writeTree(t *testing.T, files map[string]string) string {
	root := t.TempDir()
	for p, s := range files {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestRelayConfig(t *testing.T) {
	root := writeTree(t, map[string]string{
		"etc/systemd/networkd.conf":             "[DHCPRelay]\nServerAddress=10.2.0.2\nRemoteId=string:r\n",
		"etc/systemd/network/10-d.network":      "[Match]\nName=d*\n[Network]\nAddress=10.1.0.1/24\nDHCPRelay=downstream\n[DHCPRelay]\nGatewayAddress=10.1.0.9\n",
		"etc/systemd/network/20-u1.network":     "[Match]\nName=u1\n[Network]\nAddress=10.2.0.1/24\nDHCPRelay=upstream\n",
		"etc/systemd/network/20-u2.network":     "[Match]\nName=u2\n[Network]\nAddress=10.3.0.1/24\nDHCPRelay=upstream\n[DHCPRelay]\nInterfacePriority=10\n",
		"etc/systemd/network/30-client.network": "[Match]\nName=cl\n[Network]\nDHCP=yes\nAddress=10.4.0.1/24\nDHCPRelay=downstream\n",
		"etc/systemd/network/40-noaddr.network": "[Match]\nName=x\n[Network]\nDHCPRelay=downstream\n",
	})
	cfg, err := Load(root, quiet)
	if err != nil {
		t.Fatal(err)
	}
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	links := []net.Interface{
		{Index: 1, Name: "lo", Flags: net.FlagLoopback},
		{Index: 2, Name: "d0", HardwareAddr: mac},
		{Index: 3, Name: "u1", HardwareAddr: mac},
		{Index: 4, Name: "u2", HardwareAddr: mac},
		{Index: 6, Name: "x", HardwareAddr: mac},
		{Index: 7, Name: "cl", HardwareAddr: mac}, // runs a DHCPv4 client: no relay
	}
	rc, on, err := cfg.RelayConfig(links, root, quiet)
	if err != nil || !on {
		t.Fatal(on, err)
	}
	if rc.Upstream != "u2" || len(rc.Downstreams) != 1 || rc.Downstreams[0].Ifname != "d0" ||
		rc.Downstreams[0].Gateway.String() != "10.1.0.9" || string(rc.RemoteID) != "r" {
		t.Errorf("%+v %+v", rc, rc.Downstreams)
	}
	// "dc" matches 10-d.network first (d*), so 30-client never applies:
	// first match wins.
	rc, _, _ = cfg.RelayConfig(append(links, net.Interface{Index: 5, Name: "dc"}), root, quiet)
	if len(rc.Downstreams) != 2 {
		t.Errorf("dc should relay per 10-d.network: %+v", rc.Downstreams)
	}

	// No server address: the relay is refused with a reason.
	cfg.Global.Relay.ServerAddress = netip.Addr{}
	if _, on, err := cfg.RelayConfig(links, root, quiet); !on || err == nil {
		t.Errorf("missing ServerAddress= not reported")
	}
}
