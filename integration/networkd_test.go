//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/integration/harness"
)

// ndTopo is three network namespaces on two veth pairs:
//
//	client [c0] ——— [rd0 10.1.0.1/24] relay [rs0 10.2.0.1/24] ——— [s0 10.2.0.2/24] server
//
// Nothing runs in, or touches, the host's own namespace.
type ndTopo struct {
	client, relay, server string
	// client2 hangs off a second downstream link: [c1] ——— [rd1 10.3.0.1/24] relay
	client2 string
}

func ndRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newNDTopo(t *testing.T) *ndTopo {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	p := fmt.Sprintf("stead-nd-%d-", os.Getpid())
	tp := &ndTopo{client: p + "c", relay: p + "r", server: p + "s", client2: p + "c2"}
	for _, ns := range []string{tp.client, tp.relay, tp.server, tp.client2} {
		ndRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		ndRun(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	// Both pairs are created inside the relay namespace, then one end moved.
	ndRun(t, "ip", "-n", tp.relay, "link", "add", "rd0", "type", "veth", "peer", "name", "c0", "netns", tp.client)
	ndRun(t, "ip", "-n", tp.relay, "link", "add", "rs0", "type", "veth", "peer", "name", "s0", "netns", tp.server)
	ndRun(t, "ip", "-n", tp.relay, "link", "add", "rd1", "type", "veth", "peer", "name", "c1", "netns", tp.client2)
	// rd0 and rs0 get their addresses, and go up, from networkd's .network files.
	ndRun(t, "ip", "-n", tp.server, "addr", "add", "10.2.0.2/24", "dev", "s0")
	for _, l := range [][2]string{{tp.server, "s0"}, {tp.client, "c0"}, {tp.client2, "c1"}} {
		ndRun(t, "ip", "-n", l[0], "link", "set", l[1], "up")
	}
	ndRun(t, "ip", "-n", tp.server, "route", "add", "10.1.0.0/24", "via", "10.2.0.1")
	ndRun(t, "ip", "-n", tp.server, "route", "add", "10.3.0.0/24", "via", "10.2.0.1")
	ndRun(t, "ip", "netns", "exec", tp.relay, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	return tp
}

// ndInNS runs f on an OS thread switched into namespace ns; sockets created
// there stay in ns after the thread returns to the host namespace.
func ndInNS(t *testing.T, ns string, f func() error) {
	t.Helper()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- err
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		ferr := f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err // thread stays locked and dies with the goroutine
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// ndCapture records the DHCP messages arriving on ifname in ns (UDP to port
// 67 or 68), read from an AF_PACKET socket that sees the IP packets.
type ndCapture struct {
	mu   sync.Mutex
	msgs []*dhcpv4.DHCPv4
	fd   int
}

func ndStartCapture(t *testing.T, ns, ifname string) *ndCapture {
	c := &ndCapture{fd: -1}
	ndInNS(t, ns, func() error {
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

func ndHtons(v uint16) uint16 { return v<<8 | v>>8 }

// ndDaemon starts cmd and stops it (by its pid) at cleanup.
func ndDaemon(t *testing.T, cmd *exec.Cmd) *harness.SyncBuffer {
	out, _ := ndDaemonStop(t, cmd)
	return out
}

// ndDaemonStop is ndDaemon that also returns a function stopping the
// process early (SIGTERM, then SIGKILL after 5 s); calling it twice is fine.
func ndDaemonStop(t *testing.T, cmd *exec.Cmd) (*harness.SyncBuffer, func()) {
	out := &harness.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Signal(unix.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", strings.Join(cmd.Args, " "), out.String())
		}
	})
	return out, stop
}

func ndWaitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ndWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

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
	dnsmasq, err := exec.LookPath("dnsmasq")
	if err != nil {
		t.Skip("dnsmasq not installed (apt-get install dnsmasq-base)")
	}
	e := &ndRelayEnv{networkd: harness.Binary(t, "cmd/networkd"), tp: newNDTopo(t), tmp: t.TempDir()}
	tp, tmp := e.tp, e.tmp

	// Server: dnsmasq, DHCP only, serving the relayed client subnet.
	args := append([]string{"netns", "exec", tp.server, dnsmasq,
		"--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=s0", "--bind-interfaces",
		"--no-ping", "--log-dhcp", "--log-facility=-",
		"--dhcp-leasefile=" + filepath.Join(tmp, "dnsmasq.leases"), "--pid-file="}, dnsmasqExtra...)
	e.dnsmasqOut = ndDaemon(t, exec.Command("ip", args...))
	e.srvCap = ndStartCapture(t, tp.server, "s0")
	e.cliCap = ndStartCapture(t, tp.client, "c0")

	// Relay: our networkd with a root holding only its configuration.
	root := filepath.Join(tmp, "root")
	ndWrite(t, filepath.Join(root, "etc/systemd/networkd.conf"), "[DHCPRelay]\nServerAddress=10.2.0.2\n")
	ndWrite(t, filepath.Join(root, "etc/systemd/network/10-down.network"),
		"[Match]\nName=rd0\n\n[Network]\nAddress=10.1.0.1/24\nDHCPRelay=downstream\n")
	ndWrite(t, filepath.Join(root, "etc/systemd/network/11-down2.network"),
		"[Match]\nName=rd1\n\n[Network]\nAddress=10.3.0.1/24\nDHCPRelay=downstream\n\n[DHCPRelay]\nCircuitId=string:port2\n")
	ndWrite(t, filepath.Join(root, "etc/systemd/network/20-up.network"),
		"[Match]\nName=rs0\n\n[Network]\nAddress=10.2.0.1/24\nDHCPRelay=upstream\n")
	nd := exec.Command("ip", "netns", "exec", tp.relay, e.networkd, "--root="+root)
	nd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug")
	e.ndOut = ndDaemon(t, nd)
	ndWaitFor(t, "the relay to start", 10*time.Second, func() bool { return strings.Contains(e.ndOut.String(), "DHCP relay started") })
	return e
}

func TestNetworkdRelay(t *testing.T) {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed")
	}
	e := ndStartRelay(t, "--dhcp-range=10.1.0.100,10.1.0.150,255.255.255.0,1h", "--dhcp-range=10.3.0.100,10.3.0.150,255.255.255.0,1h")
	tp, tmp, dm, ndOut, srvCap, cliCap := e.tp, e.tmp, e.dnsmasqOut, e.ndOut, e.srvCap, e.cliCap

	// busybox udhcpc, once asking for broadcast replies (-B) and once for
	// unicast ones (delivered by the relay as link-layer frames).
	for _, mode := range []string{"broadcast", "unicast"} {
		t.Run("udhcpc-"+mode, func(t *testing.T) {
			env := filepath.Join(tmp, "udhcpc-"+mode+".env")
			script := filepath.Join(tmp, "udhcpc-"+mode+".sh")
			ndWrite(t, script, "#!/bin/sh\necho \"event=$1\" >> "+env+"\nenv >> "+env+"\n")
			os.Chmod(script, 0o755)
			args := []string{"netns", "exec", tp.client, busybox, "udhcpc", "-f", "-q", "-n", "-i", "c0",
				"-t", "5", "-T", "1", "-s", script, "-O", "82"}
			if mode == "broadcast" {
				args = append(args, "-B")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
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

	// A client on the second downstream link: its lease comes from the
	// 10.3.0.0/24 range, its requests carry circuit id "port2", and the
	// replies go out on its own link only.
	env2 := filepath.Join(tmp, "udhcpc-2.env")
	script2 := filepath.Join(tmp, "udhcpc-2.sh")
	ndWrite(t, script2, "#!/bin/sh\necho \"event=$1\" >> "+env2+"\nenv >> "+env2+"\n")
	os.Chmod(script2, 0o755)
	cli2Cap := ndStartCapture(t, tp.client2, "c1")
	if out, err := exec.Command("ip", "netns", "exec", tp.client2, busybox, "udhcpc", "-f", "-q", "-n", "-i", "c1",
		"-t", "5", "-T", "1", "-s", script2).CombinedOutput(); err != nil {
		t.Fatalf("udhcpc on the second link: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(env2); !strings.Contains(string(b), "ip=10.3.0.1") {
		t.Fatalf("second link: no lease in 10.3.0.0/24:\n%s", b)
	}
	c1Mac := func() net.HardwareAddr {
		var hw net.HardwareAddr
		ndInNS(t, tp.client2, func() error {
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
	var replies2 int
	for _, m := range cli2Cap.all() {
		if m.OpCode == dhcpv4.OpcodeBootReply {
			replies2++
			if _, has := m.Options[82]; has {
				t.Errorf("option 82 leaked on the second link")
			}
		}
	}
	if replies2 < 2 {
		t.Errorf("second link saw %d replies", replies2)
	}

	// What the server saw: relayed requests, giaddr ours, one hop, circuit id rd0
	// (or port2 for the second link).
	var relayed int
	for _, m := range srvCap.all() {
		if m.OpCode != dhcpv4.OpcodeBootRequest {
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
	var replies int
	for _, m := range cliCap.all() {
		if m.OpCode == dhcpv4.OpcodeBootReply {
			replies++
			if _, has := m.Options[82]; has {
				t.Errorf("option 82 leaked to the client: %v", m.Summary())
			}
		}
	}
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
		ndInNS(t, tp.client, func() error {
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
	ndWaitFor(t, "the 15-hop request at the server", 5*time.Second, func() bool { return find(x15) != nil })
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
	ndWrite(t, filepath.Join(root, "etc/systemd/network/10-c0.network"), `[Match]
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
`)
	cmd := exec.Command("ip", "netns", "exec", tp.client, networkd, "--root="+root)
	out, _ := ndDaemonStop(t, cmd)
	ip := func(args ...string) string {
		return ndRun(t, append([]string{"ip", "-n", tp.client}, args...)...)
	}
	ndWaitFor(t, "the rule", 10*time.Second, func() bool { return strings.Contains(ip("-4", "rule"), "lookup 100") })
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
}

// TestNetworkdDHCPClient runs our networkd as the DHCPv4 client in the
// client namespace, behind our relay: it must get a lease in the relayed
// subnet, put address and default route on the link, save the lease,
// renew it at T1, and keep the address across a restart.
func TestNetworkdDHCPClient(t *testing.T) {
	e := ndStartRelay(t, "--dhcp-range=10.1.0.100,10.1.0.150,255.255.255.0,2m", "--dhcp-option=option:T1,3")
	croot := filepath.Join(e.tmp, "client-root")
	ndWrite(t, filepath.Join(croot, "etc/systemd/network/50-c0.network"), "[Match]\nName=c0\n\n[Network]\nDHCP=yes\n")
	start := func() (*harness.SyncBuffer, func()) {
		cmd := exec.Command("ip", "netns", "exec", e.tp.client, e.networkd, "--root="+croot)
		cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug")
		return ndDaemonStop(t, cmd)
	}
	out, stop := start()
	ndWaitFor(t, "a lease", 20*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 lease acquired") })
	addrs := ndRun(t, "ip", "-n", e.tp.client, "-4", "-o", "addr", "show", "dev", "c0")
	if !strings.Contains(addrs, "inet 10.1.0.1") || !strings.Contains(addrs, "/24") {
		t.Fatalf("no leased address on c0:\n%s", addrs)
	}
	addr := strings.Fields(addrs[strings.Index(addrs, "inet "):])[1]
	routes := ndRun(t, "ip", "-n", e.tp.client, "-4", "route", "show", "default")
	if !strings.Contains(routes, "via 10.1.0.1 dev c0") {
		t.Errorf("no default route via the relay: %q", routes)
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
	// networkctl in the client namespace: list and dhcp-lease, text and JSON.
	networkctl := harness.Binary(t, "cmd/networkctl")
	list := ndRun(t, "ip", "netns", "exec", e.tp.client, networkctl, "--root="+croot, "list")
	if !regexp.MustCompile(`(?m)^\s*\d+ c0\s+ether\s+routable\s+configured$`).MatchString(list) || !strings.Contains(list, "links listed.") {
		t.Errorf("networkctl list:\n%s", list)
	}
	text := ndRun(t, "ip", "netns", "exec", e.tp.client, networkctl, "--root="+croot, "dhcp-lease", "c0")
	if !strings.Contains(text, "Address: "+addr) || !strings.Contains(text, "Server: 10.2.0.2") {
		t.Errorf("networkctl dhcp-lease:\n%s", text)
	}
	var rep struct {
		Address string
		Options []struct {
			Code  int
			Value string
		}
	}
	js := ndRun(t, "ip", "netns", "exec", e.tp.client, networkctl, "--root="+croot, "--json=short", "dhcp-lease", "c0", "3:ipv4address", "51:uint32")
	if err := json.Unmarshal([]byte(js), &rep); err != nil || rep.Address != addr || len(rep.Options) != 2 ||
		rep.Options[0].Code != 3 || rep.Options[0].Value != "10.1.0.1" || rep.Options[1].Value != "120" {
		t.Errorf("networkctl --json=short dhcp-lease: %v\n%s", err, js)
	}
	ndWaitFor(t, "the renewal at T1", 15*time.Second, func() bool { return strings.Contains(out.String(), "DHCPv4 lease renewed") })

	// Restart: the saved lease is applied at once and the address stays.
	stop()
	out2, _ := start()
	ndWaitFor(t, "the saved lease", 10*time.Second, func() bool { return strings.Contains(out2.String(), "using saved lease") })
	if got := ndRun(t, "ip", "-n", e.tp.client, "-4", "-o", "addr", "show", "dev", "c0"); !strings.Contains(got, "inet "+addr) {
		t.Errorf("address changed across restart: was %s, now\n%s", addr, got)
	}
	ndWaitFor(t, "a renewal after the restart", 15*time.Second, func() bool { return strings.Contains(out2.String(), "DHCPv4 lease renewed") })
	for _, m := range e.cliCap.all() {
		if _, has := m.Options[82]; has && m.OpCode == dhcpv4.OpcodeBootReply {
			t.Errorf("option 82 leaked to the client")
		}
	}
}
