package imdsd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// netnsTopology is two network namespaces joined by two veth pairs:
//
//	client c0 10.231.0.1/24 ── s0 10.231.0.2/24 server (metadata server on :80)
//	client c1 10.232.0.1/24 ── s1 10.232.0.2/24 server (nothing listening for c1's subnet)
//
// The server namespace answers ARP only on the interface holding the address asked for, so
// requests bound to c1 cannot reach 10.231.0.2 (a socket bound to an interface makes Linux
// treat any destination as on-link when the routes do not fit).
//
// In the client namespace a rule sends traffic marked 0x7FFF0815 to table 0x7FFF0815, whose
// route to the server picks the source address 10.231.0.77 (also on c0): the server sees
// whether a request carried the mark. (A prohibit route, as systemd.imds.network=locked
// writes, cannot show it: bound sockets bypass it the same way.)
type netnsTopology struct {
	t            *testing.T
	client, srvr string
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func newNetnsTopology(t *testing.T) *netnsTopology {
	if os.Getuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command")
	}
	n := &netnsTopology{t: t,
		client: fmt.Sprintf("stead-imds-%d-c", os.Getpid()),
		srvr:   fmt.Sprintf("stead-imds-%d-s", os.Getpid())}
	if out, err := exec.Command("ip", "netns", "add", n.client).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", n.client).Run()
		exec.Command("ip", "netns", "del", n.srvr).Run()
	})
	ipCmd(t, "netns", "add", n.srvr)
	for i, pfx := range []string{"10.231.0", "10.232.0"} {
		c, s := fmt.Sprintf("c%d", i), fmt.Sprintf("s%d", i)
		ipCmd(t, "link", "add", c, "netns", n.client, "type", "veth", "peer", "name", s, "netns", n.srvr)
		ipCmd(t, "-n", n.client, "addr", "add", pfx+".1/24", "dev", c)
		ipCmd(t, "-n", n.srvr, "addr", "add", pfx+".2/24", "dev", s)
		ipCmd(t, "-n", n.client, "link", "set", c, "up")
		ipCmd(t, "-n", n.srvr, "link", "set", s, "up")
	}
	ipCmd(t, "-n", n.client, "link", "set", "lo", "up")
	ipCmd(t, "-n", n.srvr, "link", "set", "lo", "up")
	ipCmd(t, "-n", n.client, "addr", "add", "10.231.0.77/32", "dev", "c0")
	ipCmd(t, "-n", n.client, "route", "add", "10.231.0.2/32", "dev", "c0", "src", "10.231.0.77", "table", "2147420181")
	ipCmd(t, "-n", n.client, "rule", "add", "fwmark", "0x7FFF0815", "table", "2147420181", "priority", "100")
	if out, err := exec.Command("ip", "netns", "exec", n.srvr, "sh", "-c",
		"echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore").CombinedOutput(); err != nil {
		t.Fatalf("arp_ignore: %v %s", err, out)
	}
	return n
}

// startServer runs the metadata server inside the server namespace.
func (n *netnsTopology) startServer(listen string) {
	t := n.t
	cmd := exec.Command("ip", "netns", "exec", n.srvr, os.Args[0])
	cmd.Env = append(os.Environ(), "IMDS_TEST_ROLE=netns-server", "IMDS_TEST_LISTEN="+listen)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("server: %q %v", line, err)
	}
}

// runClient starts the client inside the client namespace; wait collects its outcomes.
func (n *netnsTopology) runClient(root string, scenarios []scenario) (wait func() map[string]outcome) {
	t := n.t
	b, _ := json.Marshal(scenarios)
	cmd := exec.Command("ip", "netns", "exec", n.client, os.Args[0])
	cmd.Env = append(os.Environ(), "IMDS_TEST_ROLE=netns-client", "IMDS_TEST_SCENARIOS="+string(b),
		"IMDS_TEST_DATA_URL=http://10.231.0.2", "IMDS_TEST_ROOT="+root)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() map[string]outcome {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("client: %v", err)
		}
		var res []outcome
		if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
			t.Fatalf("client output %q: %v", out.String(), err)
		}
		m := map[string]outcome{}
		for _, r := range res {
			m[r.Name] = r
		}
		return m
	}
}

func TestNetnsInterfacesMarksAndPorts(t *testing.T) {
	n := newNetnsTopology(t)
	n.startServer("10.231.0.2:80")
	root := t.TempDir()
	res := n.runClient(root, []scenario{
		{Name: "scan", Params: GetParams{Key: ptr("/hostname")}},
		{Name: "port", Params: GetParams{Key: ptr("/port"), Cache: ptr(false)}, Iface: "c0"},
		{Name: "wrong-interface", Params: GetParams{Key: ptr("/hostname"), Cache: ptr(false)}, Iface: "c1"},
		{Name: "marked", Params: GetParams{Key: ptr("/addr"), Cache: ptr(false)}, Iface: "c0"},
		{Name: "unmarked", Params: GetParams{Key: ptr("/addr"), Cache: ptr(false), FirewallMark: ptr(int64(0))}, Iface: "c0"},
		{Name: "other-mark", Params: GetParams{Key: ptr("/addr"), Cache: ptr(false), FirewallMark: ptr(int64(7))}, Iface: "c0"},
	})()

	if r := res["scan"]; r.Err != "" || r.Data != "piff" || r.Iface != "c0" {
		t.Errorf("scan: %+v, want piff through c0", r)
	}
	if r := res["port"]; r.Err != "" || atoi(r.Data) < 1 || atoi(r.Data) > 1023 {
		t.Errorf("source port: %+v, want 1…1023", r)
	}
	if r := res["wrong-interface"]; r.Err == "" {
		t.Errorf("request bound to c1 reached a server only c0 leads to: %+v", r)
	}
	if r := res["marked"]; r.Err != "" || r.Data != "10.231.0.77" {
		t.Errorf("marked request: %+v, want it routed through table 0x7FFF0815 (source 10.231.0.77)", r)
	}
	for _, name := range []string{"unmarked", "other-mark"} {
		if r := res[name]; r.Err != "" || r.Data != "10.231.0.1" {
			t.Errorf("%s request: %+v, want it routed through the main table (source 10.231.0.1)", name, r)
		}
	}
	if b, err := os.ReadFile(root + "/run/ifname"); err != nil || strings.TrimSpace(string(b)) != "c0" {
		t.Errorf("pinned interface: %q %v", b, err)
	}
}

func TestNetnsWaitForAddress(t *testing.T) {
	n := newNetnsTopology(t)
	n.startServer("10.231.0.2:80")
	ipCmd(t, "-n", n.client, "addr", "flush", "dev", "c0")
	ipCmd(t, "-n", n.client, "addr", "flush", "dev", "c1")
	wait := n.runClient(t.TempDir(), []scenario{
		{Name: "wait", Params: GetParams{Key: ptr("/hostname"), Wait: ptr(true)}},
	})
	time.Sleep(500 * time.Millisecond)
	ipCmd(t, "-n", n.client, "addr", "add", "10.231.0.1/24", "dev", "c0")
	if r := wait()["wait"]; r.Err != "" || r.Data != "piff" || r.Iface != "c0" {
		t.Errorf("after the address appeared: %+v", r)
	}
}
