//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

// TestIMDSMetrics compares io.systemd.Metrics as our imds serves it with upstream 262's
// systemd-imds, both started by upstream's varlinkctl through exec: (as systemd-imds-metrics@
// .service runs them on an accepted connection) and both asking our imdsd: the interface
// description (comments aside), Describe (the metric families) and List (their values), byte
// for byte, and List without `more` refused by both.
func TestIMDSMetrics(t *testing.T) {
	up := harness.NeedUpstream(t)
	host, inside := up.Stage(t)
	ours := filepath.Join(host, "imds")
	b, err := os.ReadFile(harness.Binary(t, imdsPkg))
	if err != nil {
		t.Fatal(err)
	}
	harness.WriteFile(t, ours, string(b), 0o755)

	for _, vendor := range []string{"amazon-ec2", "google-gcp"} {
		t.Run(vendor, func(t *testing.T) {
			tp := newIMDSTopo(t, vendor)
			env := imdsEnv(tp.Prov)
			root := imdsRoot(t, filepath.Join(host, vendor), tp.Prov)
			tp.startOurIMDSD(t, root, env)
			run := func(bin string, args ...string) (string, string, int) {
				argv := append([]string{"varlinkctl"}, args...)
				for i, a := range argv {
					argv[i] = strings.ReplaceAll(a, "BIN", bin)
				}
				return harness.Run(t, upstreamInNS(tp, up, filepath.Join(root, "run"), nil, false, argv...))
			}
			for _, args := range [][]string{
				{"introspect", "exec:BIN", "io.systemd.Metrics"},
				{"call", "--more", "exec:BIN", "io.systemd.Metrics.Describe", "{}"},
				{"call", "--more", "exec:BIN", "io.systemd.Metrics.List", "{}"},
			} {
				uo, ue, uc := run(upstreamImds, args...)
				oo, oe, oc := run(filepath.Join(inside, "imds"), args...)
				t.Logf("varlinkctl %s: upstream exit %d\n%s%s", strings.Join(args, " "), uc, uo, ue)
				if args[0] == "introspect" { // the comments are our own words
					uo, oo = imdsSettings(uo), imdsSettings(oo)
				}
				if uo != oo || uc != oc || uc != 0 {
					t.Errorf("varlinkctl %s: ours exit %d\n%s%s\nupstream exit %d\n%s%s", strings.Join(args, " "), oc, oo, oe, uc, uo, ue)
				}
			}
			// List without `more` is refused alike (ExpectedMore).
			_, ue, uc := run(upstreamImds, "call", "exec:BIN", "io.systemd.Metrics.List", "{}")
			_, oe, oc := run(filepath.Join(inside, "imds"), "call", "exec:BIN", "io.systemd.Metrics.List", "{}")
			const refused = "called without 'more' flag"
			if uc != oc || !strings.Contains(ue, refused) || !strings.Contains(oe, refused) {
				t.Errorf("List without more: ours exit %d %s; upstream exit %d %s", oc, oe, uc, ue)
			}
		})
	}
}
