//go:build integration

package integration

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/fakecloud"
	"github.com/stead-os/stead/integration/harness"
	"golang.org/x/sys/unix"
)

// TestIMDSSecurity checks that Get is refused to unprivileged peers, and what locked network
// mode (imdsd --setup-network, applied with ip as networkd would) keeps out.
func TestIMDSSecurity(t *testing.T) {
	harness.NeedCommand(t, "socat", "socat")
	tp := newIMDSTopo(t, "amazon-ec2")
	// A root the nobody user can traverse to reach the socket (mode 0666).
	dir, err := os.MkdirTemp("", "stead-imds-sec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	root := imdsRoot(t, dir, tp.Prov)
	harness.WriteFile(t, filepath.Join(root, "proc/cmdline"), "quiet systemd.imds.network=locked\n", 0o644)
	sock, _ := tp.startOurIMDSD(t, root, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialIMDS(t, ctx, sock)
	want := tp.Prov.Expected[fakecloud.KeyHostname]

	t.Run("unprivileged-peer", func(t *testing.T) {
		asNobody := func(call string) string {
			cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
				"socat", "-t5", "-", "UNIX-CONNECT:"+sock)
			cmd.Stdin = strings.NewReader(call + "\x00")
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("socat as uid 65534: %v", err)
			}
			return strings.TrimRight(string(out), "\x00")
		}
		out := asNobody(`{"method":"io.systemd.InstanceMetadata.Get","parameters":{"wellKnown":"hostname"}}`)
		if !strings.Contains(out, `"error":"org.varlink.service.PermissionDenied"`) || strings.Contains(out, `"data"`) {
			t.Errorf("Get as uid 65534: %s, want PermissionDenied", out)
		}
		out = asNobody(`{"method":"io.systemd.InstanceMetadata.GetVendorInfo","parameters":{}}`)
		if !strings.Contains(out, `"vendor":"amazon-ec2"`) {
			t.Errorf("GetVendorInfo as uid 65534: %s", out)
		}
		if r := imdsGet(t, ctx, c, map[string]any{"wellKnown": "hostname"}); r.Err != "" || r.Data != want {
			t.Errorf("Get as root: %s", r)
		}
	})

	t.Run("locked", func(t *testing.T) {
		cmd := tp.Inst.Command(imdsdBinary(t), "--root="+root, "--setup-network")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("imdsd --setup-network: %v\n%s", err, out)
		}
		network, err := os.ReadFile(filepath.Join(root, "run/systemd/network/85-imds-early.network"))
		if err != nil {
			t.Fatal(err)
		}
		// Apply the [Route] and [RoutingPolicyRule] sections as networkd would, on eth0,
		// replacing the test's plain route.
		tp.Inst.IP(t, "route", "del", "169.254.169.254/32", "dev", "eth0")
		applied := applyNetworkFile(t, tp, string(network))
		t.Logf("applied: %s", strings.Join(applied, "; "))
		if len(applied) < 3 {
			t.Fatalf("locked .network lacks the prohibit route, table route or rule:\n%s", network)
		}
		imdsAddr := "169.254.169.254:80"

		// A plain (unmarked, unbound) socket hits the prohibit route.
		if conn, err := tp.Inst.Dial("tcp4", imdsAddr, &net.Dialer{Timeout: 2 * time.Second}); err == nil {
			conn.Close()
			t.Errorf("plain dial to %s from the instance succeeded in locked mode", imdsAddr)
		} else if !errorsIsErrno(err, syscall.EACCES) {
			t.Errorf("plain dial: %v, want EACCES (prohibit route)", err)
		} else {
			t.Logf("plain dial: %v", err)
		}
		// An ordinary program (curl; this host's busybox wget segfaults on any URL), unprivileged.
		curl := tp.Inst.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"curl", "-sS", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", "http://169.254.169.254/latest/meta-data/hostname")
		if out, err := curl.CombinedOutput(); err == nil {
			t.Errorf("curl (uid 65534, unbound) reached the metadata service in locked mode: %q", out)
		} else {
			t.Logf("curl (uid 65534, unbound): %v %s", err, strings.TrimSpace(string(out)))
		}
		// A marked socket (what imdsd makes) is routed through table 0x7FFF0815.
		marked := &net.Dialer{Timeout: 2 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, 0x7FFF0815) })
			return serr
		}}
		if conn, err := tp.Inst.Dial("tcp4", imdsAddr, marked); err != nil {
			t.Errorf("marked dial: %v", err)
		} else {
			conn.Close()
		}
		// imdsd gets through.
		if r := imdsGet(t, ctx, c, map[string]any{"wellKnown": "hostname", "cache": false}); r.Err != "" || r.Data != want {
			t.Errorf("imdsd Get in locked mode: %s", r)
		}

		// What the lock does not stop (kernel behaviour, reported, not asserted): a socket
		// bound to the interface (SO_BINDTODEVICE) treats a failed route lookup as "on link"
		// (ip_route_output_key_hash_rcu), so it passes the prohibit route even unmarked.
		r := imdsGet(t, ctx, c, map[string]any{"wellKnown": "hostname", "cache": false, "firewallMark": 0})
		t.Logf("imdsd Get with firewallMark=0 (unmarked, bound to eth0): %s", r)
		// Since Linux 5.7 an unprivileged process may set SO_BINDTODEVICE on an unbound socket.
		curl = tp.Inst.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"curl", "-sS", "-m", "2", "--interface", "if!eth0", "-o", "/dev/null", "-w", "%{http_code}",
			"http://169.254.169.254/latest/meta-data/hostname")
		out, err := curl.CombinedOutput()
		t.Logf("uid 65534, curl --interface if!eth0 (SO_BINDTODEVICE, unmarked): %v %s", err, strings.TrimSpace(string(out)))
		if err == nil && strings.TrimSpace(string(out)) != "000" {
			t.Logf("FINDING: an unprivileged process reaches the metadata service in locked mode " +
				"by binding its socket to the interface; the prohibit route is no boundary against it")
		}
	})
}

// applyNetworkFile turns the [Route] and [RoutingPolicyRule] sections of a .network file into
// ip commands in the instance namespace (link eth0); it returns what it ran.
func applyNetworkFile(t *testing.T, tp *imdsTopo, content string) []string {
	t.Helper()
	var done []string
	var section string
	kv := map[string]string{}
	flush := func() {
		defer func() { kv = map[string]string{} }()
		var args []string
		switch section {
		case "Route":
			dest := kv["Destination"]
			if dest == "" {
				return
			}
			if kv["Type"] != "" && kv["Type"] != "unicast" {
				args = []string{"route", "add", kv["Type"], dest}
			} else {
				args = []string{"route", "add", dest, "dev", "eth0"}
				if kv["Scope"] != "" {
					args = append(args, "scope", kv["Scope"])
				}
			}
			if kv["Table"] != "" {
				args = append(args, "table", kv["Table"])
			}
			if strings.Contains(dest, ":") {
				args = append([]string{"-6"}, args...)
			}
		case "RoutingPolicyRule":
			args = []string{"rule", "add", "fwmark", kv["FirewallMark"], "table", kv["Table"]}
			if kv["Family"] == "ipv6" {
				args = append([]string{"-6"}, args...)
			}
		default:
			return
		}
		if strings.Contains(strings.Join(args, " "), ":") { // IPv6 (no v6 in this topology)
			return
		}
		tp.Inst.IP(t, args...)
		done = append(done, "ip "+strings.Join(args, " "))
	}
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		if l[0] == '[' {
			flush()
			section = strings.Trim(l, "[]")
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok {
			kv[k] = v
		}
	}
	flush()
	return done
}

func errorsIsErrno(err error, e syscall.Errno) bool {
	for err != nil {
		if x, ok := err.(syscall.Errno); ok {
			return x == e
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
