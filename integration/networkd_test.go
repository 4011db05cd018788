//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/netns"
)

// ndTopo is netns.Relay's three namespaces plus a second client on a second downstream link:
//
//	client [c0] ——— [rd0 10.1.0.1/24] relay [rs0 10.2.0.1/24] ——— [s0 10.2.0.2/24] server
//	client2 [c1] ——— [rd1 10.3.0.1/24] relay
//
// rd0, rd1 and rs0 get their addresses, and go up, from networkd's .network files. Nothing
// runs in, or touches, the host's own namespace.
type ndTopo struct {
	client, relay, server, client2 *netns.NS
}

func newNDTopo(t *testing.T) *ndTopo {
	r := netns.NewRelay(t, "nd-")
	c2 := r.AddClient(t, "nd-c2", "c1", "rd1", "10.3.0.0/24")
	return &ndTopo{client: r.Client, relay: r.Relay, server: r.Server, client2: c2}
}

// ndCapture records the DHCP messages arriving on ifname in ns (UDP to port
// 67 or 68), read from an AF_PACKET socket that sees the IP packets.
type ndCapture struct {
	mu   sync.Mutex
	msgs []*dhcpv4.DHCPv4
	fd   int
}

func ndStartCapture(t *testing.T, ns *netns.NS, ifname string) *ndCapture {
	c := &ndCapture{fd: -1}
	ns.DoT(t, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(ndHtons(unix.ETH_P_IP)))
		if err != nil {
			return err
		}
		c.fd = fd
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: ndHtons(unix.ETH_P_IP), Ifindex: ifi.Index})
	})
	t.Cleanup(func() { unix.Close(c.fd) })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := unix.Recvfrom(c.fd, buf, 0)
			if err != nil {
				return
			}
			p := buf[:n]
			if n < 28 || p[9] != unix.IPPROTO_UDP {
				continue
			}
			ihl := int(p[0]&0x0f) * 4
			if n < ihl+8 {
				continue
			}
			dport := int(p[ihl+2])<<8 | int(p[ihl+3])
			if dport != 67 && dport != 68 {
				continue
			}
			if m, err := dhcpv4.FromBytes(p[ihl+8:]); err == nil {
				c.mu.Lock()
				c.msgs = append(c.msgs, m)
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *ndCapture) all() []*dhcpv4.DHCPv4 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*dhcpv4.DHCPv4(nil), c.msgs...)
}

// replies counts the captured replies that match (all with a nil match), and fails the test
// for each that carries option 82, which a relay must take away; where says where it leaked.
func (c *ndCapture) replies(t *testing.T, where string, match func(*dhcpv4.DHCPv4) bool) int {
	t.Helper()
	n := 0
	for _, m := range c.all() {
		if m.OpCode != dhcpv4.OpcodeBootReply || (match != nil && !match(m)) {
			continue
		}
		n++
		if _, has := m.Options[82]; has {
			t.Errorf("option 82 leaked %s: %v", where, m.Summary())
		}
	}
	return n
}

func ndHtons(v uint16) uint16 { return v<<8 | v>>8 }

// ndRelayEnv is the relay topology running: dnsmasq in the server
// namespace, our networkd relaying in the relay namespace.
type ndRelayEnv struct {
	tp                *ndTopo
	tmp               string
	networkd          string
	dnsmasqOut, ndOut *harness.SyncBuffer
	srvCap, cliCap    *ndCapture
}

func ndStartRelay(t *testing.T, dnsmasqExtra ...string) *ndRelayEnv {
	dnsmasq := harness.NeedCommand(t, "dnsmasq", "dnsmasq-base")
	return ndStartRelayWith(t, func(e *ndRelayEnv) {
		// Server: dnsmasq, DHCP only, serving the relayed client subnet.
		args := append([]string{"--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=s0", "--bind-interfaces",
			"--no-ping", "--log-dhcp", "--log-facility=-",
			"--dhcp-leasefile=" + filepath.Join(e.tmp, "dnsmasq.leases"), "--pid-file="}, dnsmasqExtra...)
		e.dnsmasqOut = harness.StartDaemon(t, e.tp.server.Command(dnsmasq, args...)).Out
	})
}

// ndStartRelayWith is ndStartRelay with the DHCP server started by server.
func ndStartRelayWith(t *testing.T, server func(*ndRelayEnv)) *ndRelayEnv {
	e := &ndRelayEnv{networkd: harness.Binary(t, "cmd/networkd"), tp: newNDTopo(t), tmp: t.TempDir()}
	tp, tmp := e.tp, e.tmp
	server(e)
	e.srvCap = ndStartCapture(t, tp.server, "s0")
	e.cliCap = ndStartCapture(t, tp.client, "c0")

	// Relay: our networkd with a root holding only its configuration.
	root := filepath.Join(tmp, "root")
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/networkd.conf"), "[DHCPRelay]\nServerAddress=10.2.0.2\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/network/10-down.network"),
		"[Match]\nName=rd0\n\n[Network]\nAddress=10.1.0.1/24\nDHCPRelay=downstream\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/network/11-down2.network"),
		"[Match]\nName=rd1\n\n[Network]\nAddress=10.3.0.1/24\nDHCPRelay=downstream\n\n[DHCPRelay]\nCircuitId=string:port2\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/network/20-up.network"),
		"[Match]\nName=rs0\n\n[Network]\nAddress=10.2.0.1/24\nDHCPRelay=upstream\n", 0o644)
	nd := tp.relay.Command(e.networkd, "--root="+root)
	nd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug")
	e.ndOut = harness.StartDaemon(t, nd).Out
	harness.Eventually(t, "the relay to start", 10*time.Second, func() bool { return strings.Contains(e.ndOut.String(), "DHCP relay started") })
	return e
}

func TestNetworkdRelay(t *testing.T) {
	busybox := harness.NeedCommand(t, "busybox", "busybox")
	e := ndStartRelay(t, "--dhcp-range=10.1.0.100,10.1.0.150,255.255.255.0,1h", "--dhcp-range=10.3.0.100,10.3.0.150,255.255.255.0,1h")
	tp, tmp, dm, ndOut, srvCap, cliCap := e.tp, e.tmp, e.dnsmasqOut, e.ndOut, e.srvCap, e.cliCap

	// busybox udhcpc, once asking for broadcast replies (-B) and once for
	// unicast ones (delivered by the relay as link-layer frames).
	for _, mode := range []string{"broadcast", "unicast"} {
		t.Run("udhcpc-"+mode, func(t *testing.T) {
			env := filepath.Join(tmp, "udhcpc-"+mode+".env")
			script := filepath.Join(tmp, "udhcpc-"+mode+".sh")
			harness.WriteFile(t, script, "#!/bin/sh\necho \"event=$1\" >> "+env+"\nenv >> "+env+"\n", 0o755)
			args := []string{"udhcpc", "-f", "-q", "-n", "-i", "c0", "-t", "5", "-T", "1", "-s", script, "-O", "82"}
			if mode == "broadcast" {
				args = append(args, "-B")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := tp.client.CommandContext(ctx, busybox, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("udhcpc: %v\n%s\ndnsmasq:\n%s\nnetworkd:\n%s", err, out, dm.String(), ndOut.String())
			}
			b, _ := os.ReadFile(env)
			if !strings.Contains(string(b), "event=bound") || !strings.Contains(string(b), "ip=10.1.0.1") {
				t.Fatalf("no lease in 10.1.0.0/24:\n%s", b)
			}
			if strings.Contains(string(b), "opt82=") {
				t.Errorf("option 82 reached the client:\n%s", b)
			}
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "ip=") || strings.HasPrefix(l, "router=") || strings.HasPrefix(l, "serverid=") {
					t.Log(mode, l)
				}
			}
		})
	}

	// ISC dhclient (Debian's isc-dhcp-client) as a second third-party client. Its script is
	// ours and only records what it is given: dhclient-script would rewrite /etc/resolv.conf.
	t.Run("dhclient", func(t *testing.T) {
		dhclient := harness.NeedCommand(t, "dhclient", "isc-dhcp-client")
		env := filepath.Join(tmp, "dhclient.env")
		script := filepath.Join(tmp, "dhclient.sh")
		harness.WriteFile(t, script, "#!/bin/sh\nenv >> "+env+"\necho ---- >> "+env+"\n", 0o755)
		harness.WriteFile(t, filepath.Join(tmp, "dhclient.conf"), "", 0o644)
		// A fresh hardware address, so dnsmasq sees a client other than udhcpc's.
		tp.client.IP(t, "link", "set", "c0", "address", "02:00:00:00:dc:01")
		cmd := tp.client.Command(dhclient, "-d", "-v", "-4", "-cf", filepath.Join(tmp, "dhclient.conf"),
			"-sf", script, "-lf", filepath.Join(tmp, "dhclient.leases"), "-pf", filepath.Join(tmp, "dhclient.pid"), "c0")
		dhclientd := harness.StartDaemon(t, cmd)
		dout := dhclientd.Out
		harness.Eventually(t, "dhclient to bind", 30*time.Second, func() bool {
			b, _ := os.ReadFile(env)
			return strings.Contains(string(b), "reason=BOUND")
		})
		dhclientd.Stop()
		b, _ := os.ReadFile(env)
		if !regexp.MustCompile(`(?m)^new_ip_address=10\.1\.0\.1\d\d$`).Match(b) || !strings.Contains(string(b), "new_dhcp_server_identifier=10.2.0.2") {
			t.Errorf("dhclient got no lease in 10.1.0.0/24 from 10.2.0.2:\n%s\n%s", b, dout.String())
		}
		if strings.Contains(string(b), "agent") || strings.Contains(string(b), "relay") {
			t.Errorf("relay agent information reached dhclient:\n%s", b)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "new_ip_address=") || strings.HasPrefix(l, "new_routers=") {
				t.Log("dhclient", l)
			}
		}
		found := false
		for _, m := range srvCap.all() {
			if m.OpCode == dhcpv4.OpcodeBootRequest && m.ClientHWAddr.String() == "02:00:00:00:dc:01" {
				found = true
				if !m.GatewayIPAddr.Equal(net.IPv4(10, 1, 0, 1)) || m.HopCount != 1 || !bytes.Contains(m.Options[82], []byte{1, 3, 'r', 'd', '0'}) {
					t.Errorf("relayed dhclient request: giaddr %v hops %d option 82 %q", m.GatewayIPAddr, m.HopCount, m.Options[82])
				}
			}
		}
		if !found {
			t.Errorf("the server saw no request from dhclient")
		}
	})

	// Our own networkd as the client, through the same relay and server: it gets a lease in the
	// relayed subnet, no reply that reaches it carries option 82, and networkctl prints the lease.
	t.Run("stead-client", func(t *testing.T) {
		croot := filepath.Join(tmp, "stead-client-root")
		client := ndClient(t, e, croot, "[Match]\nName=c0\n\n[Network]\nDHCP=yes\n")
		defer client.Stop()
		out := client.Out
		harness.Eventually(t, "our client's lease", 20*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 lease acquired") })
		addr := ndAddr(t, e)
		if !strings.HasPrefix(addr, "10.1.0.1") {
			t.Fatalf("our client: no leased address in 10.1.0.0/24 on c0: %q", addr)
		}
		hw := tp.client.IP(t, "-o", "link", "show", "c0")
		replies := cliCap.replies(t, "to our client", func(m *dhcpv4.DHCPv4) bool { return strings.Contains(hw, m.ClientHWAddr.String()) })
		if replies == 0 {
			t.Errorf("no reply for our client seen on c0")
		}
		lease := tp.client.Run(t, harness.Binary(t, "cmd/networkctl"), "--root="+croot, "dhcp-lease", "c0")
		if !strings.Contains(lease, strings.Split(addr, "/")[0]) {
			t.Errorf("networkctl dhcp-lease c0 does not show %s:\n%s", addr, lease)
		}
		t.Logf("$ networkctl dhcp-lease c0\n%s", lease)
	})

	// A client on the second downstream link: its lease comes from the
	// 10.3.0.0/24 range, its requests carry circuit id "port2", and the
	// replies go out on its own link only.
	env2 := filepath.Join(tmp, "udhcpc-2.env")
	script2 := filepath.Join(tmp, "udhcpc-2.sh")
	harness.WriteFile(t, script2, "#!/bin/sh\necho \"event=$1\" >> "+env2+"\nenv >> "+env2+"\n", 0o755)
	cli2Cap := ndStartCapture(t, tp.client2, "c1")
	if out, err := tp.client2.Command(busybox, "udhcpc", "-f", "-q", "-n", "-i", "c1",
		"-t", "5", "-T", "1", "-s", script2).CombinedOutput(); err != nil {
		t.Fatalf("udhcpc on the second link: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(env2); !strings.Contains(string(b), "ip=10.3.0.1") {
		t.Fatalf("second link: no lease in 10.3.0.0/24:\n%s", b)
	}
	c1Mac := func() net.HardwareAddr {
		var hw net.HardwareAddr
		tp.client2.DoT(t, func() error {
			ifi, err := net.InterfaceByName("c1")
			if err == nil {
				hw = ifi.HardwareAddr
			}
			return err
		})
		return hw
	}()
	for _, m := range cliCap.all() {
		if m.OpCode == dhcpv4.OpcodeBootReply && m.ClientHWAddr.String() == c1Mac.String() {
			t.Errorf("a reply for the second link's client went out on the first link")
		}
	}
	if replies2 := cli2Cap.replies(t, "on the second link", nil); replies2 < 2 {
		t.Errorf("second link saw %d replies", replies2)
	}

	// What the server saw: relayed requests, giaddr ours, one hop, circuit id rd0
	// (or port2 for the second link).
	var relayed int
	for _, m := range srvCap.all() {
		// A DHCPRELEASE (our client's, at its stop) goes to the server by unicast, unrelayed.
		if m.OpCode != dhcpv4.OpcodeBootRequest || m.MessageType() == dhcpv4.MessageTypeRelease {
			continue
		}
		if m.ClientHWAddr.String() == c1Mac.String() {
			if !m.GatewayIPAddr.Equal(net.IPv4(10, 3, 0, 1)) || m.HopCount != 1 || !bytes.Contains(m.Options[82], []byte("\x01\x05port2")) {
				t.Errorf("relayed request from the second link: giaddr %v hops %d option 82 %q", m.GatewayIPAddr, m.HopCount, m.Options[82])
			}
			continue
		}
		relayed++
		ai := m.Options[82]
		if !m.GatewayIPAddr.Equal(net.IPv4(10, 1, 0, 1)) || m.HopCount != 1 || !bytes.Contains(ai, []byte{1, 3, 'r', 'd', '0'}) {
			t.Errorf("relayed request: giaddr %v hops %d option 82 %q", m.GatewayIPAddr, m.HopCount, ai)
		}
	}
	if relayed < 4 {
		t.Errorf("server saw %d relayed requests, want ≥ 4 (2 DISCOVER + 2 REQUEST)", relayed)
	}
	// dnsmasq echoes option 82 (RFC 3046 §2.2); its log shows it came back
	// with our circuit id, which the relay then removed (checked below).
	if !strings.Contains(dm.String(), "option: 82 agent-id  01:03:72:64:30") {
		t.Errorf("dnsmasq did not log option 82 with circuit id rd0")
	}
	// What the client saw: replies, never with option 82.
	replies := cliCap.replies(t, "to the client", nil)
	if replies < 4 {
		t.Errorf("client saw %d replies, want ≥ 4", replies)
	}
	t.Logf("server saw %d relayed requests, client %d replies", relayed, replies)

	// Crafted requests: 16 hops, a forged giaddr, option 82 from a client
	// are dropped; 15 hops goes through with 16.
	mac := net.HardwareAddr{2, 0, 0, 0, 0x16, 1}
	craft := func(mod func(*dhcpv4.DHCPv4)) dhcpv4.TransactionID {
		m, err := dhcpv4.NewDiscovery(mac)
		if err != nil {
			t.Fatal(err)
		}
		mod(m)
		tp.client.DoT(t, func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
			if err := unix.BindToDevice(fd, "c0"); err != nil {
				return err
			}
			return unix.Sendto(fd, m.ToBytes(), 0, &unix.SockaddrInet4{Port: 67, Addr: [4]byte{255, 255, 255, 255}})
		})
		return m.TransactionID
	}
	x16 := craft(func(m *dhcpv4.DHCPv4) { m.HopCount = 16 })
	xForged := craft(func(m *dhcpv4.DHCPv4) { m.GatewayIPAddr = net.IPv4(192, 0, 2, 1) })
	x82 := craft(func(m *dhcpv4.DHCPv4) { m.Options[82] = []byte{1, 4, 'e', 'v', 'i', 'l'} })
	x15 := craft(func(m *dhcpv4.DHCPv4) { m.HopCount = 15 })
	find := func(x dhcpv4.TransactionID) *dhcpv4.DHCPv4 {
		for _, m := range srvCap.all() {
			if m.TransactionID == x && m.OpCode == dhcpv4.OpcodeBootRequest {
				return m
			}
		}
		return nil
	}
	harness.Eventually(t, "the 15-hop request at the server", 5*time.Second, func() bool { return find(x15) != nil })
	if m := find(x15); m.HopCount != 16 {
		t.Errorf("15-hop request arrived with %d hops", m.HopCount)
	}
	time.Sleep(300 * time.Millisecond)
	for name, x := range map[string]dhcpv4.TransactionID{"16 hops": x16, "forged giaddr": xForged, "client option 82": x82} {
		if m := find(x); m != nil {
			t.Errorf("request with %s was forwarded: %v", name, m.Summary())
		}
	}
	if !strings.Contains(ndOut.String(), "hop count limit") {
		t.Errorf("networkd did not log the hop-limit drop")
	}
	if t.Failed() {
		t.Logf("dnsmasq:\n%s\nnetworkd:\n%s", dm.String(), ndOut.String())
	}
}

// TestNetworkdStatic checks that networkd applies the static settings of a
// .network file: addresses, gateway, routes of several types and tables,
// and a routing policy rule.
func TestNetworkdStatic(t *testing.T) {
	networkd := harness.Binary(t, "cmd/networkd")
	tp := newNDTopo(t)
	root := filepath.Join(t.TempDir(), "root")
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/network/10-c0.network"), `[Match]
Name=c0

[Network]
Address=192.0.2.10/24
Gateway=192.0.2.1

[Address]
Address=198.51.100.7/28

[Route]
Destination=203.0.113.0/24
Gateway=192.0.2.254
Table=100

[Route]
Destination=198.18.0.0/15
Type=prohibit

[RoutingPolicyRule]
FirewallMark=0x10/0xff
Table=100
Priority=1000
`, 0o644)
	cmd := tp.client.Command(networkd, "--root="+root)
	out := harness.StartDaemon(t, cmd).Out
	ip := func(args ...string) string {
		return tp.client.IP(t, args...)
	}
	harness.Eventually(t, "the rule", 10*time.Second, func() bool { return strings.Contains(ip("-4", "rule"), "lookup 100") })
	for _, c := range []struct{ got, want string }{
		{ip("-4", "-o", "addr", "show", "dev", "c0"), "inet 192.0.2.10/24"},
		{ip("-4", "-o", "addr", "show", "dev", "c0"), "inet 198.51.100.7/28"},
		{ip("-4", "route", "show", "default"), "default via 192.0.2.1 dev c0 proto static"},
		{ip("-4", "route", "show", "table", "100"), "203.0.113.0/24 via 192.0.2.254 dev c0 proto static"},
		{ip("-4", "route", "show"), "prohibit 198.18.0.0/15 proto static"},
		{ip("-4", "rule"), "1000:\tfrom all fwmark 0x10/0xff lookup 100"},
	} {
		if !strings.Contains(c.got, c.want) {
			t.Errorf("want %q in\n%s", c.want, c.got)
		}
	}
	if strings.Contains(out.String(), "incomplete") {
		t.Errorf("networkd reported problems:\n%s", out.String())
	}

	// Reload without the second address, the table-100 route and the rule: networkd takes
	// away what it added and the files no longer ask for, and keeps the rest.
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/network/10-c0.network"), "[Match]\nName=c0\n\n[Network]\nAddress=192.0.2.10/24\nGateway=192.0.2.1\n\n[Route]\nDestination=198.18.0.0/15\nType=prohibit\n", 0o644)
	networkctl := harness.Binary(t, "cmd/networkctl")
	tp.client.Run(t, networkctl, "--root="+root, "reload")
	for _, c := range []struct{ got, gone, kept string }{
		{ip("-4", "-o", "addr", "show", "dev", "c0"), "198.51.100.7/28", "inet 192.0.2.10/24"},
		{ip("-4", "route", "show", "table", "100"), "203.0.113.0/24", ""},
		{ip("-4", "rule"), "lookup 100", "lookup main"},
		{ip("-4", "route", "show"), "", "prohibit 198.18.0.0/15"},
	} {
		if c.gone != "" && strings.Contains(c.got, c.gone) {
			t.Errorf("%q still there after reload:\n%s", c.gone, c.got)
		}
		if !strings.Contains(c.got, c.kept) {
			t.Errorf("%q gone after reload:\n%s", c.kept, c.got)
		}
	}
	if !strings.Contains(out.String(), "configuration reloaded") {
		t.Errorf("networkd did not log the reload")
	}
}

// TestNetworkdStaticRestart: what one networkd process added stays on a normal stop (static
// configuration is kept, as upstream keeps it) and is removed by the next process once the
// .network file no longer asks for it, from the record under /run/systemd/netif/stead-static.
func TestNetworkdStaticRestart(t *testing.T) {
	networkd := harness.Binary(t, "cmd/networkd")
	tp := newNDTopo(t)
	root := filepath.Join(t.TempDir(), "root")
	file := filepath.Join(root, "etc/systemd/network/10-c0.network")
	harness.WriteFile(t, file, "[Match]\nName=c0\n\n[Network]\nAddress=192.0.2.10/24\nAddress=198.51.100.7/28\n\n"+
		"[Route]\nDestination=203.0.113.0/24\nGateway=192.0.2.254\nTable=100\n\n"+
		"[RoutingPolicyRule]\nFirewallMark=0x10/0xff\nTable=100\nPriority=1000\n", 0o644)
	ip := func(args ...string) string {
		return tp.client.IP(t, args...)
	}
	start := func() *harness.Daemon {
		return harness.StartDaemon(t, tp.client.Command(networkd, "--root="+root))
	}
	first := start()
	harness.Eventually(t, "the rule", 10*time.Second, func() bool { return strings.Contains(ip("-4", "rule"), "lookup 100") })
	harness.Eventually(t, "the addresses", 10*time.Second, func() bool {
		a := ip("-4", "-o", "addr", "show", "dev", "c0")
		return strings.Contains(a, "192.0.2.10/24") && strings.Contains(a, "198.51.100.7/28")
	})
	ifi := strings.TrimSpace(tp.client.Run(t, "cat", "/sys/class/net/c0/ifindex"))
	rec, err := os.ReadFile(filepath.Join(root, "run/systemd/netif/stead-static", ifi))
	if err != nil || !strings.Contains(string(rec), "198.51.100.7/28") || !strings.Contains(string(rec), `"link":"c0"`) {
		t.Fatalf("record of c0: %v\n%s", err, rec)
	}
	first.Stop() // SIGTERM
	if err := first.Err(); err != nil {
		t.Errorf("networkd stopped with %v", err)
	}
	for _, c := range []struct{ got, want string }{
		{ip("-4", "-o", "addr", "show", "dev", "c0"), "198.51.100.7/28"},
		{ip("-4", "route", "show", "table", "100"), "203.0.113.0/24"},
		{ip("-4", "rule"), "lookup 100"},
	} {
		if !strings.Contains(c.got, c.want) {
			t.Errorf("%q gone when networkd stopped:\n%s", c.want, c.got)
		}
	}

	// A foreign address, added by hand: not networkd's, so it must survive.
	ip("addr", "add", "192.0.2.99/24", "dev", "c0")
	harness.WriteFile(t, file, "[Match]\nName=c0\n\n[Network]\nAddress=192.0.2.10/24\n", 0o644)
	second := start()
	harness.Eventually(t, "the old address to go", 10*time.Second, func() bool {
		return !strings.Contains(ip("-4", "-o", "addr", "show", "dev", "c0"), "198.51.100.7/28")
	})
	harness.Eventually(t, "the old rule to go", 10*time.Second, func() bool { return !strings.Contains(ip("-4", "rule"), "lookup 100") })
	if got := ip("-4", "route", "show", "table", "100"); strings.Contains(got, "203.0.113.0/24") {
		t.Errorf("old route still there:\n%s", got)
	}
	a := ip("-4", "-o", "addr", "show", "dev", "c0")
	if !strings.Contains(a, "192.0.2.10/24") || !strings.Contains(a, "192.0.2.99/24") {
		t.Errorf("kept or foreign address gone:\n%s", a)
	}
	rec, err = os.ReadFile(filepath.Join(root, "run/systemd/netif/stead-static", ifi))
	if err != nil || strings.Contains(string(rec), "198.51.100.7") || !strings.Contains(string(rec), "192.0.2.10/24") {
		t.Errorf("record of c0 after the restart: %v\n%s", err, rec)
	}
	if t.Failed() {
		t.Logf("networkd:\n%s", second.Out.String())
	}
}

// TestNetworkdDHCPRetransmit: with no server on the link, our client sends its DISCOVER again
// (after about 4 s, RFC 2131's backoff; the schedule itself is checked by the dhcpclient unit
// tests) under the same transaction id.
func TestNetworkdDHCPRetransmit(t *testing.T) {
	networkd := harness.Binary(t, "cmd/networkd")
	tp := newNDTopo(t)
	tp.relay.IP(t, "link", "set", "rd0", "up")
	capt := ndStartCapture(t, tp.relay, "rd0")
	croot := filepath.Join(t.TempDir(), "client-root")
	harness.WriteFile(t, filepath.Join(croot, "etc/systemd/network/50-c0.network"), "[Match]\nName=c0\n\n[Network]\nDHCP=ipv4\n", 0o644)
	cmd := tp.client.Command(networkd, "--root="+croot)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug")
	d := harness.StartDaemon(t, cmd)
	discovers := func() []*dhcpv4.DHCPv4 {
		var out []*dhcpv4.DHCPv4
		for _, m := range capt.all() {
			if m.MessageType() == dhcpv4.MessageTypeDiscover {
				out = append(out, m)
			}
		}
		return out
	}
	harness.Eventually(t, "a retransmitted DISCOVER", 20*time.Second, func() bool { return len(discovers()) >= 2 })
	ds := discovers()
	if ds[0].TransactionID != ds[1].TransactionID {
		t.Errorf("retransmission changed the transaction id: %v, %v", ds[0].TransactionID, ds[1].TransactionID)
	}
	if !strings.Contains(d.Out.String(), "DHCPv4 retransmitting") {
		t.Errorf("no retransmission logged:\n%s", d.Out.String())
	}
}

// ndClient starts our networkd as the DHCPv4 client in the client namespace, with its own
// root holding network (the .network file for c0); Stop ends it early, StopWith(unix.SIGUSR2)
// as a restart.
func ndClient(t *testing.T, e *ndRelayEnv, croot, network string) *harness.Daemon {
	harness.WriteFile(t, filepath.Join(croot, "etc/systemd/network/50-c0.network"), network, 0o644)
	cmd := e.tp.client.Command(e.networkd, "--root="+croot)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug")
	return harness.StartDaemon(t, cmd)
}

// ndAddr is c0's IPv4 address with prefix, "" when it has none.
func ndAddr(t *testing.T, e *ndRelayEnv) string {
	addrs := e.tp.client.IP(t, "-4", "-o", "addr", "show", "dev", "c0")
	i := strings.Index(addrs, "inet ")
	if i < 0 {
		return ""
	}
	return strings.Fields(addrs[i:])[1]
}

// TestNetworkdDHCPClient runs our networkd as the DHCPv4 client in the client namespace,
// behind our relay: it must get a lease in the relayed subnet, put address, default route and
// (UseMTU=) the MTU on the link, publish the DNS server and online state, save the lease, renew
// it at T1 by unicast, renew on request, keep the address across a restart
// (SIGUSR2, as upstream's RestartKillSignal=) and move its route on a reload with a new RouteTable=.
func TestNetworkdDHCPClient(t *testing.T) {
	e := ndStartRelay(t, "--dhcp-range=10.1.0.100,10.1.0.150,255.255.255.0,2m", "--dhcp-option=option:T1,3",
		"--dhcp-option=option:mtu,1400", "--dhcp-option=option:dns-server,192.0.2.53")
	croot := filepath.Join(e.tmp, "client-root")
	network := "[Match]\nName=c0\n\n[Network]\nDHCP=yes\n\n[DHCPv4]\nUseMTU=yes\n"
	client := ndClient(t, e, croot, network)
	out := client.Out
	harness.Eventually(t, "a lease", 20*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 lease acquired") })
	addr := ndAddr(t, e)
	if !strings.HasPrefix(addr, "10.1.0.1") || !strings.HasSuffix(addr, "/24") {
		t.Fatalf("no leased address on c0: %q", addr)
	}
	routes := e.tp.client.IP(t, "-4", "route", "show", "default")
	if !strings.Contains(routes, "via 10.1.0.1 dev c0") {
		t.Errorf("no default route via the relay: %q", routes)
	}
	if l := e.tp.client.IP(t, "link", "show", "c0"); !strings.Contains(l, "mtu 1400") {
		t.Errorf("UseMTU=yes: MTU not taken from option 26:\n%s", l)
	}
	leases, _ := filepath.Glob(filepath.Join(croot, "run/systemd/netif/leases/*"))
	if len(leases) != 1 {
		t.Fatalf("lease files: %v", leases)
	}
	b, _ := os.ReadFile(leases[0])
	if !strings.Contains(string(b), "ADDRESS="+strings.Split(addr, "/")[0]) || !strings.Contains(string(b), "T1=3") {
		t.Errorf("lease file:\n%s", b)
	}
	t.Logf("leased %s; lease file %s", addr, leases[0])
	// The link state file, as upstream writes it: online state and the lease's DNS server.
	idx := filepath.Base(leases[0])
	stateFile := filepath.Join(croot, "run/systemd/netif/links", idx)
	harness.Eventually(t, "c0's state file to say online", 10*time.Second, func() bool {
		b, _ := os.ReadFile(stateFile)
		return strings.Contains(string(b), "ONLINE_STATE=online") && strings.Contains(string(b), "DNS=192.0.2.53")
	})
	if b, _ := os.ReadFile(filepath.Join(croot, "run/systemd/netif/state")); !strings.Contains(string(b), "ONLINE_STATE=online") {
		t.Errorf("manager state file:\n%s", b)
	}

	// networkctl, over io.systemd.Network: list, status, dhcp-lease, text and JSON.
	networkctl := harness.Binary(t, "cmd/networkctl")
	ctl := func(args ...string) string {
		t.Helper()
		return e.tp.client.Run(t, networkctl, append([]string{"--root=" + croot}, args...)...)
	}
	list := ctl("list")
	if !regexp.MustCompile(`(?m)^\s*\d+ c0\s+ether\s+routable\s+configured$`).MatchString(list) || !strings.Contains(list, "links listed.") {
		t.Errorf("networkctl list:\n%s", list)
	}
	ip := strings.Split(addr, "/")[0]
	status := ctl("status", "c0")
	for _, want := range []string{"State: routable (configured)", "Online state: online", "Address: " + ip + " (DHCPv4 via 10.2.0.2)",
		"DNS: 192.0.2.53", "Gateway: 10.1.0.1", "MTU: 1400", "Required For Online: yes"} {
		if !strings.Contains(status, want) {
			t.Errorf("networkctl status c0 lacks %q:\n%s", want, status)
		}
	}
	if s := ctl("status"); !strings.Contains(s, "Online state: online") || !strings.Contains(s, ip+" (DHCPv4 via 10.2.0.2) on c0") {
		t.Errorf("networkctl status:\n%s", s)
	}
	var js struct {
		Interfaces []struct{ Name, OnlineState string }
	}
	if err := json.Unmarshal([]byte(ctl("--json=short", "list")), &js); err != nil || len(js.Interfaces) < 2 {
		t.Errorf("networkctl --json=short list: %v %+v", err, js)
	}
	text := ctl("dhcp-lease", "c0")
	t.Logf("$ networkctl status c0\n%s$ networkctl dhcp-lease c0\n%s", status, text)
	for _, re := range []string{`(?m)^\s+Client Address: ` + regexp.QuoteMeta(ip) + `$`, `(?m)^Relay Agent Address: 10\.1\.0\.1$`,
		`(?m)^\s+54 server identifier\s+10\.2\.0\.2$`, `(?m)^\s+51 lease time\s+2min$`, `(?m)^\s+26 interface mtu\s+1400$`} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("networkctl dhcp-lease lacks %s:\n%s", re, text)
		}
	}
	var rep struct {
		Address string
		Options []struct {
			Code  int
			Value string
		}
	}
	lj := ctl("--json=short", "dhcp-lease", "c0", "3:ipv4address", "51:uint32")
	if err := json.Unmarshal([]byte(lj), &rep); err != nil || rep.Address != addr || len(rep.Options) != 2 ||
		rep.Options[0].Code != 3 || rep.Options[0].Value != "10.1.0.1" || rep.Options[1].Value != "120" {
		t.Errorf("networkctl --json=short dhcp-lease: %v\n%s", err, lj)
	}
	if o, err := e.tp.client.Command(networkctl, "--root="+croot, "dhcp-lease", "lo").CombinedOutput(); err == nil {
		t.Errorf("dhcp-lease lo succeeded:\n%s", o)
	}

	// networkd-wait-online: c0 is online; a link that does not exist never is.
	wait := harness.Binary(t, "cmd/networkd-wait-online")
	if o, err := e.tp.client.Command(wait, "--root="+croot, "-i", "c0", "--timeout=20").CombinedOutput(); err != nil {
		t.Errorf("wait-online -i c0: %v\n%s", err, o)
	}
	if o, err := e.tp.client.Command(wait, "--root="+croot, "--timeout=20").CombinedOutput(); err != nil {
		t.Errorf("wait-online (all managed links): %v\n%s", err, o)
	}
	if o, err := e.tp.client.Command(wait, "--root="+croot, "-i", "nosuch0", "--timeout=1").CombinedOutput(); err == nil || !strings.Contains(string(o), "nosuch0 (not present)") {
		t.Errorf("wait-online -i nosuch0: %v\n%s", err, o)
	}

	// The renewal at T1 goes unicast to the server: it arrives there not relayed (no giaddr),
	// from the leased address in ciaddr.
	harness.Eventually(t, "the renewal at T1", 15*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 lease renewed") })
	unicast := false
	for _, m := range e.srvCap.all() {
		if m.MessageType() == dhcpv4.MessageTypeRequest && m.ClientIPAddr.String() == ip && m.GatewayIPAddr.IsUnspecified() {
			unicast = true
		}
	}
	if !unicast {
		t.Errorf("the server saw no unicast renewal from %s", ip)
	}
	// networkctl renew asks for one at once.
	n := strings.Count(out.String(), "DHCPv4 lease renewed")
	ctl("renew", "c0")
	harness.Eventually(t, "the requested renewal", 10*time.Second, func() bool {
		return strings.Contains(out.String(), "DHCPv4 renewal requested") && strings.Count(out.String(), "DHCPv4 lease renewed") > n
	})
	// Transaction ids, as the server saw them: the DISCOVER and the REQUEST answering its
	// OFFER share one; every renewal draws a new one.
	xids := map[dhcpv4.TransactionID]int{}
	var discover, selecting []dhcpv4.TransactionID
	renewals := 0
	for _, m := range e.srvCap.all() {
		switch {
		case m.OpCode != dhcpv4.OpcodeBootRequest:
		case m.MessageType() == dhcpv4.MessageTypeDiscover:
			discover = append(discover, m.TransactionID)
		case m.MessageType() == dhcpv4.MessageTypeRequest && m.ClientIPAddr.IsUnspecified():
			selecting = append(selecting, m.TransactionID)
		case m.MessageType() == dhcpv4.MessageTypeRequest && m.ClientIPAddr.String() == ip:
			renewals++
			xids[m.TransactionID]++
		}
	}
	if len(discover) == 0 || len(selecting) == 0 || discover[0] != selecting[0] {
		t.Errorf("DISCOVER xids %v, selecting REQUEST xids %v: want the first of each equal", discover, selecting)
	}
	if renewals < 2 || len(xids) != renewals || len(discover) > 0 && xids[discover[0]] != 0 {
		t.Errorf("%d renewals under %d transaction ids %v (the DISCOVER's: %v): want one new id each", renewals, len(xids), xids, discover)
	}

	// Restart the way upstream's unit does it (RestartKillSignal=SIGUSR2): nothing is
	// released although KeepConfiguration= is unset, the saved lease is applied at once and
	// the address stays.
	client.StopWith(unix.SIGUSR2)
	if strings.Contains(out.String(), "DHCPv4 lease released") {
		t.Errorf("lease released on a restart (SIGUSR2)")
	}
	if got := ndAddr(t, e); got != addr {
		t.Errorf("address not kept while networkd was down for a restart: was %s, now %q", addr, got)
	}
	out2 := ndClient(t, e, croot, network).Out
	harness.Eventually(t, "the saved lease", 10*time.Second, func() bool { return strings.Contains(out2.String(), "using saved lease") })
	if got := ndAddr(t, e); got != addr {
		t.Errorf("address changed across restart: was %s, now %q", addr, got)
	}
	harness.Eventually(t, "a renewal after the restart", 15*time.Second, func() bool { return strings.Contains(out2.String(), "DHCPv4 lease renewed") })

	// Reload with RouteTable=100: the client is restarted with the new setting, keeps its
	// address and moves the default route to table 100.
	harness.WriteFile(t, filepath.Join(croot, "etc/systemd/network/50-c0.network"), network+"RouteTable=100\n", 0o644)
	ctl("reload")
	harness.Eventually(t, "the default route in table 100", 10*time.Second, func() bool {
		return strings.Contains(e.tp.client.IP(t, "-4", "route", "show", "table", "100"), "default via 10.1.0.1 dev c0 proto dhcp")
	})
	if r := e.tp.client.IP(t, "-4", "route", "show", "default"); strings.Contains(r, "default via") {
		t.Errorf("default route still in the main table: %q", r)
	}
	if got := ndAddr(t, e); got != addr {
		t.Errorf("address changed across the reload: was %s, now %q", addr, got)
	}
	e.cliCap.replies(t, "to the client", nil)
}

// TestNetworkdDHCPRelease: stopping networkd (SendRelease= and KeepConfiguration= at their
// defaults) sends DHCPRELEASE, so dnsmasq forgets the lease, and takes the address away; a
// reload that turns DHCP off does the same.
func TestNetworkdDHCPRelease(t *testing.T) {
	e := ndStartRelay(t, "--dhcp-range=10.1.0.100,10.1.0.150,255.255.255.0,2m")
	leaseFile := filepath.Join(e.tmp, "dnsmasq.leases")
	croot := filepath.Join(e.tmp, "client-root")
	for _, how := range []string{"stop", "reload"} {
		client := ndClient(t, e, croot, "[Match]\nName=c0\n\n[Network]\nDHCP=yes\n")
		out := client.Out
		harness.Eventually(t, "a lease", 20*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 lease acquired") })
		ip := strings.Split(ndAddr(t, e), "/")[0]
		harness.Eventually(t, "dnsmasq's lease file to list "+ip, 10*time.Second, func() bool {
			b, _ := os.ReadFile(leaseFile)
			return strings.Contains(string(b), " "+ip+" ")
		})
		if how == "stop" {
			client.Stop()
		} else {
			harness.WriteFile(t, filepath.Join(croot, "etc/systemd/network/50-c0.network"), "[Match]\nName=c0\n\n[Network]\nDHCP=no\n", 0o644)
			e.tp.client.Run(t, harness.Binary(t, "cmd/networkctl"), "--root="+croot, "reload")
		}
		harness.Eventually(t, how+": dnsmasq to drop the lease of "+ip, 10*time.Second, func() bool {
			b, _ := os.ReadFile(leaseFile)
			return !strings.Contains(string(b), " "+ip+" ")
		})
		if !strings.Contains(e.dnsmasqOut.String(), "DHCPRELEASE(s0) "+ip) {
			t.Errorf("%s: dnsmasq logged no DHCPRELEASE for %s", how, ip)
		}
		if a := ndAddr(t, e); a != "" {
			t.Errorf("%s: c0 still has %s", how, a)
		}
		if leases, _ := filepath.Glob(filepath.Join(croot, "run/systemd/netif/leases/*")); len(leases) != 0 {
			t.Errorf("%s: lease files left: %v", how, leases)
		}
		client.Stop()
	}
}

// TestNetworkdDHCPLinkRecreated: when the client's link is deleted and created again under
// the same name, a reload starts a client on the new link, which gets a lease and puts the
// address on it (the old client only knew the old link's index).
func TestNetworkdDHCPLinkRecreated(t *testing.T) {
	e := ndStartRelay(t, "--dhcp-range=10.1.0.100,10.1.0.150,255.255.255.0,2m")
	croot := filepath.Join(e.tmp, "client-root")
	client := ndClient(t, e, croot, "[Match]\nName=c0\n\n[Network]\nDHCP=yes\n")
	out := client.Out
	harness.Eventually(t, "a lease", 20*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 lease acquired") })
	oldIdx := strings.TrimSpace(e.tp.client.Run(t, "cat", "/sys/class/net/c0/ifindex"))

	// Deleting c0 takes its peer rd0 along; both come back, the relay reconfigures rd0.
	e.tp.client.IP(t, "link", "del", "c0")
	e.tp.relay.IP(t, "link", "add", "rd0", "type", "veth", "peer", "name", "c0", "netns", e.tp.client.Name)
	e.tp.client.IP(t, "link", "set", "c0", "up")
	networkctl := harness.Binary(t, "cmd/networkctl")
	e.tp.relay.Run(t, networkctl, "--root="+filepath.Join(e.tmp, "root"), "reload")
	newIdx := strings.TrimSpace(e.tp.client.Run(t, "cat", "/sys/class/net/c0/ifindex"))
	if newIdx == oldIdx {
		t.Fatalf("c0 kept ifindex %s", oldIdx)
	}
	e.tp.client.Run(t, networkctl, "--root="+croot, "reload")
	harness.Eventually(t, "a leased address on the new c0", 20*time.Second, func() bool { return strings.HasPrefix(ndAddr(t, e), "10.1.0.1") })
	if _, err := os.Stat(filepath.Join(croot, "run/systemd/netif/leases", newIdx)); err != nil {
		t.Errorf("no lease file for the new c0: %v", err)
	}
	if t.Failed() {
		t.Logf("networkd:\n%s", out.String())
	}
}

// TestNetworkdDHCPRebind: when the server cannot answer the unicast renewals (its route back
// to the client's subnet is gone; only the relay's address stays reachable), the client
// rebinds at T2 with a broadcast REQUEST, which our relay forwards, and keeps its address.
func TestNetworkdDHCPRebind(t *testing.T) {
	e := ndStartRelay(t, "--dhcp-range=10.1.0.100,10.1.0.150,255.255.255.0,2m", "--dhcp-option=option:T1,3", "--dhcp-option=option:T2,9")
	croot := filepath.Join(e.tmp, "client-root")
	out := ndClient(t, e, croot, "[Match]\nName=c0\n\n[Network]\nDHCP=yes\n").Out
	harness.Eventually(t, "a lease", 20*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 lease acquired") })
	addr := ndAddr(t, e)
	ip := strings.Split(addr, "/")[0]
	e.tp.server.IP(t, "route", "del", "10.1.0.0/24")
	e.tp.server.IP(t, "route", "add", "10.1.0.1/32", "via", "10.2.0.1")
	harness.Eventually(t, "an unanswered renewal", 20*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 renewal failed") })
	harness.Eventually(t, "the rebinding", 30*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 lease rebound") })
	rebind := false
	for _, m := range e.srvCap.all() {
		if m.MessageType() == dhcpv4.MessageTypeRequest && m.ClientIPAddr.String() == ip &&
			m.GatewayIPAddr.Equal(net.IPv4(10, 1, 0, 1)) && m.HopCount == 1 {
			rebind = true
		}
	}
	if !rebind {
		t.Errorf("the server saw no relayed REQUEST with ciaddr %s", ip)
	}
	if got := ndAddr(t, e); got != addr {
		t.Errorf("address changed: was %s, now %q", addr, got)
	}
}

// TestNetworkdDHCPExpiry: a server that answers once (a 10 s lease, T1 2 s, T2 5 s) and then
// falls silent. The client
// renews from T1 (unicast) and rebinds from T2 (broadcast), unanswered, and when the lease
// runs out it drops the address and the lease file and starts over. The server is a few
// lines on insomniacslk/dhcp's server4 in the server namespace: dnsmasq's shortest lease is
// two minutes.
func TestNetworkdDHCPExpiry(t *testing.T) {
	var answer atomic.Bool
	answer.Store(true)
	e := ndStartRelayWith(t, func(e *ndRelayEnv) {
		var conn net.PacketConn
		e.tp.server.DoT(t, func() (err error) {
			conn, err = server4.NewIPv4UDPConn("s0", &net.UDPAddr{Port: 67})
			return err
		})
		sid := net.IPv4(10, 2, 0, 2).To4()
		handler := func(c net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
			mt := dhcpv4.MessageTypeOffer
			switch {
			case !answer.Load() || m.GatewayIPAddr.IsUnspecified():
				return
			case m.MessageType() == dhcpv4.MessageTypeRequest:
				mt = dhcpv4.MessageTypeAck
				answer.Store(false) // one lease, then silence
			case m.MessageType() != dhcpv4.MessageTypeDiscover:
				return
			}
			r, err := dhcpv4.NewReplyFromRequest(m, dhcpv4.WithMessageType(mt), dhcpv4.WithYourIP(net.IPv4(10, 1, 0, 77)),
				dhcpv4.WithServerIP(sid), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sid)),
				dhcpv4.WithNetmask(net.CIDRMask(24, 32)), dhcpv4.WithRouter(net.IPv4(10, 1, 0, 1)),
				dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(10*time.Second)),
				dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(2*time.Second)),
				dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(5*time.Second)))
			if err == nil {
				c.WriteTo(r.ToBytes(), &net.UDPAddr{IP: m.GatewayIPAddr, Port: 67})
			}
		}
		srv, err := server4.NewServer("", nil, handler, server4.WithConn(conn))
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve()
		t.Cleanup(func() { srv.Close() })
	})
	croot := filepath.Join(e.tmp, "client-root")
	out := ndClient(t, e, croot, "[Match]\nName=c0\n\n[Network]\nDHCP=yes\n").Out
	harness.Eventually(t, "a lease", 20*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 lease acquired") })
	if a := ndAddr(t, e); a != "10.1.0.77/24" {
		t.Fatalf("c0 has %q, want 10.1.0.77/24", a)
	}
	harness.Eventually(t, "the lease to expire", 20*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 lease expired") })
	o := out.String()
	iRenew, iRebind, iExpire := strings.Index(o, "DHCPv4 renewal failed"), strings.Index(o, "DHCPv4 rebinding failed"), strings.Index(o, "DHCPv4 lease expired")
	if iRenew < 0 || iRebind < iRenew || iExpire < iRebind {
		t.Errorf("want renewal, rebinding, expiry in that order (at %d, %d, %d)", iRenew, iRebind, iExpire)
	}
	if a := ndAddr(t, e); a != "" {
		t.Errorf("c0 keeps %s after the lease expired", a)
	}
	if leases, _ := filepath.Glob(filepath.Join(croot, "run/systemd/netif/leases/*")); len(leases) != 0 {
		t.Errorf("lease files left: %v", leases)
	}
	if r := e.tp.client.IP(t, "-4", "route", "show", "default"); r != "" {
		t.Errorf("default route left: %q", r)
	}
}
