//go:build integration

package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/netns"
)

// TestNetworkdLinkAppears: a link that appears after networkd is ready (as a NIC whose driver
// loads late does in the VM) is configured from the .network file that matches it, without a
// reload; deleted and made again, it is configured again.
func TestNetworkdLinkAppears(t *testing.T) {
	networkd := harness.Binary(t, "cmd/networkd")
	ns, peer := netns.New(t, "nd-late"), netns.New(t, "nd-late-p")
	root := filepath.Join(t.TempDir(), "root")
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/network/10-late.network"),
		"[Match]\nName=late0\n\n[Network]\nAddress=192.0.2.77/24\n", 0o644)
	harness.StartDaemon(t, ns.Command(networkd, "--root="+root), harness.WaitReadyWithin(20*time.Second))
	for round := 0; round < 2; round++ {
		netns.Veth(t, ns, "late0", peer, "late1")
		harness.Eventually(t, "late0 configured", 20*time.Second, func() bool {
			return strings.Contains(ns.IP(t, "-4", "-o", "addr", "show", "dev", "late0"), "inet 192.0.2.77/24")
		})
		if out := ns.IP(t, "-o", "link", "show", "dev", "late0"); !strings.Contains(out, "UP") {
			t.Errorf("late0 not set up: %s", out)
		}
		ns.IP(t, "link", "del", "late0")
	}
}
