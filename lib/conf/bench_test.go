package conf

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// benchFile is a realistic configuration of about 200 lines (211): a commented
// header, a few settings sections, repeated [Route] sections, list
// settings with resets and one long continued command line.
func benchFile() string {
	var b strings.Builder
	b.WriteString("#  This file is part of stead.\n#\n#  Local changes belong in drop-ins, see docs/conf.md.\n\n")
	b.WriteString("[Match]\nName=en* eth*\nType=ether\n\n[Network]\nDHCP=yes\nLinkLocalAddressing=ipv6\nIPv6AcceptRA=yes\n")
	for i := range 8 {
		fmt.Fprintf(&b, "DNS=192.0.2.%d\n", i)
	}
	b.WriteString("DNS=\nDNS=198.51.100.1 198.51.100.2\nDomains=~example.com example.org\n\n")
	b.WriteString("[Service]\n; a command split over lines\nExecStart=/usr/lib/stead/networkd \\\n    --root=/ \\\n    # the next flag only matters in tests\n    --log-level=info\n\n")
	for i := range 30 {
		fmt.Fprintf(&b, "# route %d\n[Route]\nDestination=10.%d.0.0/16\nGateway=192.0.2.%d\nMetric=%d\n\n", i, i, i%250, 100+i)
	}
	return b.String()
}

func BenchmarkParse(b *testing.B) {
	in := benchFile()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse(strings.NewReader(in), "bench.network", nil)
		if err != nil || len(f.Warnings) != 0 || len(f.SectionsNamed("Route")) != 30 {
			b.Fatalf("%v %v", err, f.Warnings)
		}
	}
}

func BenchmarkParseTimespan(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTimespan("1h 30min 15.5s"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFindMissing looks up a unit name that exists in no directory, as the manager
// does for every service's implicit socket: under the real root and under a tree.
func BenchmarkFindMissing(b *testing.B) {
	tree := b.TempDir()
	dirs := []string{"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system"}
	for _, d := range dirs {
		if err := os.MkdirAll(tree+d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	for _, root := range []string{"/", tree} {
		name := "real-root"
		if root != "/" {
			name = "tree"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				main, _, err := FindMain(root, dirs, "stead-bench-nonexistent.socket")
				if err != nil || main != "" {
					b.Fatal(main, err)
				}
				if _, err := FindDropins(root, []string{dirs[0] + "/stead-bench-nonexistent.socket.d", dirs[0] + "/socket.d"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
