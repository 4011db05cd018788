//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/netns"
)

// imdsSetupEnv is the input both imdsd --setup-network runs get: the network mode, both
// addresses.
func imdsSetupEnv(mode string) []string {
	return append([]string{"SYSTEMD_PROC_CMDLINE=systemd.imds.network=" + mode}, imdsEndpointEnv...)
}

var imdsEndpointEnv = []string{"SYSTEMD_IMDS_VENDOR=amazon-ec2", "SYSTEMD_IMDS_DATA_URL=http://169.254.169.254/latest",
	"SYSTEMD_IMDS_ADDRESS_IPV4=169.254.169.254", "SYSTEMD_IMDS_ADDRESS_IPV6=fd00:ec2::254"}

// imdsLockTable is the table (and firewall mark) of the locked file, 0x7FFF0815.
const imdsLockTable = "2147420181"

// imdsVethDropin widens the file's [Match] to the test's veth: Kind=!* selects plain devices
// (physical NICs) only, and a veth has the kind "veth" for both networkds. The empty
// assignment resets the list in both; nothing else of the file is changed.
const imdsVethDropin = "[Match]\nKind=\n"

// TestNetworkdIMDSLockedFile applies the .network file imdsd --setup-network writes, in locked
// and in unlocked mode, with our networkd and with upstream's (systemd 262), each in a fresh
// namespace with the same veth (same names, same MAC addresses), and compares the routes and
// rules they leave. Upstream's networkd runs only inside its namespace, chrooted into the
// upstream root.
func TestNetworkdIMDSLockedFile(t *testing.T) {
	up := harness.NeedUpstream(t)
	for _, mode := range []string{"locked", "unlocked"} {
		t.Run(mode, func(t *testing.T) { testNetworkdIMDSFile(t, up, mode) })
	}
}

func testNetworkdIMDSFile(t *testing.T, up *harness.Upstream, mode string) {
	locked := mode == "locked"
	networkd := harness.Binary(t, "cmd/networkd")
	stage, _ := up.Stage(t)

	// Our imdsd's file.
	ourRoot := filepath.Join(stage, "imdsd-ours-"+mode)
	cmd := exec.Command(imdsdBinary(t), "--root="+ourRoot, "--setup-network")
	cmd.Env = append(os.Environ(), imdsSetupEnv(mode)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("imdsd --setup-network: %v\n%s", err, out)
	}
	ours := imdsReadFile(t, filepath.Join(ourRoot, "run/systemd/network/85-imds-early.network"))

	// Upstream imdsd's file, written in a scratch namespace (it only writes files).
	upRun := filepath.Join(stage, "imdsd-upstream-run-"+mode)
	os.MkdirAll(upRun, 0o755)
	scratch := netns.New(t, "imds-w")
	if out, err := ndUpstream(t, up, scratch, upRun, append(append([]string{"env"}, imdsSetupEnv(mode)...),
		"/usr/lib/systemd/systemd-imdsd", "--setup-network")...); err != nil {
		t.Fatalf("upstream systemd-imdsd --setup-network: %v\n%s", err, out)
	}
	theirs := imdsReadFile(t, filepath.Join(upRun, "systemd/network/85-imds-early.network"))

	files := []struct{ name, content string }{{"our imdsd", ours}}
	if imdsSettings(ours) != imdsSettings(theirs) {
		t.Logf("upstream imdsd's file differs from ours:\n%s", theirs)
		files = append(files, struct{ name, content string }{"upstream imdsd", theirs})
	} else {
		t.Logf("upstream imdsd's file has the same settings as ours (comments aside)")
	}
	for _, f := range files {
		t.Run(strings.ReplaceAll(f.name, " ", "-"), func(t *testing.T) {
			oursOut, oursLog := imdsApply(t, up, networkd, f.content, false, locked)
			upOut, upLog := imdsApply(t, up, networkd, f.content, true, locked)
			t.Logf("%s, our networkd:\n%s", f.name, oursOut)
			if oursOut != upOut {
				t.Errorf("routes and rules differ\nours:\n%s\nupstream:\n%s\nour log:\n%s\nupstream log:\n%s", oursOut, upOut, oursLog, upLog)
			}
			for _, want := range []string{
				"unicast 169.254.169.254 dev eth0 table " + imdsLockTable + " proto static scope link",
				"unicast fd00:ec2::254 dev eth0 table " + imdsLockTable + " proto static",
				"from all fwmark 0x7fff0815 lookup " + imdsLockTable,
			} {
				if !strings.Contains(oursOut, want) {
					t.Errorf("our networkd lacks %q", want)
				}
			}
			// The lock itself: only in locked mode.
			if got := strings.Contains(oursOut, "prohibit 169.254.169.254 "); got != locked {
				t.Errorf("%s: prohibit route present %v", mode, got)
			}
			// The only report on the file is the setting stead cannot act on.
			for _, l := range strings.Split(oursLog, "\n") {
				if (strings.Contains(l, " WARN ") || strings.Contains(l, " ERROR ")) && !strings.Contains(l, "UseTimezone") {
					t.Errorf("our networkd reported: %s", l)
				}
			}
		})
	}
}

func imdsReadFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// settings is a .network file without comments and blank lines.
func imdsSettings(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && l[0] != '#' && l[0] != ';' {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// imdsApply runs one networkd (ours, or upstream's when upstream is set) on file in a fresh
// namespace whose eth0 is one end of a veth with fixed MAC addresses, waits until the
// rules and routes of the file are in (or 20 s), and returns the namespace's routes and rules,
// normalised, with the networkd's output.
func imdsApply(t *testing.T, up *harness.Upstream, networkd, file string, upstream, locked bool) (string, string) {
	t.Helper()
	role := "imds-ours"
	if upstream {
		role = "imds-up"
	}
	ns, peer := netns.New(t, role), netns.New(t, role+"-p")
	netns.Veth(t, ns, "eth0", peer, "p0")
	// Down while the MAC changes, so that the IPv6 link-local address follows it.
	for _, l := range []struct {
		ns        *netns.NS
		name, mac string
	}{{ns, "eth0", "02:00:00:00:0a:01"}, {peer, "p0", "02:00:00:00:0a:02"}} {
		l.ns.IP(t, "link", "set", l.name, "down")
		l.ns.IP(t, "link", "set", l.name, "address", l.mac)
		l.ns.IP(t, "link", "set", l.name, "up")
	}

	// A short path: our networkd's Varlink socket lives under it (sun_path is 108 bytes).
	dir, err := os.MkdirTemp("", "nd-imds-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run := filepath.Join(dir, "run")
	harness.WriteFile(t, filepath.Join(run, "systemd/network/85-imds-early.network"), file, 0o644)
	harness.WriteFile(t, filepath.Join(run, "systemd/network/85-imds-early.network.d/50-test-veth.conf"), imdsVethDropin, 0o644)

	var cmd *exec.Cmd
	if upstream {
		// As ndUpstream, plus a read-only sysfs of the namespace: upstream takes read-only
		// /sys as "no udev" and configures links without waiting for udev.
		script := "mount --bind '" + run + "' '" + up.Dir + "/run' && mount -t proc proc '" + up.Dir + "/proc' && " +
			"mount -t sysfs -o ro sysfs '" + up.Dir + "/sys' && exec chroot '" + up.Dir + "' /usr/lib/systemd/systemd-networkd"
		cmd = ns.Command("sh", "-c", script)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_LOG_TARGET=console", "SYSTEMD_LOG_LEVEL=debug",
			"SYSTEMD_COLORS=0", "LANG=C.UTF-8", "SYSTEMD_IGNORE_CHROOT=1"}
	} else {
		cmd = ns.Command(networkd, "--root="+dir)
		cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug")
	}
	d := harness.StartDaemon(t, cmd)
	snapshot := func() string { return imdsRoutesRules(t, ns) }
	done := harness.Poll(20*time.Second, func() bool {
		s := snapshot()
		return strings.Count(s, "lookup "+imdsLockTable) == 2 && strings.Count(s, "table "+imdsLockTable) == 2 &&
			(!locked || strings.Contains(s, "prohibit 169.254.169.254") && strings.Contains(s, "prohibit fd00:ec2::254"))
	})
	if !done {
		t.Logf("%s: the lock-down routes and rules did not all appear within 20 s", role)
	}
	// Let anything else the networkd does at start (IPv6 link-local, DHCP attempts) settle.
	time.Sleep(2 * time.Second)
	s := snapshot()
	d.Stop()
	return s, d.Out.String()
}

var (
	// The kernel counts "used" references and, for IPv6 routes learnt or cached, an expiry;
	// neither is configuration.
	imdsExpires = regexp.MustCompile(` expires -?\d+sec`)
	imdsBlank   = regexp.MustCompile(`\s+`)
)

// imdsRoutesRules is `ip -d route show table all` and `ip rule` of both families in ns,
// normalised: blank runs become one space, kernel-kept expiry times go, and the lines are
// sorted (the kernel lists routes of a table in its own order, which need not follow the
// order they were added in). Protocol names come from the same ip on both sides, and
// interface names and MAC (thus link-local) addresses are the same by construction.
func imdsRoutesRules(t *testing.T, ns *netns.NS) string {
	var lines []string
	for _, args := range [][]string{
		{"-4", "-d", "route", "show", "table", "all"}, {"-6", "-d", "route", "show", "table", "all"},
		{"-4", "rule"}, {"-6", "rule"},
	} {
		out, err := exec.Command("ip", append([]string{"-n", ns.Name}, args...)...).CombinedOutput()
		if err != nil {
			t.Errorf("ip %s: %v %s", strings.Join(args, " "), err, out)
			continue
		}
		fam := args[0]
		for _, l := range strings.Split(string(out), "\n") {
			if l = strings.TrimSpace(imdsBlank.ReplaceAllString(imdsExpires.ReplaceAllString(l, ""), " ")); l != "" {
				lines = append(lines, fam+" "+map[bool]string{true: "rule", false: "route"}[args[1] == "rule"]+": "+l)
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}
