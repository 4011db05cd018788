package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/stead-os/stead/integration/vm"
	vmsuite "github.com/stead-os/stead/integration/vm/suite"
)

// runVMTour boots the stead suite in a qemu VM — stead's init as PID 1 with imdsd, networkd
// and units/ (integration/vm/suite) — as an EC2 instance on its first boot, tells the cloud
// story from inside (vmcloud.go), then tours the units and their states and every Varlink
// socket under /run/systemd with its interfaces, and finally powers off in order. Without the VM prerequisites it says why and returns nil.
func runVMTour(bin, repo string) (err error) {
	fmt.Printf("\n━━ The stead suite in a VM (qemu TCG, stead's init as PID 1) ━━\n\n")
	vm.PrereqsScriptPath = filepath.Join(repo, "integration", "vm", "prereqs.sh")
	if _, perr := vm.EnsurePrereqs(); perr != nil {
		fmt.Printf("VM tour skipped: the VM harness is not available here:\n  %s\n", strings.ReplaceAll(perr.Error(), "\n", "\n  "))
		return nil
	}
	tb := &demoTB{name: "stead-demo-vm"}
	defer tb.done()
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(tbStop)
			if !ok {
				panic(r)
			}
			if s.skipped {
				fmt.Printf("VM tour skipped: %s\n", s.msg)
				return
			}
			err = errors.New(s.msg)
		}
	}()

	built := func(pkg string) (string, error) {
		p := filepath.Join(bin, filepath.Base(pkg))
		_, err := os.Stat(p)
		return p, err
	}
	files, err := vmsuite.Files(repo, built)
	if err != nil {
		return err
	}
	initBin, err := built("cmd/init")
	if err != nil {
		return err
	}
	agent, err := built("integration/vm/agent")
	if err != nil {
		return err
	}
	upstream := os.Getenv("STEAD_UPSTREAM_ROOT")
	if upstream == "" {
		upstream = "/var/cache/stead/upstream-root"
	}
	if _, err := os.Stat(filepath.Join(upstream, ".stead-upstream-ready")); err == nil {
		if vf, err := vm.DynamicFiles(upstream, vmsuite.UpstreamVarlinkctl); err == nil {
			for p, f := range vf {
				files[p] = f
			}
		}
	}

	srv, imdsAddr, stopCloud, err := startDemoCloud()
	if err != nil {
		return err
	}
	defer stopCloud()
	_, swtpmErr := exec.LookPath("swtpm")
	tpm := swtpmErr == nil
	opts, err := demoCloudOptions(vm.Options{Init: initBin, Agent: vm.AgentByInit, AgentBinary: agent, Files: files}, imdsAddr, tpm)
	if err != nil {
		return err
	}
	fmt.Println("booting an EC2 instance (DMI identity, NIC forwarded to a fake EC2 on the host's loopback, TPM)… (under a minute under TCG)")
	m := vm.Boot(tb, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := m.WaitConsole(ctx, `msg="reached default.target"`); err != nil {
		return err
	}
	// The console line may still be arriving: wait (briefly) for its end.
	uptime := "?"
	reached := regexp.MustCompile(`msg="reached default.target" uptime=(\S+s)\r?\n`)
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if mm := reached.FindStringSubmatch(m.Console()); mm != nil {
			uptime = mm[1]
			break
		}
	}
	fmt.Printf("default.target reached at guest uptime %s; qemu start → agent %v\n\n", uptime, m.BootTime().Round(time.Millisecond))
	if err := cloudStory(ctx, m, srv, tpm); err != nil {
		return err
	}

	run := func(argv ...string) (string, error) {
		r, err := m.Run(ctx, argv...)
		if err != nil {
			return "", err
		}
		if r.ExitCode != 0 {
			return string(r.Stdout), fmt.Errorf("%s: %v", strings.Join(argv, " "), r)
		}
		return string(r.Stdout), nil
	}

	// What runs.
	if _, ok := files["/usr/bin/steadctl"]; ok {
		fmt.Println("$ steadctl list-units")
		out, err := run("steadctl", "list-units")
		if err != nil {
			return err
		}
		fmt.Println(indent(out))
	} else {
		fmt.Println("Units (io.systemd.Unit.List; steadctl is not built):")
		out, err := run("/init", "--call", "io.systemd.Unit.List", "--more")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var u struct {
				Context struct{ ID string }
				Runtime struct{ LoadState, ActiveState, SubState string }
			}
			if json.Unmarshal([]byte(line), &u) == nil {
				fmt.Printf("  %-32s %-8s %-10s %s\n", u.Context.ID, u.Runtime.LoadState, u.Runtime.ActiveState, u.Runtime.SubState)
			}
		}
		fmt.Println()
	}

	// Every Varlink socket under /run/systemd, introspected from inside the guest.
	out, err := run("find", "/run/systemd", "-type", "s")
	if err != nil {
		return err
	}
	socks := strings.Fields(out)
	sort.Strings(socks)
	for _, s := range socks {
		info, err := run("/init", "--call", "org.varlink.service.GetInfo", "--address=unix:"+s)
		if err != nil {
			continue // not Varlink (the notify socket)
		}
		var gi struct {
			Vendor, Product, Version string
			Interfaces               []string
		}
		if err := json.Unmarshal([]byte(info), &gi); err != nil {
			continue
		}
		fmt.Printf("● %s — %s %s (%s)\n", s, gi.Product, gi.Version, gi.Vendor)
		sort.Strings(gi.Interfaces)
		for _, iface := range gi.Interfaces {
			d, err := run("/init", "--call", "org.varlink.service.GetInterfaceDescription",
				`{"interface":"`+iface+`"}`, "--address=unix:"+s)
			var desc struct{ Description string }
			if err != nil || json.Unmarshal([]byte(d), &desc) != nil {
				fmt.Printf("  %s\n", iface)
				continue
			}
			fmt.Printf("  %-28s %s\n", iface, strings.Join(members(desc.Description), ", "))
		}
		fmt.Println()
	}
	// Our GetInfo on the imdsd socket was its first client: the socket started imdsd.
	fmt.Println("$ ls /run/varlink/registry")
	if out, err := run("ls", "/run/varlink/registry"); err == nil {
		fmt.Println(indent(out))
	}
	if _, ok := files["/usr/bin/steadctl"]; ok {
		fmt.Println("$ steadctl list-units 'systemd-imds*'    # imdsd was started by its socket on the first connection above")
		if out, err := run("steadctl", "list-units", "--no-legend", "systemd-imds*"); err == nil {
			fmt.Println(indent(out))
		}
	}
	if _, ok := files[vmsuite.UpstreamVarlinkctl]; ok {
		fmt.Println("$ varlinkctl info /run/systemd/io.systemd.Manager    # upstream systemd 262's varlinkctl, in the guest")
		if out, err := run(vmsuite.UpstreamVarlinkctl, "info", "/run/systemd/io.systemd.Manager"); err == nil {
			fmt.Println(indent(out))
		}
	}

	// An orderly poweroff, as `systemctl poweroff` asks PID 1 for it.
	start := time.Now()
	if _, err := run("sh", "-c", "(sleep 0.3; kill -38 1) >/dev/null 2>&1 &"); err != nil {
		return err
	}
	if err := m.Wait(ctx); err != nil {
		return fmt.Errorf("poweroff: %w", err)
	}
	fmt.Printf("powered off (SIGRTMIN+4 to PID 1: units stopped in reverse order) in %v\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}
