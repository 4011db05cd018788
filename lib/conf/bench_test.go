package conf

import (
	"fmt"
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
