package dmi

import (
	"strings"
	"testing"
)

// FuzzBuildModalias: whatever the firmware strings hold, the modalias keeps its shape: one
// ':' before each present field and one at the end, nothing outside printable ASCII.
func FuzzBuildModalias(f *testing.F) {
	f.Add("Amazon EC2", "m5.large", "", "7783-7084-3265-9085-8269-3286-77")
	f.Add("a:b", "p\xc3\xa9 [1]*?\x7f", " ", "\n")
	f.Fuzz(func(t *testing.T, vendor, product, version, tag string) {
		fields := map[string]string{SysVendor: vendor, ProductName: product, ProductVersion: version}
		m := BuildModalias(fields)
		want := "dmi:svn" + Filter(vendor) + ":pn" + Filter(product) + ":pvr" + Filter(version) + ":"
		if m != want || strings.Count(m, ":") != 4 {
			t.Fatalf("BuildModalias = %q, want %q", m, want)
		}
		for i := 0; i < len(m); i++ {
			if m[i] <= ' ' || m[i] >= 0x7f {
				t.Fatalf("byte %#x in %q", m[i], m)
			}
		}
		info := Info{Fields: map[string]string{ChassisAssetTag: tag}, RawModalias: m}
		if got := info.Modalias(); tag != "" && got != m+"cat"+tag+":" || tag == "" && got != m {
			t.Fatalf("Modalias() = %q", got)
		}
	})
}
