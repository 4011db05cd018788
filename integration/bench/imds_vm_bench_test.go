//go:build integration

package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/fakecloud"
	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm"
	"github.com/stead-os/stead/integration/vm/suite"
)

// TestIMDSVMBench boots an EC2 instance's first boot to default.target with the imds units
// active (generator, early network, networkd with DHCP, the socket-activated imdsd, the
// import into /run/credstore, locked network), twice in the same harness:
//
//   - stead: stead's init as PID 1 with the suite (integration/vm/suite, suite.Cloud);
//   - systemd 262: upstream's manager as PID 1 with upstream's own units and binaries for the
//     same job (systemd-imds-generator, systemd-imdsd.socket/@.service,
//     systemd-imds-early-network.service, systemd-imds-import.service, systemd-networkd and its
//     sockets, systemd-networkd-wait-online), from the upstream root.
//
// The figure is the guest's uptime when a oneshot ordered after the import, sysinit.target and
// network-online.target prints it on the console. Both get the same kernel command line: the
// cloud's endpoint as systemd.imds.* settings (stead's take the same settings, which outrank
// its hwdb), systemd.imds=yes, import on, network locked, warnings only on the console.
// Upstream's image carries upstream's udev from the upstream root (imdsBenchUdev: udevd, the
// coldplug trigger, the rules, the compiled hwdb, the .link files), as a real instance's
// does: without it upstream's networkd never considers the NIC initialised and leaves it
// down. One harness adjustment remains on upstream's side: imdsd runs with --cache=no, since
// its cache needs user xattrs on tmpfs (Linux 6.6) and the harness's kernel is 6.1.
// Figures are printed, never asserted; that the import ran and stored firstboot.hostname is
// checked on both.
//
//	STEAD_BENCH=1 go test -tags integration -run TestIMDSVMBench -v ./integration/bench/
func TestIMDSVMBench(t *testing.T) {
	if os.Getenv("STEAD_BENCH") == "" {
		t.Skip("a measurement: run with STEAD_BENCH=1")
	}
	rounds := 1
	if r, err := strconv.Atoi(os.Getenv("STEAD_BENCH_ROUNDS")); err == nil && r > 0 {
		rounds = r
	}
	vm.Prereqs(t)
	const hostname = "bench-instance"
	srv, err := fakecloud.New("amazon-ec2", fakecloud.WithHostname(hostname))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close(); l.Close() })
	prov := srv.Info()
	cmdline := imdsBenchCmdline(prov)

	results := map[string][]float64{}
	boot := func(t *testing.T, name string, o vm.Options, check string) {
		o.KernelCmdline = strings.TrimSpace(o.KernelCmdline + " " + cmdline)
		o.Memory, o.BootTimeout = 1024, 3*time.Minute
		m := vm.Boot(t, o)
		defer m.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := m.WaitConsole(ctx, "stead-bench: stamp "); err != nil {
			t.Fatal(err)
		}
		var stamp float64
		harness.Eventually(t, "a complete stamp line", time.Minute, func() bool {
			mm := initBenchStamp.FindStringSubmatch(m.Console())
			if mm != nil {
				stamp, _ = strconv.ParseFloat(mm[1], 64)
			}
			return mm != nil
		})
		if r, err := m.Run(ctx, "sh", "-c", check); err != nil || !slices.Contains([]string{"active", `"ActiveState":"active"`}, strings.TrimSpace(string(r.Stdout))) {
			t.Errorf("%s: systemd-imds-import.service: %v %s", name, err, r.Stdout)
			r, _ := m.Run(ctx, "sh", "-c", "ls -lR /run/systemd/network /run/credstore /run/systemd/generator.early; tail -n 60 /run/stead-bench-*.log; ip addr; ip rule; "+
				"[ -x /usr/bin/systemctl ] && /usr/bin/systemctl --no-pager list-units --all 'systemd-*' && "+
				"/usr/bin/systemctl show -p ProtectKernelTunables -p StandardOutput -p BindReadOnlyPaths -p DropInPaths systemd-networkd.service; dmesg | grep -i -e networkd -e imds | tail -40")
			t.Logf("%s: diagnostics:\n%s%s", name, r.Stdout, r.Stderr)
		}
		if got := m.MustRun(t, "cat", "/run/credstore/firstboot.hostname"); got != hostname {
			t.Errorf("%s: firstboot.hostname %q", name, got)
		}
		t.Logf("%s: default.target with the imds units active at guest uptime %.2fs", name, stamp)
		results[name] = append(results[name], stamp)
	}

	// stead.
	files, err := suite.Files(harness.RepoRoot(), func(pkg string) (string, error) { return harness.Binary(t, pkg), nil })
	if err != nil {
		t.Fatal(err)
	}
	ours, err := suite.Cloud{Provider: prov, IMDS: l.Addr().String(), Network: "locked"}.Options(
		vm.Options{Init: harness.Binary(t, "cmd/init"), Agent: vm.AgentByInit, Files: files, KernelCmdline: "stead.log_level=warn"})
	if err != nil {
		t.Fatal(err)
	}
	ours.Files["/etc/systemd/system/default.target"] = vm.File{Data: []byte(suite.CloudTarget(false, "bench-stamp.service"))}
	ours.Files["/etc/systemd/system/bench-stamp.service"] = vm.File{Data: []byte(imdsBenchStamp)}

	// systemd 262.
	var up *harness.Upstream
	t.Run("UpstreamRoot", func(t *testing.T) { up = harness.NeedUpstream(t) })
	var theirs vm.Options
	if up != nil {
		theirs, err = imdsBenchUpstream(up.Dir, prov, l.Addr().String())
		if err != nil {
			t.Fatalf("upstream systemd: %v", err)
		}
	}
	for r := 0; r < rounds; r++ {
		t.Run("stead", func(t *testing.T) {
			boot(t, "stead", ours, `/init --call io.systemd.Unit.List '{"name":"systemd-imds-import.service"}' | grep -o '"ActiveState":"[a-z]*"'`)
		})
		if up != nil {
			t.Run("systemd_262", func(t *testing.T) {
				boot(t, "systemd 262", theirs, `/usr/bin/systemctl is-active systemd-imds-import.service`)
			})
		}
	}
	s, u := results["stead"], results["systemd 262"]
	if len(s) > 0 && len(u) > 0 {
		t.Logf("boot to default.target with the imds units active: stead %.2fs, systemd 262 %.2fs (median of %d): ratio %.2f",
			median(s), median(u), len(s), median(u)/median(s))
	}
}

// imdsBenchStamp prints the guest's uptime once the import and the network are done.
const imdsBenchStamp = `[Unit]
Description=Prints the guest's uptime once the instance is imported
DefaultDependencies=no
After=sysinit.target network-online.target systemd-imds-import.service stead-vm-agent.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo "stead-bench: stamp $(cut -d" " -f1 /proc/uptime)" >/dev/console'
`

// imdsBenchCmdline is the cloud's endpoint as systemd.imds.* kernel command line settings.
func imdsBenchCmdline(prov fakecloud.ProviderInfo) string {
	e := prov.Endpoint
	args := []string{"systemd.imds=yes", "systemd.imds.import=yes", "systemd.imds.network=locked",
		"systemd.imds.vendor=" + prov.Vendor, "systemd.imds.data_url=" + e.DataURL}
	add := func(k, v string) {
		if v != "" {
			args = append(args, k+"="+v)
		}
	}
	add("systemd.imds.token_url", e.TokenURL)
	add("systemd.imds.refresh_header_name", e.RefreshHeaderName)
	add("systemd.imds.token_header_name", e.TokenHeaderName)
	if len(prov.IPv4) > 0 {
		add("systemd.imds.address_ipv4", prov.IPv4[0].String())
	}
	for name, key := range prov.Keys {
		add("systemd.imds.key."+name, key)
	}
	return strings.Join(args, " ")
}

// imdsBenchUpstream is upstream systemd 262's image for the same boot: the manager and its
// helpers (upstreamSystemdManager), upstream's imds and networkd binaries and units, its
// targets, the agent, accounts for the units' users, the DMI identity and the NIC.
func imdsBenchUpstream(root string, prov fakecloud.ProviderInfo, imdsAddr string) (vm.Options, error) {
	mgr, err := upstreamSystemdManager(root)
	if err != nil {
		return vm.Options{}, err
	}
	files := mgr.files
	bins := []string{"/usr/lib/systemd/systemd-imdsd", "/usr/lib/systemd/systemd-imds",
		"/usr/lib/systemd/systemd-networkd", "/usr/lib/systemd/systemd-networkd-wait-online",
		"/usr/lib/systemd/system-generators/systemd-imds-generator",
		"/usr/lib/systemd/systemd-udevd", "/usr/bin/udevadm",
		// dlopen()ed by systemd-imdsd for HTTP: DynamicFiles cannot see it.
		"/usr/lib/x86_64-linux-gnu/libcurl.so.4"}
	more, err := vm.DynamicFiles(root, bins...)
	if err != nil {
		return vm.Options{}, err
	}
	for p, f := range more {
		files[p] = f
	}
	for _, u := range []string{"systemd-imdsd.socket", "systemd-imdsd@.service", "systemd-imds-early-network.service",
		"systemd-imds-metrics.socket", "systemd-imds-metrics@.service",
		"systemd-imds-import.service", "systemd-networkd.service", "systemd-networkd.socket",
		"systemd-networkd-varlink.socket", "systemd-networkd-varlink-metrics.socket",
		"systemd-networkd-resolve-hook.socket", "systemd-networkd-wait-online.service",
		"sysinit.target", "sockets.target", "network-pre.target", "network.target", "network-online.target"} {
		files["/usr/lib/systemd/system/"+u] = vm.File{Source: root + "/usr/lib/systemd/system/" + u}
	}
	files["/etc/systemd/system/stead-vm-agent.service"] = vm.File{Data: []byte(vm.AgentUnit)}
	files["/etc/systemd/system/bench-stamp.service"] = vm.File{Data: []byte(imdsBenchStamp)}
	files["/etc/systemd/system/default.target"] = vm.File{Data: []byte(`[Unit]
Description=Default target of the benchmark
Wants=stead-vm-agent.service sysinit.target network-online.target systemd-networkd.service bench-stamp.service
After=stead-vm-agent.service sysinit.target network-online.target systemd-networkd.service bench-stamp.service
`)}
	// Enabled as upstream's [Install] sections ask.
	files["/etc/systemd/system/network-online.target.d/wait-online.conf"] = vm.File{Data: []byte("[Unit]\nWants=systemd-networkd-wait-online.service\n")}
	// The messages of the units under test in /run/stead-bench-UNIT.log for the diagnostics (there is
	// no journald, and StandardOutput=kmsg means through journald).
	for _, u := range []string{"systemd-networkd.service", "systemd-imds-import.service", "systemd-imdsd@.service", "systemd-imds-early-network.service"} {
		files["/etc/systemd/system/"+u+".d/bench-log.conf"] = vm.File{Data: []byte(
			"[Service]\nStandardOutput=append:/run/stead-bench-%p.log\nStandardError=append:/run/stead-bench-%p.log\n")}
	}
	// imdsd caches what it fetched in its RuntimeDirectory= with the time in a user.* xattr,
	// which tmpfs has only since Linux 6.6; the harness's kernel is 6.1, where every Get()
	// fails with EOPNOTSUPP. So the harness turns the cache off (one import, one connection:
	// each key is fetched once either way).
	files["/etc/systemd/system/systemd-imdsd@.service.d/bench-nocache.conf"] = vm.File{Data: []byte(
		"[Service]\nExecStart=\nExecStart=-/usr/lib/systemd/systemd-imdsd --cache=no\n")}
	if err := imdsBenchUdev(root, files); err != nil {
		return vm.Options{}, err
	}
	files["/etc/passwd"] = vm.File{Data: []byte(vm.BasePasswd +
		"systemd-imds:x:990:990::/:/usr/sbin/nologin\nsystemd-network:x:989:989::/:/usr/sbin/nologin\n")}
	files["/etc/group"] = vm.File{Data: []byte(vm.BaseGroup + "systemd-imds:x:990:\nsystemd-network:x:989:\n" + udevGroups)}
	o := vm.Options{Init: mgr.init, Agent: vm.AgentByInit, Files: files, KernelCmdline: mgr.cmdline + " quiet",
		SMBIOS: suite.SMBIOS(prov.DMI), Net: &vm.Net{GuestFwd: map[int]string{80: imdsAddr}}, NoEtcHostname: true}
	if len(prov.IPv4) == 0 || prov.IPv4[0].String() != vm.MetadataIP {
		return o, fmt.Errorf("%s's metadata service is not at %s", prov.Vendor, vm.MetadataIP)
	}
	return o, nil
}

// udevGroups are the groups upstream's udev rules assign device nodes to (udevd warns about
// each one that is missing).
const udevGroups = "disk:x:6:\nlp:x:7:\nkmem:x:15:\ndialout:x:20:\ncdrom:x:24:\ntape:x:26:\naudio:x:29:\n" +
	"video:x:44:\ninput:x:980:\nsgx:x:981:\nclock:x:982:\nkvm:x:983:\nrender:x:984:\n"

// imdsBenchUdev adds upstream's udev to the image (Debian's udev package in the upstream
// root): its units, enabled as their [Install] sections ask, the rules, the compiled hwdb and
// the .link files. Without udev, upstream's networkd never considers the NIC initialised and
// leaves it down; with it, the boot is the one a real instance makes, DMI device included.
// The binaries are in imdsBenchUpstream's list (DynamicFiles).
func imdsBenchUdev(root string, files map[string]vm.File) error {
	for _, u := range []string{"systemd-udevd.service", "systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
		"systemd-udevd-varlink.socket", "systemd-udev-trigger.service", "systemd-udevd.service.d/syscall-architecture.conf"} {
		files["/usr/lib/systemd/system/"+u] = vm.File{Source: root + "/usr/lib/systemd/system/" + u}
	}
	// sysinit.target.wants/ and sockets.target.wants/ in the package.
	files["/etc/systemd/system/sysinit.target.d/udev.conf"] = vm.File{Data: []byte("[Unit]\n" +
		"Wants=systemd-udevd.service systemd-udev-trigger.service systemd-udevd-kernel.socket systemd-udevd-varlink.socket\n")}
	for _, dir := range []string{"/usr/lib/udev/rules.d", "/usr/lib/systemd/network"} {
		ents, err := os.ReadDir(root + dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if n := e.Name(); strings.HasSuffix(n, ".rules") || strings.HasSuffix(n, ".link") {
				files[dir+"/"+n] = vm.File{Source: root + dir + "/" + n}
			}
		}
	}
	for _, f := range []string{"/usr/lib/udev/hwdb.bin", "/etc/udev/udev.conf"} {
		if _, err := os.Stat(root + f); err != nil {
			return fmt.Errorf("%w (the upstream root needs Debian's udev: integration/upstream-root adds it)", err)
		}
		files[f] = vm.File{Source: root + f}
	}
	return nil
}
