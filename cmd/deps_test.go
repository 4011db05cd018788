// Package cmd_test pins what the client binaries link, as tailscale's deps_test.go files do:
// a client talks to its daemon over Varlink through lib/api's typed clients and must not drag
// in the daemon, its netlink and DHCP libraries or another daemon's packages.
package cmd_test

import (
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/stead-os/stead/"

// daemonOnly are packages (and everything below them) that only daemons may link, with why.
var daemonOnly = map[string]string{
	module + "services/networkd":      "networkd itself (netconf, dhcpclient, relay below it)",
	module + "services/pid1":          "the service manager",
	module + "services/imdsd":         "imdsd, the metadata daemon",
	module + "services/pcrextend":     "pcrextend, the measuring service",
	"github.com/google/go-tpm":        "TPM commands (pcrextend's, through lib/tpm)",
	"github.com/vishvananda/netlink":  "netlink (networkd's link, address and route handling)",
	"github.com/vishvananda/netns":    "netlink's namespaces",
	"github.com/jsimonetti/rtnetlink": "netlink",
	"github.com/mdlayher":             "netlink and raw sockets (mdlayher/netlink, socket, packet)",
	"github.com/insomniacslk/dhcp":    "the DHCP client and relay",
}

// clients are the binaries that only call daemons, and extra packages each must not link.
var clients = map[string]map[string]string{
	"networkctl":           nil,
	"oomctl":               nil,
	"networkd-wait-online": nil,
	"steadctl":             nil,
	"imds":                 nil,
	"imds-generator":       {module + "lib/varlinkd": "a generator only writes unit files"},
}

// TestClientDeps fails when a client binary links a daemon-only package.
func TestClientDeps(t *testing.T) {
	goTool := goCommand(t)
	for name, extra := range clients {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", "./"+name)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("go list -deps ./cmd/%s: %v\n%s", name, err, stderr)
			}
			for _, pkg := range strings.Fields(string(out)) {
				for prefix, why := range merge(daemonOnly, extra) {
					if pkg == prefix || strings.HasPrefix(pkg, prefix+"/") {
						t.Errorf("cmd/%s links %s: %s", name, pkg, why)
					}
				}
			}
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	m := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// goCommand finds the go tool: on PATH, else in the GOROOT the test was built with.
func goCommand(t *testing.T) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOROOT, "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no go tool: %v", err)
	}
	return p
}
