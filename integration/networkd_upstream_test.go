//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/netns"
)

// ndUpstream runs an upstream program of the systemd 262 root in network namespace ns, with
// the root's /run replaced by run (a bind mount in the private mount namespace that
// "ip netns exec" creates, so nothing leaks to the host) and a fresh /proc.
func ndUpstream(t *testing.T, up *harness.Upstream, ns *netns.NS, run string, args ...string) (string, error) {
	t.Helper()
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	script := "mount --bind '" + run + "' '" + up.Dir + "/run' && mount -t proc proc '" + up.Dir + "/proc' && exec chroot '" + up.Dir + "' " + strings.Join(q, " ")
	cmd := ns.Command("sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=cat", "LANG=C.UTF-8",
		"SYSTEMD_IGNORE_CHROOT=1"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestNetworkdUpstreamNetworkctl points upstream's networkctl and varlinkctl at our
// networkd's io.systemd.Network: our networkd is the DHCPv4 client in the client namespace
// (behind our relay and dnsmasq), its root is a stage directory inside the upstream root.
func TestNetworkdUpstreamNetworkctl(t *testing.T) {
	up := harness.NeedUpstream(t)
	e := ndStartRelay(t, "--dhcp-range=10.1.0.100,10.1.0.150,255.255.255.0,2m")
	root, _ := up.Stage(t)
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/network/50-c0.network"), "[Match]\nName=c0\n\n[Network]\nDHCP=yes\n", 0o644)
	cmd := e.tp.client.Command(e.networkd, "--root="+root)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug")
	// READY=1 comes once io.systemd.Network accepts connections.
	out := harness.StartDaemon(t, cmd, harness.WaitReadyWithin(10*time.Second)).Out
	harness.Eventually(t, "a lease", 20*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 lease acquired") })
	addrs := e.tp.client.IP(t, "-4", "-o", "addr", "show", "dev", "c0")
	addr := strings.Split(strings.Fields(addrs[strings.Index(addrs, "inet "):])[1], "/")[0]
	run := filepath.Join(root, "run")
	sockIn := "/run/systemd/netif/io.systemd.Network"

	upstream := func(args ...string) string {
		t.Helper()
		o, err := ndUpstream(t, up, e.tp.client, run, args...)
		if err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(args, " "), err, o)
		}
		t.Logf("$ %s\n%s", strings.Join(args, " "), o)
		return o
	}

	// The interfaces as upstream's varlinkctl reads them.
	idl := upstream("varlinkctl", "introspect", sockIn, "io.systemd.Network")
	for _, want := range []string{"interface io.systemd.Network", "method Describe()", "method GetStates()", "error AlreadyReloading()"} {
		if !strings.Contains(idl, want) {
			t.Errorf("introspect io.systemd.Network lacks %q", want)
		}
	}
	if l := upstream("varlinkctl", "introspect", sockIn, "io.systemd.Network.Link"); !strings.Contains(l, "error InterfaceUnmanaged()") {
		t.Errorf("introspect io.systemd.Network.Link:\n%s", l)
	}
	var states map[string]any
	if err := json.Unmarshal([]byte(upstream("varlinkctl", "call", sockIn, "io.systemd.Network.GetStates", "{}")), &states); err != nil {
		t.Errorf("GetStates: %v", err)
	} else if states["OperationalState"] != "routable" || states["IPv4AddressState"] != "routable" || states["OnlineState"] != "online" {
		t.Errorf("GetStates: %v", states)
	}
	var desc struct {
		Interfaces []struct {
			Name, AdministrativeState, NetworkFile string
			DHCPv4Client                           *struct {
				Lease struct{ Message struct{ Yiaddr string } }
			}
		}
	}
	if err := json.Unmarshal([]byte(upstream("varlinkctl", "call", sockIn, "io.systemd.Network.Describe", "{}")), &desc); err != nil {
		t.Errorf("Describe: %v", err)
	}
	found := false
	for _, i := range desc.Interfaces {
		if i.Name == "c0" {
			found = true
			if i.AdministrativeState != "configured" || i.DHCPv4Client == nil || !strings.HasSuffix(i.NetworkFile, "50-c0.network") {
				t.Errorf("Describe c0: %+v", i)
			}
		}
	}
	if !found {
		t.Errorf("Describe lists no c0")
	}
	// An unmanaged link refuses per-link actions; Reload goes through.
	if o, err := ndUpstream(t, up, e.tp.client, run, "varlinkctl", "call", sockIn, "io.systemd.Network.Link.Reconfigure", `{"InterfaceName":"lo"}`); err == nil || !strings.Contains(o, "InterfaceUnmanaged") {
		t.Errorf("Reconfigure lo: %v\n%s", err, o)
	}
	upstream("varlinkctl", "call", sockIn, "io.systemd.Network.Reload", "{}")
	if n := strings.Count(out.String(), "configuration reloaded"); n != 1 {
		t.Errorf("Reload: %d reloads logged, want 1", n)
	}
	// SIGHUP reloads too (through the Varlink server's hook). The configuration is unchanged,
	// so the DHCPv4 client keeps running throughout.
	cmd.Process.Signal(syscall.SIGHUP)
	harness.Eventually(t, "a reload on SIGHUP", 10*time.Second, func() bool { return strings.Count(out.String(), "configuration reloaded") == 2 })
	if n := strings.Count(out.String(), "starting DHCPv4 client"); n != 1 {
		t.Errorf("an unchanged reload restarted the client: started %d times", n)
	}

	// networkctl itself. list and status read the state files networkd refreshes every
	// second; the reload above restarted the client, so wait for them to settle.
	idx, _, _ := strings.Cut(e.tp.client.IP(t, "-o", "link", "show", "c0"), ":")
	harness.Eventually(t, "c0's state file to say routable", 10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(root, "run/systemd/netif/links", idx))
		return strings.Contains(string(b), "OPER_STATE=routable")
	})
	list := upstream("networkctl", "list")
	if !regexp.MustCompile(`(?m)^\s*\d+ c0\s+ether\s+routable\s+configured\s*$`).MatchString(list) {
		t.Errorf("networkctl list does not show c0 routable and configured")
	}
	status := upstream("networkctl", "status", "c0")
	if !strings.Contains(status, "routable (configured)") || !strings.Contains(status, addr) {
		t.Errorf("networkctl status c0 lacks the state or %s", addr)
	}
	lease := upstream("networkctl", "dhcp-lease", "c0")
	if !strings.Contains(lease, addr) || !strings.Contains(lease, "10.2.0.2") {
		t.Errorf("networkctl dhcp-lease c0 lacks %s or the server 10.2.0.2", addr)
	}
	if o, err := ndUpstream(t, up, e.tp.client, run, "networkctl", "dhcp-lease", "lo"); err == nil || !strings.Contains(o, "does not have DHCPv4 lease") {
		t.Errorf("networkctl dhcp-lease lo: %v\n%s", err, o)
	}
	upstream("networkctl", "--json=short", "dhcp-lease", "c0")

	// Upstream's systemd-networkd-wait-online reads our state files: c0 is online, and a link
	// that is not there keeps it waiting until its timeout.
	upstream("/usr/lib/systemd/systemd-networkd-wait-online", "-i", "c0", "--timeout=20")
	upstream("/usr/lib/systemd/systemd-networkd-wait-online", "--timeout=20")
	if o, err := ndUpstream(t, up, e.tp.client, run, "/usr/lib/systemd/systemd-networkd-wait-online", "-i", "nosuch0", "--timeout=1"); err == nil {
		t.Errorf("upstream wait-online -i nosuch0 succeeded:\n%s", o)
	}
}
