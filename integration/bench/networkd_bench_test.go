//go:build integration

package bench

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/netns"
)

// Relay throughput and time-to-lease, ours against the usual tools, in one topology of three
// network namespaces (nothing runs in the host's):
//
//	client [c0] ——— [rd0 10.1.0.1/24] relay [rs0 10.2.0.1/24] ——— [s0 10.2.0.2/24] server
//
// Throughput: a Go load generator in the client namespace broadcasts DISCOVERs (broadcast
// flag set, distinct xids, a bounded number outstanding) and counts the OFFERs that come back
// through the relay from a minimal Go responder in the server namespace. Our networkd and
// ISC dhcrelay (Debian package isc-dhcp-relay) relay in turn. Time-to-lease: our networkd's
// DHCPv4 client and busybox udhcpc against dnsmasq behind our relay, from process start to
// the address being on c0. Figures are printed, never asserted. They run only with
// STEAD_BENCH=1:
//
//	STEAD_BENCH=1 go test -tags integration -run TestNetworkdBench -v ./integration/bench/

type ndBenchTopo struct{ client, relay, server *netns.NS }

// ndBenchGate skips unless STEAD_BENCH is set: these measure rather than check, for seconds
// each, and the test suite leaves them out.
func ndBenchGate(t *testing.T) {
	if os.Getenv("STEAD_BENCH") == "" {
		t.Skip("a measurement: run with STEAD_BENCH=1")
	}
}

func newNDBenchTopo(t *testing.T) *ndBenchTopo {
	ndBenchGate(t)
	r := netns.NewRelay(t, "ndb-")
	r.AddrRelay(t)
	return &ndBenchTopo{client: r.Client, relay: r.Relay, server: r.Server}
}

// ndbRelayRoot writes the configuration of our networkd as the relay (rd0 downstream, rs0
// upstream, the server 10.2.0.2) under root.
func ndbRelayRoot(t *testing.T, root string) {
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/networkd.conf"), "[DHCPRelay]\nServerAddress=10.2.0.2\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/network/10-down.network"), "[Match]\nName=rd0\n\n[Network]\nAddress=10.1.0.1/24\nDHCPRelay=downstream\n", 0o644)
	harness.WriteFile(t, filepath.Join(root, "etc/systemd/network/20-up.network"), "[Match]\nName=rs0\n\n[Network]\nAddress=10.2.0.1/24\nDHCPRelay=upstream\n", 0o644)
}

func udpSocket(t *testing.T, ifname string, port int, bcast bool) int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if bcast {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
	}
	if err := unix.BindToDevice(fd, ifname); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port}); err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	return fd
}

// startResponder answers every relayed DISCOVER with an OFFER sent back to giaddr:67,
// echoing option 82 (RFC 3046) and the broadcast flag.
func startResponder(t *testing.T, ns *netns.NS) {
	var fd int
	ns.DoT(t, func() error { fd = udpSocket(t, "s0", 67, false); return nil })
	t.Cleanup(func() { unix.Close(fd) })
	go func() {
		buf := make([]byte, 2048)
		sid := net.IPv4(10, 2, 0, 2).To4()
		for {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return
			}
			req, err := dhcpv4.FromBytes(buf[:n])
			if err != nil || req.GatewayIPAddr.IsUnspecified() {
				continue
			}
			rep, err := dhcpv4.NewReplyFromRequest(req,
				dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer),
				dhcpv4.WithServerIP(sid),
				dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sid)),
				dhcpv4.WithOption(dhcpv4.OptSubnetMask(net.CIDRMask(24, 32))),
				dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(time.Hour)))
			if err != nil {
				continue
			}
			rep.YourIPAddr = net.IPv4(10, 1, 0, byte(100+req.TransactionID[3]%100)).To4()
			rep.Flags = req.Flags
			if o := req.Options.Get(dhcpv4.OptionRelayAgentInformation); o != nil {
				rep.Options.Update(dhcpv4.OptGeneric(dhcpv4.OptionRelayAgentInformation, o))
			}
			gi := req.GatewayIPAddr.To4()
			unix.Sendto(fd, rep.ToBytes(), 0, &unix.SockaddrInet4{Port: 67, Addr: [4]byte(gi)})
		}
	}()
}

// loadResult is one throughput run.
type loadResult struct {
	sent, got int64
	dur       time.Duration
}

// runLoad keeps up to window DISCOVERs outstanding for d and counts the OFFERs coming back.
// A window that sees no reply for 100 ms is considered lost and refilled.
func runLoad(t *testing.T, ns *netns.NS, d time.Duration, window int64) loadResult {
	var fd int
	ns.DoT(t, func() error { fd = udpSocket(t, "c0", 68, true); return nil })
	defer unix.Close(fd)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 50000})
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	tmpl, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithBroadcast(true))
	if err != nil {
		t.Fatal(err)
	}
	raw := tmpl.ToBytes()
	var outstanding, got, sent atomic.Int64
	var lastRecv atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // receiver
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil || n < 240 || buf[0] != 2 {
				continue
			}
			got.Add(1)
			outstanding.Add(-1)
			lastRecv.Store(time.Now().UnixNano())
		}
	}()
	dst := &unix.SockaddrInet4{Port: 67, Addr: [4]byte{255, 255, 255, 255}}
	start := time.Now()
	lastRecv.Store(start.UnixNano())
	var xid uint32
	for time.Since(start) < d {
		if outstanding.Load() >= window {
			if time.Now().UnixNano()-lastRecv.Load() > int64(100*time.Millisecond) {
				outstanding.Store(0) // the window was lost
				lastRecv.Store(time.Now().UnixNano())
			}
			runtime.Gosched()
			continue
		}
		xid++
		raw[4], raw[5], raw[6], raw[7] = byte(xid>>24), byte(xid>>16), byte(xid>>8), byte(xid)
		if err := unix.Sendto(fd, raw, 0, dst); err != nil {
			continue
		}
		sent.Add(1)
		outstanding.Add(1)
	}
	dur := time.Since(start)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	return loadResult{sent: sent.Load(), got: got.Load(), dur: dur}
}

func (r loadResult) rate() float64 { return float64(r.got) / r.dur.Seconds() }

// TestNetworkdBenchRelayThroughput compares DISCOVER→OFFER pairs per second through our
// relay and through ISC dhcrelay.
func TestNetworkdBenchRelayThroughput(t *testing.T) {
	tp := newNDBenchTopo(t)
	startResponder(t, tp.server)
	const dur, window, rounds = 2 * time.Second, 64, 3
	results := map[string][]loadResult{}

	networkd := harness.Binary(t, "cmd/networkd")
	root := t.TempDir()
	ndbRelayRoot(t, root)
	dhcrelay, err := exec.LookPath("dhcrelay")
	if err != nil {
		t.Log("dhcrelay not installed (apt-get install isc-dhcp-relay): no comparison")
	}
	// The relays take turns, several rounds each, so neither profits from running first.
	for round := 0; round < rounds; round++ {
		d := harness.StartDaemon(t, tp.relay.Command(networkd, "--root="+root))
		out := d.Out
		harness.Eventually(t, "our relay to start", 10*time.Second, func() bool {
			return strings.Contains(out.String(), "DHCP relay started")
		}, harness.Output("networkd", out))
		runLoad(t, tp.client, 300*time.Millisecond, window) // warm-up
		results["stead networkd"] = append(results["stead networkd"], runLoad(t, tp.client, dur, window))
		d.Stop()
		if dhcrelay == "" {
			continue
		}
		d = harness.StartDaemon(t, tp.relay.Command(dhcrelay, "-d", "-4", "-q",
			"-pf", filepath.Join(root, "dhcrelay.pid"), "-id", "rd0", "-iu", "rs0", "10.2.0.2"))
		time.Sleep(500 * time.Millisecond)
		if r := runLoad(t, tp.client, 300*time.Millisecond, window); r.got == 0 {
			t.Errorf("dhcrelay relays nothing:\n%s", d.Out.String())
		}
		results["ISC dhcrelay"] = append(results["ISC dhcrelay"], runLoad(t, tp.client, dur, window))
		d.Stop()
	}
	median := func(rs []loadResult) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = r.rate()
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "relay throughput (DISCOVER→OFFER pairs/s, window %d, %d rounds of %s):\n", window, rounds, dur)
	for _, k := range []string{"stead networkd", "ISC dhcrelay"} {
		if rs, ok := results[k]; ok {
			fmt.Fprintf(&b, "  %-15s median %7.0f /s  rounds:", k, median(rs))
			for _, r := range rs {
				fmt.Fprintf(&b, " %.0f (%d/%d)", r.rate(), r.got, r.sent)
			}
			fmt.Fprintln(&b)
		}
	}
	if o, ok := results["ISC dhcrelay"]; ok && median(o) > 0 {
		fmt.Fprintf(&b, "  ratio of medians ours/dhcrelay: %.2f\n", median(results["stead networkd"])/median(o))
	}
	fmt.Print(b.String())
	t.Log(b.String())
}

// TestNetworkdBenchTimeToLease times our DHCPv4 client and busybox udhcpc, from process
// start to the leased address on c0, against dnsmasq behind our relay.
func TestNetworkdBenchTimeToLease(t *testing.T) {
	ndBenchGate(t)
	dnsmasq := harness.NeedCommand(t, "dnsmasq", "dnsmasq-base")
	tp := newNDBenchTopo(t)
	tmp := t.TempDir()
	harness.StartDaemon(t, tp.server.Command(dnsmasq, "--no-daemon", "--conf-file=/dev/null",
		"--port=0", "--interface=s0", "--bind-interfaces", "--no-ping", "--dhcp-authoritative",
		"--dhcp-range=10.1.0.100,10.1.0.200,255.255.255.0,1h", "--dhcp-leasefile="+filepath.Join(tmp, "leases"), "--pid-file="))
	networkd := harness.Binary(t, "cmd/networkd")
	root := filepath.Join(tmp, "relay")
	ndbRelayRoot(t, root)
	rout := harness.StartDaemon(t, tp.relay.Command(networkd, "--root="+root)).Out
	harness.Eventually(t, "the relay to start", 10*time.Second, func() bool {
		return strings.Contains(rout.String(), "DHCP relay started")
	}, harness.Output("networkd", rout))
	hasAddr := func() bool {
		out, _ := exec.Command("ip", "-n", tp.client.Name, "-4", "-o", "addr", "show", "dev", "c0").Output()
		return strings.Contains(string(out), "inet 10.1.0.")
	}
	timeIt := func(name string, cmd func(i int) *exec.Cmd) []time.Duration {
		var ds []time.Duration
		for i := 0; i < 5; i++ {
			exec.Command("ip", "-n", tp.client.Name, "addr", "flush", "dev", "c0").Run()
			start := time.Now()
			d := harness.StartDaemon(t, cmd(i))
			for !hasAddr() {
				if time.Since(start) > 20*time.Second {
					t.Fatalf("%s: no lease:\n%s", name, d.Out.String())
				}
				time.Sleep(2 * time.Millisecond)
			}
			ds = append(ds, time.Since(start))
			d.Stop()
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds
	}
	ours := timeIt("networkd", func(i int) *exec.Cmd {
		croot := filepath.Join(tmp, fmt.Sprint("client-", i)) // fresh root: no saved lease
		harness.WriteFile(t, filepath.Join(croot, "etc/systemd/network/50-c0.network"), "[Match]\nName=c0\n\n[Network]\nDHCP=yes\n", 0o644)
		return tp.client.Command(networkd, "--root="+croot)
	})
	var theirs []time.Duration
	if busybox, err := exec.LookPath("busybox"); err == nil {
		script := filepath.Join(tmp, "udhcpc.sh")
		harness.WriteFile(t, script, "#!/bin/sh\n[ \"$1\" = bound ] && ip addr add \"$ip/${mask:-24}\" dev \"$interface\"\nexit 0\n", 0o755)
		theirs = timeIt("udhcpc", func(int) *exec.Cmd {
			return tp.client.Command(busybox, "udhcpc", "-f", "-n", "-i", "c0", "-t", "5", "-T", "1", "-s", script)
		})
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "time to lease (process start → address on c0, 5 runs, sorted):\n  stead networkd %v\n", ours)
	if theirs != nil {
		fmt.Fprintf(&b, "  busybox udhcpc %v\n  median ours/udhcpc: %.2f\n", theirs, float64(ours[2])/float64(theirs[2]))
	}
	fmt.Print(b.String())
	t.Log(b.String())
}
