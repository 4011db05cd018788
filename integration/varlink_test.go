//go:build integration

package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/varlinkd"
)

const example = "integration/cmd/stead-varlink-example"

// TestVarlinkUpstreamVarlinkctl drives a lib/varlinkd service with the real upstream
// varlinkctl, both through its socket and through an exec: address (varlinkctl starts the
// service itself with a connected socket, as outside checks of our daemons do).
func TestVarlinkUpstreamVarlinkctl(t *testing.T) {
	up := harness.NeedUpstream(t)
	host, inside := up.Stage(t)
	bin := harness.CopyIn(t, harness.Binary(t, example), host)
	binInside := filepath.Join(inside, filepath.Base(bin))

	// A long-running instance with its socket under a root inside the chroot.
	root := filepath.Join(host, "root")
	// READY=1 comes once the socket accepts connections.
	harness.StartDaemon(t, exec.Command(bin, "--root="+root), harness.StopSignal(os.Interrupt), harness.WaitReady())
	sockInside := filepath.Join(inside, "root/run/stead/io.stead.Example")

	for _, addr := range []string{"unix:" + sockInside, "exec:" + binInside} {
		t.Run(strings.SplitN(addr, ":", 2)[0], func(t *testing.T) {
			vctl := func(args ...string) (string, string, int) {
				return up.Run(t, "varlinkctl", args...)
			}
			out, errOut, code := vctl("info", addr)
			if code != 0 || !strings.Contains(out, "stead-varlink-example") {
				t.Errorf("info: code %d\n%s%s", code, out, errOut)
			}
			out, _, _ = vctl("list-interfaces", addr)
			for _, want := range []string{"io.stead.Example", "io.systemd", "io.systemd.service", "org.varlink.service"} {
				if !containsLine(out, want) {
					t.Errorf("list-interfaces lacks %s:\n%s", want, out)
				}
			}
			out, _, _ = vctl("list-methods", addr, "io.stead.Example")
			if !containsLine(out, "io.stead.Example.Count") || !containsLine(out, "io.stead.Example.Echo") {
				t.Errorf("list-methods:\n%s", out)
			}
			out, _, code = vctl("introspect", addr, "io.stead.Example")
			if code != 0 || !strings.Contains(out, "method Count(") || !strings.Contains(out, "error NotFound(") {
				t.Errorf("introspect: code %d\n%s", code, out)
			}
			out, errOut, code = vctl("call", addr, "io.systemd.service.Ping", "{}")
			if code != 0 || strings.TrimSpace(out) != "{}" {
				t.Errorf("call Ping: code %d out %q %s", code, out, errOut)
			}
			out, errOut, code = vctl("call", "--more", "-j", addr, "io.stead.Example.Count", `{"n":3}`)
			if code != 0 || strings.Count(out, `"i"`) != 3 {
				t.Errorf("call --more Count: code %d\n%s%s", code, out, errOut)
			}
			_, errOut, code = vctl("call", addr, "io.stead.Example.Count", `{"n":3}`)
			if code == 0 || !strings.Contains(errOut, "more") {
				t.Errorf("Count without --more: code %d, stderr %q; want ExpectedMore", code, errOut)
			}
			out, errOut, code = vctl("call", addr, "io.stead.Example.Fail", "{}")
			if code == 0 || !strings.Contains(errOut, "io.stead.Example.NotFound") || !strings.Contains(out, `"what"`) {
				t.Errorf("error reply: code %d out %q err %q", code, out, errOut)
			}
			_, errOut, code = vctl("call", addr, "io.stead.Example.Fail", `{"errno":2}`)
			if code == 0 || !strings.Contains(errOut, "No such file or directory") {
				t.Errorf("io.systemd.System reply: code %d err %q", code, errOut)
			}
			_, errOut, code = vctl("call", addr, "io.stead.Example.Echo", `{"text":"x","bogus":1}`)
			if code == 0 || !strings.Contains(errOut, "Invalid argument") {
				t.Errorf("unknown parameter: code %d err %q", code, errOut)
			}
		})
	}
}

// TestVarlinkValidateIDL checks every interface file we ship with upstream's parser.
func TestVarlinkValidateIDL(t *testing.T) {
	up := harness.NeedUpstream(t)
	host, inside := up.Stage(t)
	var files []string
	for _, pattern := range []string{"lib/api/*/*.varlink", "integration/*/*.varlink"} {
		m, _ := filepath.Glob(filepath.Join(harness.RepoRoot(), pattern))
		files = append(files, m...)
	}
	if len(files) < 3 {
		t.Fatalf("found only %d .varlink files", len(files))
	}
	for _, f := range files {
		staged := harness.CopyIn(t, f, host)
		out, errOut, code := up.Run(t, "varlinkctl", "validate-idl", filepath.Join(inside, filepath.Base(staged)))
		if code != 0 {
			t.Errorf("validate-idl %s: code %d\n%s%s", f, code, out, errOut)
		}
	}
}

// TestVarlinkOurClientAgainstUpstream calls an upstream daemon (systemd-pcrextend, started
// through our exec: dialer inside the chroot) with lib/varlinkd's client.
func TestVarlinkOurClientAgainstUpstream(t *testing.T) {
	up := harness.NeedUpstream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := varlinkd.Dial(ctx, "exec:chroot "+up.Dir+" /usr/lib/systemd/systemd-imdsd")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var vendor, product, version, url string
	var ifaces []string
	if err := c.GetInfo(ctx, &vendor, &product, &version, &url, &ifaces); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(product, "systemd-imdsd") || !strings.Contains(strings.Join(ifaces, " "), "io.systemd.InstanceMetadata") {
		t.Errorf("GetInfo from upstream imdsd: %q %v", product, ifaces)
	}
	desc, err := c.GetInterfaceDescription(ctx, "io.systemd")
	if err != nil || !strings.Contains(desc, "error System(") {
		t.Errorf("io.systemd description: %v\n%s", err, desc)
	}
}

func containsLine(out, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}

// TestVarlinkDemo runs integration/demo end to end: it must build everything, bring the suite
// up and describe each daemon through its own introspection.
func TestVarlinkDemo(t *testing.T) {
	// The VM part of the tour is TestInitVMDemo's.
	cmd := exec.Command(filepath.Join(harness.RepoRoot(), "integration", "demo"), "--no-vm")
	cmd.Env = append(os.Environ(), "STEAD_DEMO_BIN="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("integration/demo: %v\n%s", err, out)
	}
	wants := []string{"● stead-varlink-example", "io.systemd.service       Ping, Reload", "io.stead.Example → "}
	if os.Getuid() == 0 {
		wants = append(wants, "● imdsd", "io.systemd.InstanceMetadata Get, GetVendorInfo", "vendor   amazon-ec2", "hostname amazon-ec2-test-host")
	}
	for _, want := range wants {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
