package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"github.com/stead-os/stead/integration/fakecloud"
	"github.com/stead-os/stead/integration/vm"
	vmsuite "github.com/stead-os/stead/integration/vm/suite"
	"github.com/stead-os/stead/services/pcrextend"
)

// demoHostname and demoUserData are what the demo's fake EC2 hands the instance.
const (
	demoHostname = "stead-demo-instance"
	demoUserData = `{"systemd.credentials":[{"name":"demo.motd","text":"Welcome to a stead cloud instance"}]}`
)

// startDemoCloud serves a fake EC2 metadata service on the host's loopback, which the VM
// reaches as 169.254.169.254:80 through qemu's guestfwd (restrict=on: nothing else).
func startDemoCloud() (*fakecloud.Server, string, func(), error) {
	srv, err := fakecloud.New("amazon-ec2", fakecloud.WithHostname(demoHostname), fakecloud.WithUserData([]byte(demoUserData)))
	if err != nil {
		return nil, "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	go srv.Serve(l)
	return srv, l.Addr().String(), func() { srv.Close(); l.Close() }, nil
}

// cloudStory prints what the instance did on its first boot, all read from inside the guest:
// the cloud recognised from DMI, the metadata fetched, the credentials imported, the host name
// applied, the lock on the metadata service, and PCR 12 against its measurement log.
func cloudStory(ctx context.Context, m *vm.VM, srv *fakecloud.Server, tpm bool) error {
	run := func(argv ...string) string {
		r, err := m.Run(ctx, argv...)
		if err != nil {
			return "error: " + err.Error()
		}
		return strings.TrimSpace(string(r.Stdout) + string(r.Stderr))
	}
	fmt.Println("The cloud story (an EC2 instance's first boot, fake metadata service on the host's loopback):")
	fmt.Printf("  1. vendor from DMI     bios_vendor=%q → hwdb → ", run("cat", "/sys/class/dmi/id/bios_vendor"))
	for _, l := range strings.Split(run("imds"), "\n") {
		if strings.Contains(l, "Vendor:") {
			fmt.Printf("imds: %s\n", strings.TrimSpace(l))
		}
	}
	fmt.Printf("     generator           %s\n", strings.ReplaceAll(run("ls", "/run/systemd/generator.early/sysinit.target.wants/"), "\n", " "))
	fmt.Printf("     network             eth0 %s (networkd, DHCP)\n", firstField(run("sh", "-c", "ip -4 -o addr show dev eth0 | awk '{print $4}'")))
	tokens := srv.RequestsByMethod("PUT", "/latest/api/token")
	fmt.Printf("  2. keys fetched        %d requests to the fake EC2 (%d token PUTs) by the socket-activated imdsd\n", srv.TotalRequests(), tokens)
	fmt.Println("  3. credentials         /run/credstore (systemd-imds-import.service):")
	for _, name := range strings.Fields(run("ls", "/run/credstore")) {
		b, _ := m.GetFile(ctx, "/run/credstore/"+name)
		v := string(b)
		if len(v) > 60 {
			v = v[:57] + "…"
		}
		fmt.Printf("       %-26s %q\n", name, v)
	}
	fmt.Printf("  4. hostname applied    $ hostname → %s   (/etc/hostname: %s; from firstboot.hostname)\n", run("hostname"), run("cat", "/etc/hostname"))
	fmt.Printf("  5. lockdown            systemd.imds.network=locked: %s\n", firstLine(run("sh", "-c", "ip route show table all | grep prohibit")))
	fmt.Printf("       root via imdsd    $ imds --cache=no -K hostname → %s\n", run("imds", "--cache=no", "-K", "hostname"))
	// No wget -T: busybox 1.35's crashes with it (docs/vm-harness.md); the kernel refuses at once.
	fmt.Printf("       nobody direct     $ wget http://169.254.169.254/… → %s\n",
		run("su", "-s", "/bin/sh", "-c", "wget -q -O- http://169.254.169.254/latest/meta-data/hostname", "nobody"))
	fmt.Printf("       nobody via imdsd  $ imds -K hostname → %s\n", run("su", "-s", "/bin/sh", "-c", "imds --cache=no -K hostname", "nobody"))
	if !tpm {
		fmt.Println("  6. PCR 12              (no TPM: swtpm is not installed)")
		fmt.Println()
		return nil
	}
	pcr := strings.ToLower(run("cat", "/sys/class/tpm/tpm0/pcr-sha256/12"))
	log, err := m.GetFile(ctx, pcrextend.LogPath)
	if err != nil {
		return err
	}
	recs, err := pcrextend.ReadLog(bytes.NewReader(log))
	if err != nil {
		return err
	}
	replay := make([]byte, sha256.Size)
	var text string
	for _, r := range recs {
		if r.PCR != 12 {
			continue
		}
		text = r.Content.String
		for _, d := range r.Digests {
			if dg, err := hex.DecodeString(d.Digest); err == nil && d.HashAlg == "sha256" {
				h := sha256.Sum256(append(append([]byte{}, replay...), dg...))
				replay = h[:]
			}
		}
	}
	verdict := "equals the replay of " + pcrextend.LogPath
	if hex.EncodeToString(replay) != pcr {
		verdict = "DIFFERS from the replay " + hex.EncodeToString(replay)
	}
	if len(text) > 90 {
		text = text[:87] + "…"
	}
	fmt.Printf("  6. PCR 12 (sha256)     %s\n       %s\n       measured: %s\n\n", pcr, verdict, text)
	return nil
}

// demoCloudOptions turns the suite image into the demo's cloud instance.
func demoCloudOptions(o vm.Options, addr string, tpm bool) (vm.Options, error) {
	prov, _ := fakecloud.Lookup("amazon-ec2")
	return vmsuite.Cloud{Provider: prov, IMDS: addr, Network: "locked", TPM: tpm}.Options(o)
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}
