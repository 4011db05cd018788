// Command stead-demo brings stead's daemons up under a private root on this machine and prints
// a tour: what runs, where its socket is, and what each Varlink interface offers; then it boots
// the whole suite in a qemu VM with stead's init as PID 1 and tours that from inside
// (vmtour.go). It is what integration/demo runs after building everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	steaddaemon "github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/varlinkd"
)

// daemon is one program of the suite as the demo starts it.
type daemon struct {
	name   string   // binary name in the bin directory
	args   []string // beyond --root
	socket string   // path under the root
	about  string
}

// suite lists what the demo brings up; each landed daemon adds itself here.
var suite = []daemon{
	{
		name:   "stead-varlink-example",
		socket: "/run/stead/io.stead.Example",
		about:  "the reference service every daemon's Varlink plumbing (lib/varlinkd) is tested with",
	},
}

func main() {
	bin := flag.String("bin", "", "directory holding the built binaries (default: next to this program)")
	repo := flag.String("repo", ".", "the stead checkout (for hwdb/)")
	hold := flag.Bool("hold", false, "keep the suite running after the tour until interrupted")
	noVM := flag.Bool("no-vm", false, "skip the tour of the suite booted in a VM")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: stead-demo [--bin=DIR] [--repo=DIR] [--hold] [--no-vm]\n\nStarts stead's daemons under a temporary root and prints a tour of them, then boots\nthe suite in a VM (stead's init as PID 1) and tours it.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *bin == "" {
		self, _ := os.Executable()
		*bin = filepath.Dir(self)
	}
	if err := run(*bin, *repo, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "stead-demo:", err)
		os.Exit(1)
	}
	if *noVM {
		return
	}
	if err := runVMTour(*bin, *repo); err != nil {
		fmt.Fprintln(os.Stderr, "stead-demo: VM tour:", err)
		os.Exit(1)
	}
}

func run(bin, repo string, hold bool) error {
	root, err := os.MkdirTemp("", "stead-demo-root-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	fmt.Printf("stead demo — root %s\n\n", root)

	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
	}()
	for _, d := range suite {
		cmd := exec.Command(filepath.Join(bin, d.name), append([]string{"--root=" + root}, d.args...)...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		procs = append(procs, cmd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, d := range suite {
		if err := tour(ctx, root, d, procs[i].Process.Pid); err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
	}
	if os.Getuid() == 0 {
		c, err := startCloud(bin, root, repo)
		if err != nil {
			return fmt.Errorf("simulated cloud: %w", err)
		}
		defer c.stop()
		imdsd := daemon{name: "imdsd", socket: imdsSocket, about: "cloud instance metadata (netns " + c.instanceNS + ")"}
		if err := tour(ctx, root, imdsd, c.procs[1].Process.Pid); err != nil {
			return fmt.Errorf("imdsd: %w", err)
		}
		if err := c.tour(ctx, root); err != nil {
			return fmt.Errorf("simulated cloud: %w", err)
		}
	} else {
		fmt.Println("(not root: skipping the simulated cloud instance, which needs network namespaces)")
	}
	printRegistry(root)
	if !hold {
		return nil
	}
	fmt.Println("\nThe suite keeps running; press Ctrl-C to stop it.")
	ctx, stop := steaddaemon.StopContext(context.Background())
	defer stop()
	<-ctx.Done()
	return nil
}

// tour waits for a daemon's socket and describes it through its own introspection.
func tour(ctx context.Context, root string, d daemon, pid int) error {
	sock := filepath.Join(root, d.socket)
	c, err := dialWhenUp(ctx, sock)
	if err != nil {
		return err
	}
	defer c.Close()
	var vendor, product, version, url string
	var ifaces []string
	if err := c.GetInfo(ctx, &vendor, &product, &version, &url, &ifaces); err != nil {
		return err
	}
	start := time.Now()
	if err := c.Call(ctx, "io.systemd.service.Ping", nil, nil); err != nil {
		return err
	}
	fmt.Printf("● %s (pid %d) — %s\n", d.name, pid, d.about)
	fmt.Printf("  socket   %s\n  product  %s %s (%s)\n  ping     %v\n", d.socket, product, version, vendor, time.Since(start).Round(time.Microsecond))
	sort.Strings(ifaces)
	for _, name := range ifaces {
		desc, err := c.GetInterfaceDescription(ctx, name)
		if err != nil {
			return err
		}
		fmt.Printf("  %-24s %s\n", name, strings.Join(members(desc), ", "))
	}
	fmt.Println()
	return nil
}

// members lists the methods and errors an IDL declares.
func members(desc string) []string {
	var out []string
	for _, line := range strings.Split(desc, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "method" || f[0] == "error") {
			name, _, _ := strings.Cut(f[1], "(")
			if f[0] == "error" {
				name = "!" + name
			}
			out = append(out, name)
		}
	}
	return out
}

func dialWhenUp(ctx context.Context, sock string) (*varlinkd.Client, error) {
	for {
		c, err := varlinkd.Dial(ctx, sock)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s did not come up: %w", sock, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func printRegistry(root string) {
	dir := filepath.Join(root, varlinkd.RegistryDir)
	entries, _ := os.ReadDir(dir)
	fmt.Printf("Varlink registry %s:\n", varlinkd.RegistryDir)
	for _, e := range entries {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		fmt.Printf("  %s → %s\n", e.Name(), target)
	}
	fmt.Printf("\nWith --hold, try: varlinkctl introspect %s io.stead.Example\n", filepath.Join(root, suite[0].socket))
}
