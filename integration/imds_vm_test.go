//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/fakecloud"
	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm"
	"github.com/stead-os/stead/integration/vm/suite"
	"github.com/stead-os/stead/services/pcrextend"
)

// imdsVMUserData is the user data of the VM scenarios: two credentials, one as text, one as
// Base64 data.
const imdsVMUserData = `{"systemd.credentials":[{"name":"vm.greeting","text":"hello from the fake cloud"},` +
	`{"name":"vm.blob","data":"AAECAw=="}]}`

// imdsVMBoot boots the stead suite as a cloud instance of srv's cloud (suite.Cloud) with
// stead's init as PID 1 and waits for default.target.
func imdsVMBoot(t *testing.T, srv *fakecloud.Server, addr, network string, tpm bool) *vm.VM {
	t.Helper()
	files, err := suite.Files(harness.RepoRoot(), func(pkg string) (string, error) { return harness.Binary(t, pkg), nil })
	if err != nil {
		t.Fatal(err)
	}
	c := suite.Cloud{Provider: srv.Info(), IMDS: addr, Network: network, TPM: tpm}
	o, err := c.Options(vm.Options{Init: harness.Binary(t, "cmd/init"), Agent: vm.AgentByInit, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	m := vm.Boot(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := m.WaitConsole(ctx, `msg="reached default.target"`); err != nil {
		t.Fatal(err)
	}
	reached := regexp.MustCompile(`msg="reached default.target" uptime=(\S+s)\r?\n`)
	harness.Poll(5*time.Second, func() bool { return reached.MatchString(m.Console()) }) // the line's end may lag
	if mm := reached.FindStringSubmatch(m.Console()); mm != nil {
		t.Logf("default.target reached at guest uptime %s", mm[1])
	}
	return m
}

// imdsVMStart starts a fake cloud on the host's loopback and returns it with its address.
func imdsVMStart(t *testing.T, vendor string, opts ...fakecloud.Option) (*fakecloud.Server, string) {
	t.Helper()
	srv, err := fakecloud.New(vendor, opts...)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close(); l.Close() })
	return srv, l.Addr().String()
}

// asNobody runs a shell command line as the user nobody (busybox su; nobody's login shell is
// /bin/false).
func asNobody(cmdline string) []string {
	return []string{"su", "-s", "/bin/sh", "-c", cmdline, "nobody"}
}

// imdsVMState is a unit's active state, through init's own Varlink call.
func imdsVMState(t *testing.T, m *vm.VM, name string) string {
	t.Helper()
	return initVMUnit(t, m, name).Runtime.ActiveState
}

// imdsVMCheckBoot checks what every cloud boot must show: the generator's links, the units'
// states, the DHCP lease on eth0, the imported credentials (mode 0400 in a 0700 directory, no
// leftovers), and the host name applied from firstboot.hostname.
func imdsVMCheckBoot(t *testing.T, m *vm.VM, prov fakecloud.ProviderInfo, hostname string, creds map[string]string) {
	t.Run("Generator", func(t *testing.T) {
		for _, l := range []string{"sysinit.target.wants/systemd-imds-early-network.service",
			"sockets.target.wants/systemd-imdsd.socket", "sockets.target.wants/systemd-imds-metrics.socket",
			"sysinit.target.wants/systemd-imds-import.service"} {
			m.MustRun(t, "test", "-L", "/run/systemd/generator.early/"+l) // imds-generator writes early links
		}
	})
	t.Run("Units", func(t *testing.T) {
		for name, want := range map[string]string{
			"systemd-imds-early-network.service":   "active",
			"systemd-networkd.service":             "active",
			"systemd-networkd-wait-online.service": "active",
			"systemd-imdsd.socket":                 "active",
			"systemd-imdsd.service":                "active", // started by the import's connection
			"systemd-imds-import.service":          "active",
			"systemd-firstboot.service":            "active",
			"default.target":                       "active",
		} {
			if got := imdsVMState(t, m, name); got != want {
				t.Errorf("%s: %s, want %s", name, got, want)
			}
		}
		// imdsd runs as its own user (units/stead-imds.sysusers) with the socket it was given.
		pid := strings.TrimSpace(m.MustRun(t, "sh", "-c", "for p in /proc/[0-9]*; do [ \"$(cat $p/comm)\" = imdsd ] && basename $p; done; true"))
		if pid == "" {
			t.Fatal("no imdsd process")
		}
		status := m.MustRun(t, "cat", "/proc/"+pid+"/status")
		if !regexp.MustCompile(`(?m)^Uid:\s+(\d+)`).MatchString(status) || regexp.MustCompile(`(?m)^Uid:\s+0\s`).MatchString(status) {
			t.Errorf("imdsd runs as root:\n%s", status)
		}
		if !regexp.MustCompile(`(?m)^CapAmb:\s+0*1400$`).MatchString(status) { // NET_ADMIN (12) | NET_BIND_SERVICE (10)
			t.Errorf("imdsd's ambient capabilities are not CAP_NET_ADMIN CAP_NET_BIND_SERVICE:\n%s", status)
		}
	})
	t.Run("DHCP", func(t *testing.T) {
		if out := m.MustRun(t, "ip", "-4", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet 169.254.169.15/24") {
			t.Errorf("eth0 has no address from qemu's DHCP server:\n%s", out)
		}
		m.MustRun(t, "test", "-s", "/run/systemd/network/85-imds-early.network")
	})
	t.Run("Credentials", func(t *testing.T) {
		for name, want := range creds {
			b, err := m.GetFile(context.Background(), "/run/credstore/"+name)
			if err != nil || string(b) != want {
				t.Errorf("/run/credstore/%s: %q %v, want %q", name, b, err, want)
			}
		}
		out := m.MustRun(t, "sh", "-c", "stat -c '%a %U %n' /run/credstore /run/credstore/*")
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) == 3 && !(f[2] == "/run/credstore" && f[0] == "700" || f[0] == "400") {
				t.Errorf("credstore mode: %s", l)
			}
		}
		if n := strings.Count(out, "\n") + 1; n != len(creds)+1 {
			t.Errorf("credstore holds %d entries, want %d:\n%s", n-1, len(creds), out)
		}
	})
	t.Run("Hostname", func(t *testing.T) {
		if got := m.MustRun(t, "hostname"); got != hostname {
			t.Errorf("hostname %q, want %q (from firstboot.hostname)", got, hostname)
		}
		if got := m.MustRun(t, "cat", "/etc/hostname"); got != hostname {
			t.Errorf("/etc/hostname %q, want %q", got, hostname)
		}
	})
	t.Run("VendorFromDMI", func(t *testing.T) {
		if out := m.MustRun(t, "imds"); !strings.Contains(out, prov.Vendor) {
			t.Errorf("imds summary does not name %s:\n%s", prov.Vendor, out)
		}
	})
}

// TestIMDSVMAmazonLocked boots the suite as an EC2 instance (EC2's SMBIOS identity) with
// systemd.imds.network=locked and a TPM: the generator pulls the imds units in, networkd gets
// the link up by DHCP, the socket-activated imdsd fetches through the lock (token flow), the
// import stores the credentials and the first-boot stand-in applies the host name. The lock
// holds: root's imdsd reaches the metadata service, nobody's wget is refused by the kernel
// (the prohibit route) and nobody's Get by imdsd. PCR 12 equals the replay of the
// measurement log, which holds the user data's measurement.
func TestIMDSVMAmazonLocked(t *testing.T) {
	const hostname = "ec2-instance-7"
	srv, addr := imdsVMStart(t, "amazon-ec2", fakecloud.WithHostname(hostname), fakecloud.WithUserData([]byte(imdsVMUserData)))
	prov := srv.Info()
	m := imdsVMBoot(t, srv, addr, "locked", true)
	imdsVMCheckBoot(t, m, prov, hostname, map[string]string{
		"firstboot.hostname":       hostname,
		"ssh.authorized_keys.root": prov.Expected[fakecloud.KeySSHKey],
		"vm.greeting":              "hello from the fake cloud",
		"vm.blob":                  "\x00\x01\x02\x03",
	})
	if n := srv.RequestsByMethod("PUT", "/latest/api/token"); n == 0 {
		t.Error("imdsd never fetched an EC2 token")
	}
	t.Run("Lockdown", func(t *testing.T) {
		rules := m.MustRun(t, "ip", "rule")
		if !strings.Contains(rules, "fwmark 0x7fff0815 lookup 2147420181") {
			t.Errorf("no fwmark rule:\n%s", rules)
		}
		if out := m.MustRun(t, "ip", "route", "show", "table", "all"); !strings.Contains(out, "prohibit 169.254.169.254") {
			t.Errorf("no prohibit route:\n%s", out)
		}
		// Root, through the socket-activated imdsd (which marks its socket): a fresh fetch.
		before := srv.TotalRequests()
		if got := m.MustRun(t, "imds", "--cache=no", "-K", "hostname"); got != hostname {
			t.Errorf("root's imds -K hostname: %q", got)
		}
		if srv.TotalRequests() == before {
			t.Error("root's fetch did not reach the fake cloud")
		}
		// nobody, directly: the kernel refuses the connection; nothing reaches the cloud.
		before = srv.TotalRequests()
		r, err := m.Exec(context.Background(), vm.Command{Argv: asNobody("wget -q -O- http://169.254.169.254/latest/meta-data/hostname"),
			Timeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if r.ExitCode == 0 || r.TimedOut {
			t.Errorf("nobody's wget: %+v %s %s", r, r.Stdout, r.Stderr)
		}
		t.Logf("nobody's wget: exit %d: %s", r.ExitCode, bytes.TrimSpace(r.Stderr))
		if !strings.Contains(string(r.Stderr), "ermission denied") {
			t.Errorf("nobody's wget was not refused by the prohibit route: %s", r.Stderr)
		}
		// nobody through imdsd: refused by imdsd's authorisation (no polkit: root only).
		r, err = m.Exec(context.Background(), vm.Command{Argv: asNobody("imds --cache=no -K hostname"), Timeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if r.ExitCode == 0 || strings.Contains(string(r.Stdout), hostname) {
			t.Errorf("nobody's imds -K hostname: %+v %s", r, r.Stdout)
		}
		if srv.TotalRequests() != before {
			t.Errorf("nobody's attempts reached the fake cloud (%d requests)", srv.TotalRequests()-before)
		}
	})
	t.Run("Metrics", func(t *testing.T) {
		// A connection to systemd-imds-metrics.socket starts an imds instance (Accept=yes).
		out := m.MustRun(t, "/init", "--call", "io.systemd.Metrics.List", "--more",
			"--address=unix:/run/systemd/report/io.systemd.InstanceMetadata")
		for _, want := range []string{`"name":"io.systemd.InstanceMetadata.Vendor","value":"amazon-ec2"`,
			`"name":"io.systemd.InstanceMetadata.Hostname","value":"` + hostname + `"`} {
			if !strings.Contains(out, want) {
				t.Errorf("metrics lack %s:\n%s", want, out)
			}
		}
	})
	t.Run("PCR12", func(t *testing.T) {
		log, err := m.GetFile(context.Background(), pcrextend.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := pcrextend.ReadLog(bytes.NewReader(log))
		if err != nil {
			t.Fatal(err)
		}
		replay := make([]byte, sha256.Size)
		var userdataSeen bool
		for _, r := range recs {
			if r.PCR != 12 {
				continue
			}
			for _, d := range r.Digests {
				if d.HashAlg != "sha256" {
					continue
				}
				dg, err := hex.DecodeString(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				h.Write(replay)
				h.Write(dg)
				replay = h.Sum(nil)
			}
			sum := sha256.Sum256([]byte(imdsVMUserData))
			if strings.HasPrefix(r.Content.String, "imds-userdata:"+hex.EncodeToString(sum[:])+":") {
				userdataSeen = true
			}
		}
		if !userdataSeen {
			t.Errorf("the measurement log has no imds-userdata record of the user data:\n%s", log)
		}
		pcr := strings.ToLower(m.MustRun(t, "cat", "/sys/class/tpm/tpm0/pcr-sha256/12"))
		if pcr != hex.EncodeToString(replay) {
			t.Errorf("PCR 12 = %s, replay of the log = %x", pcr, replay)
		}
		t.Logf("PCR 12 = %s (replay of %d bytes of log)", pcr, len(log))
	})
	if err := m.Poweroff(); err != nil {
		t.Error(err)
	}
}

// TestIMDSVMGoogle boots the suite as a Google Compute Engine instance (GCE's SMBIOS identity,
// the Metadata-Flavor header, user data under the attributes), unlocked: the same cloud boot
// with a second provider and its own fake.
func TestIMDSVMGoogle(t *testing.T) {
	const hostname = "gce-instance-3"
	srv, addr := imdsVMStart(t, "google-gcp", fakecloud.WithHostname(hostname), fakecloud.WithUserData([]byte(imdsVMUserData)))
	prov := srv.Info()
	m := imdsVMBoot(t, srv, addr, "unlocked", false)
	imdsVMCheckBoot(t, m, prov, hostname, map[string]string{
		"firstboot.hostname": hostname,
		"vm.greeting":        "hello from the fake cloud",
		"vm.blob":            "\x00\x01\x02\x03",
	})
	t.Run("Unlocked", func(t *testing.T) {
		// The file keeps imdsd's own table and rule (as upstream's does), without the lock.
		if out := m.MustRun(t, "ip", "route", "show", "table", "all"); strings.Contains(out, "prohibit") {
			t.Errorf("unlocked, yet a prohibit route:\n%s", out)
		}
		// Anyone may reach the metadata service (the cloud's own header is what it checks).
		r, err := m.Exec(context.Background(), vm.Command{Argv: asNobody("wget -q -O- --header 'Metadata-Flavor: Google' " +
			"http://169.254.169.254/computeMetadata/v1/instance/hostname"), Timeout: 30 * time.Second})
		if err != nil || r.ExitCode != 0 || string(r.Stdout) != hostname {
			t.Errorf("nobody's wget, unlocked: %v %+v %q %s", err, r, r.Stdout, r.Stderr)
		}
	})
	if err := m.Poweroff(); err != nil {
		t.Error(err)
	}
}

// TestIMDSVMFaults boots an EC2 instance whose fake cloud misbehaves during the boot — the
// public address answers 500 — and then, in the same VM, runs the import unit again against
// a hanging connection, oversized user data and a malformed credential entry. Each time the
// instance stays up (default.target reached), the import unit fails with a message that
// names what it refused, and /run/credstore holds only whole credentials, never a partial or
// temporary file.
func TestIMDSVMFaults(t *testing.T) {
	const hostname = "ec2-faulty"
	srv, addr := imdsVMStart(t, "amazon-ec2", fakecloud.WithHostname(hostname), fakecloud.WithUserData([]byte(imdsVMUserData)))
	if err := srv.SetFault(fakecloud.Fault{Mode: fakecloud.FaultStatus, Status: 500, Path: "/latest/meta-data/public-ipv4"}); err != nil {
		t.Fatal(err)
	}
	m := imdsVMBoot(t, srv, addr, "locked", false)
	ctx := context.Background()

	// credstore lists /run/credstore (name and size) and fails on temporary files.
	credstore := func(t *testing.T) string {
		t.Helper()
		out := m.MustRun(t, "sh", "-c", "ls -a /run/credstore 2>/dev/null; true")
		for _, n := range strings.Fields(out) {
			if n != "." && n != ".." && (strings.HasPrefix(n, ".") || strings.Contains(n, "tmp")) {
				t.Errorf("a temporary file in /run/credstore: %s", n)
			}
		}
		return out
	}
	// rerun starts the import unit again and returns what it printed on the console.
	rerun := func(t *testing.T) string {
		t.Helper()
		mark := len(m.Console())
		r, err := m.Exec(ctx, vm.Command{Argv: []string{"steadctl", "restart", "systemd-imds-import.service"}, Timeout: 3 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("steadctl restart: exit %d %s%s", r.ExitCode, r.Stdout, r.Stderr)
		if r.ExitCode == 0 {
			t.Error("the import unit succeeded despite the fault")
		}
		if got := imdsVMState(t, m, "systemd-imds-import.service"); got != "failed" {
			t.Errorf("import unit: %s, want failed", got)
		}
		return m.Console()[mark:]
	}

	t.Run("Status500AtBoot", func(t *testing.T) {
		if got := imdsVMState(t, m, "default.target"); got != "active" {
			t.Errorf("default.target: %s", got)
		}
		if got := imdsVMState(t, m, "systemd-imds-import.service"); got != "failed" {
			t.Errorf("import unit: %s, want failed", got)
		}
		if !strings.Contains(m.Console(), "get ipv4_public") {
			t.Errorf("the import did not report the refused public address")
		}
		if out := credstore(t); strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(out, "..", ""), ".", "")) != "" {
			t.Errorf("credentials imported although the import failed first: %s", out)
		}
		// No host name credential: the first-boot stand-in leaves the name alone.
		if got := m.MustRun(t, "hostname"); got == hostname {
			t.Errorf("host name %q applied without a credential", got)
		}
	})
	srv.ClearFaults()

	t.Run("Hang", func(t *testing.T) {
		srv.SetFault(fakecloud.Fault{Mode: fakecloud.FaultHang, Path: "/latest/meta-data/public-keys/0/openssh-key"})
		out := rerun(t)
		srv.ClearFaults()
		if !strings.Contains(out, "get SSH key") {
			t.Errorf("the import did not report the hanging SSH key:\n%s", out)
		}
		// The host name came before the key and is whole; the key is not there at all.
		if b, err := m.GetFile(ctx, "/run/credstore/firstboot.hostname"); err != nil || string(b) != hostname {
			t.Errorf("firstboot.hostname: %q %v", b, err)
		}
		if r, _ := m.Run(ctx, "test", "-e", "/run/credstore/ssh.authorized_keys.root"); r.ExitCode == 0 {
			t.Error("an SSH key credential exists after the hang")
		}
		credstore(t)
	})
	t.Run("OversizedUserData", func(t *testing.T) {
		srv.SetFault(fakecloud.Fault{Mode: fakecloud.FaultOversize, Path: "/latest/user-data"})
		out := rerun(t)
		srv.ClearFaults()
		if !strings.Contains(out, "get user data") {
			t.Errorf("the import did not report the oversized user data:\n%s", out)
		}
		for _, n := range []string{"vm.greeting", "vm.blob"} {
			if r, _ := m.Run(ctx, "test", "-e", "/run/credstore/"+n); r.ExitCode == 0 {
				t.Errorf("%s exists after oversized user data", n)
			}
		}
		credstore(t)
	})
	t.Run("MalformedCredential", func(t *testing.T) {
		srv.UpdateInstance(func(in *fakecloud.Instance) {
			in.UserData = []byte(`{"systemd.credentials":[{"name":"vm.good","text":"fine"},{"name":"../escape","text":"x"},` +
				`{"name":"vm.both","text":"a","data":"Yg=="}]}`)
		})
		out := rerun(t)
		if !strings.Contains(out, "invalid credential entries in user data skipped") || !strings.Contains(out, "ignoring invalid credential") {
			t.Errorf("the import did not report the malformed entries:\n%s", out)
		}
		if b, err := m.GetFile(ctx, "/run/credstore/vm.good"); err != nil || string(b) != "fine" {
			t.Errorf("vm.good: %q %v", b, err)
		}
		list := credstore(t)
		if strings.Contains(list, "escape") || strings.Contains(list, "vm.both") {
			t.Errorf("a malformed entry was stored:\n%s", list)
		}
		if r, _ := m.Run(ctx, "test", "-e", "/run/escape"); r.ExitCode == 0 {
			t.Error("a credential escaped /run/credstore")
		}
	})
	if got := imdsVMState(t, m, "default.target"); got != "active" {
		t.Errorf("default.target after the faults: %s", got)
	}
	if err := m.Poweroff(); err != nil {
		t.Error(err)
	}
}
