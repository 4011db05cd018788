package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stead-os/stead/lib/varlinkd"
)

// cloud is a simulated EC2 instance: two network namespaces joined by a veth pair, the fake
// cloud on 169.254.169.254 in one, imdsd in the other, and a DMI tree under the demo root
// that identifies the machine as EC2. Nothing touches the host's own network.
type cloud struct {
	cloudNS, instanceNS string
	procs               []*exec.Cmd
}

const (
	imdsAddress  = "169.254.169.254"
	instanceAddr = "169.254.0.10/16"
	imdsSocket   = "/run/systemd/io.systemd.InstanceMetadata"
)

// startCloud sets the namespaces up and starts stead-fakecloud and imdsd; stop undoes it.
func startCloud(bin, root, repo string) (*cloud, error) {
	tag := fmt.Sprint(os.Getpid())
	c := &cloud{cloudNS: "stead-demo-cloud-" + tag, instanceNS: "stead-demo-inst-" + tag}
	steps := [][]string{
		{"netns", "add", c.cloudNS},
		{"netns", "add", c.instanceNS},
		{"link", "add", "sdc" + tag, "netns", c.cloudNS, "type", "veth", "peer", "name", "sdi" + tag, "netns", c.instanceNS},
		{"-n", c.cloudNS, "addr", "add", imdsAddress + "/16", "dev", "sdc" + tag},
		{"-n", c.cloudNS, "link", "set", "sdc" + tag, "up"},
		{"-n", c.cloudNS, "link", "set", "lo", "up"},
		{"-n", c.instanceNS, "addr", "add", instanceAddr, "dev", "sdi" + tag},
		{"-n", c.instanceNS, "link", "set", "sdi" + tag, "up"},
		{"-n", c.instanceNS, "link", "set", "lo", "up"},
	}
	for _, args := range steps {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			c.stop()
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	dmi := map[string]string{"bios_vendor": "Amazon EC2", "sys_vendor": "Amazon EC2", "product_name": "m5.large",
		"chassis_asset_tag": "Amazon EC2"}
	dmiDir := filepath.Join(root, "sys/class/dmi/id")
	hwdbDir := filepath.Join(root, "usr/lib/udev/hwdb.d")
	for _, d := range []string{dmiDir, hwdbDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	for name, value := range dmi {
		os.WriteFile(filepath.Join(dmiDir, name), []byte(value+"\n"), 0o444)
	}
	hwdb, err := os.ReadFile(filepath.Join(repo, "hwdb/40-imds.hwdb"))
	if err != nil {
		c.stop()
		return nil, err
	}
	os.WriteFile(filepath.Join(hwdbDir, "40-imds.hwdb"), hwdb, 0o644)

	for _, p := range [][]string{
		{c.cloudNS, filepath.Join(bin, "stead-fakecloud"), "--provider=amazon-ec2", "--listen=" + imdsAddress + ":80"},
		{c.instanceNS, filepath.Join(bin, "imdsd"), "--root=" + root},
	} {
		cmd := exec.Command("ip", append([]string{"netns", "exec"}, p...)...)
		cmd.Stdout, cmd.Stderr = nil, nil // their logs would drown the tour
		if err := cmd.Start(); err != nil {
			c.stop()
			return nil, err
		}
		c.procs = append(c.procs, cmd)
	}
	return c, nil
}

func (c *cloud) stop() {
	for _, p := range c.procs {
		p.Process.Signal(os.Interrupt)
		p.Wait()
	}
	exec.Command("ip", "netns", "del", c.cloudNS).Run()
	exec.Command("ip", "netns", "del", c.instanceNS).Run()
}

// tourCloud asks imdsd what a cloud-init-like consumer would.
func (c *cloud) tour(ctx context.Context, root string) error {
	cl, err := dialWhenUp(ctx, filepath.Join(root, imdsSocket))
	if err != nil {
		return err
	}
	defer cl.Close()
	fmt.Printf("● simulated EC2 instance — fake cloud on %s in netns %s, imdsd in netns %s\n", imdsAddress, c.cloudNS, c.instanceNS)
	var vendor struct {
		Vendor  string `json:"vendor"`
		DataURL string `json:"dataUrl"`
	}
	if err := cl.Call(ctx, "io.systemd.InstanceMetadata.GetVendorInfo", nil, &vendor); err != nil {
		return err
	}
	fmt.Printf("  vendor   %s (detected from DMI + hwdb), data %s\n", vendor.Vendor, vendor.DataURL)
	for _, key := range []string{"hostname", "region", "zone", "ssh_key"} {
		var out struct {
			Data      string `json:"data"`
			Interface *int   `json:"interface"`
		}
		start := time.Now()
		err := cl.Call(ctx, "io.systemd.InstanceMetadata.Get", map[string]any{"wellKnown": key}, &out)
		if err != nil {
			fmt.Printf("  %-8s error: %v\n", key, varlinkd.ErrorName(err))
			continue
		}
		raw, _ := base64.StdEncoding.DecodeString(out.Data)
		fmt.Printf("  %-8s %s  (%v)\n", key, strings.TrimSpace(string(raw)), time.Since(start).Round(time.Microsecond))
	}
	fmt.Println()
	return nil
}
