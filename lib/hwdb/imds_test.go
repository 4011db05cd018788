package hwdb_test

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stead-os/stead/lib/dmi"
	"github.com/stead-os/stead/lib/hwdb"
)

// repoHwdb is the repository's hwdb directory, relative to this package.
const repoHwdb = "../../hwdb"

func loadRepoHwdb(t testing.TB) *hwdb.DB {
	t.Helper()
	db, errs := hwdb.LoadDirs(repoHwdb)
	if len(errs) != 0 {
		t.Fatalf("loading %s: %v", repoHwdb, errs)
	}
	if len(db.Files()) == 0 {
		t.Fatalf("no hwdb files in %s", repoHwdb)
	}
	return db
}

// cloudVM is how a cloud's VMs present themselves in /sys/class/dmi/id. The strings the
// hwdb matches on are the ones each cloud documents or that cloud-init and upstream systemd
// key on; the other fields are typical values, not captures from real instances.
type cloudVM struct {
	name   string
	fields map[string]string
	want   map[string]string // properties that must be set (value "" = must be absent)
}

func seabios(fields map[string]string) map[string]string {
	m := map[string]string{
		dmi.BIOSVendor: "SeaBIOS", dmi.BIOSVersion: "1.16.3", dmi.BIOSDate: "04/01/2014",
		dmi.BIOSRelease: "0.0", dmi.ProductVersion: "pc-i440fx-8.2", dmi.ChassisVendor: "QEMU",
		dmi.ChassisType: "1", dmi.ChassisVersion: "pc-i440fx-8.2", dmi.ChassisAssetTag: "",
		dmi.ProductSKU: "",
	}
	for k, v := range fields {
		m[k] = v
	}
	return m
}

var clouds = []cloudVM{
	{
		name: "amazon-ec2 (Nitro)",
		fields: map[string]string{
			dmi.BIOSVendor: "Amazon EC2", dmi.BIOSVersion: "1.0", dmi.BIOSDate: "10/16/2017",
			dmi.BIOSRelease: "1.0", dmi.SysVendor: "Amazon EC2", dmi.ProductName: "m5.large",
			dmi.ProductVersion: "", dmi.BoardVendor: "Amazon EC2", dmi.BoardName: "",
			dmi.BoardVersion: "", dmi.ChassisVendor: "Amazon EC2", dmi.ChassisType: "1",
			dmi.ChassisVersion: "", dmi.ChassisAssetTag: "Amazon EC2", dmi.ProductSKU: "",
		},
		want: map[string]string{
			"IMDS_VENDOR":              "amazon-ec2",
			"IMDS_TOKEN_URL":           "http://169.254.169.254/latest/api/token",
			"IMDS_REFRESH_HEADER_NAME": "X-aws-ec2-metadata-token-ttl-seconds",
			"IMDS_TOKEN_HEADER_NAME":   "X-aws-ec2-metadata-token",
			"IMDS_DATA_URL":            "http://169.254.169.254/latest",
			"IMDS_ADDRESS_IPV6":        "fd00:ec2::254",
			"IMDS_KEY_USERDATA":        "/user-data",
		},
	},
	{
		name: "amazon-ec2 (Xen)",
		fields: map[string]string{
			dmi.BIOSVendor: "Xen", dmi.BIOSVersion: "4.11.amazon", dmi.BIOSDate: "08/24/2006",
			dmi.BIOSRelease: "4.11", dmi.SysVendor: "Xen", dmi.ProductName: "HVM domU",
			dmi.ProductVersion: "4.11.amazon", dmi.ChassisVendor: "Xen", dmi.ChassisType: "1",
			dmi.ChassisVersion: "", dmi.ChassisAssetTag: "",
		},
		want: map[string]string{"IMDS_VENDOR": "amazon-ec2", "IMDS_DATA_URL": "http://169.254.169.254/latest"},
	},
	{
		name: "microsoft-azure",
		fields: map[string]string{
			dmi.BIOSVendor: "Microsoft Corporation", dmi.BIOSVersion: "Hyper-V UEFI Release v4.1",
			dmi.BIOSDate: "05/09/2022", dmi.BIOSRelease: "4.1", dmi.SysVendor: "Microsoft Corporation",
			dmi.ProductName: "Virtual Machine", dmi.ProductVersion: "7.0",
			dmi.BoardVendor: "Microsoft Corporation", dmi.BoardName: "Virtual Machine",
			dmi.BoardVersion: "7.0", dmi.ChassisVendor: "Microsoft Corporation", dmi.ChassisType: "3",
			dmi.ChassisVersion: "7.0", dmi.ChassisAssetTag: "7783-7084-3265-9085-8269-3286-77",
			dmi.ProductSKU: "None",
		},
		want: map[string]string{
			"IMDS_VENDOR":              "microsoft-azure",
			"IMDS_DATA_URL":            "http://169.254.169.254/metadata",
			"IMDS_DATA_URL_SUFFIX":     "?api-version=2025-04-07&format=text",
			"IMDS_EXTRA_HEADER":        "Metadata: true",
			"IMDS_TOKEN_URL":           "",
			"IMDS_KEY_USERDATA_BASE64": "/instance/compute/userData",
		},
	},
	{
		name: "google-gcp",
		fields: map[string]string{
			dmi.BIOSVendor: "Google", dmi.BIOSVersion: "Google", dmi.BIOSDate: "06/07/2024",
			dmi.BIOSRelease: "0.0", dmi.SysVendor: "Google", dmi.ProductName: "Google Compute Engine",
			dmi.ProductVersion: "", dmi.BoardVendor: "Google", dmi.BoardName: "Google Compute Engine",
			dmi.BoardVersion: "", dmi.ChassisVendor: "Google", dmi.ChassisType: "1",
			dmi.ChassisVersion: "", dmi.ChassisAssetTag: "", dmi.ProductSKU: "",
		},
		want: map[string]string{
			"IMDS_VENDOR":            "google-gcp",
			"IMDS_DATA_URL":          "http://169.254.169.254/computeMetadata/v1",
			"IMDS_EXTRA_HEADER":      "Metadata-Flavor: Google",
			"IMDS_KEY_USERDATA_BASE": "/instance/attributes",
		},
	},
	{
		name: "hetzner-cloud",
		fields: map[string]string{
			dmi.BIOSVendor: "Hetzner", dmi.BIOSVersion: "20171111", dmi.BIOSDate: "11/11/2017",
			dmi.BIOSRelease: "0.0", dmi.SysVendor: "Hetzner", dmi.ProductName: "vServer",
			dmi.ProductVersion: "20171111", dmi.BoardVendor: "KVM",
			dmi.BoardName: "Standard PC (Q35 + ICH9, 2009)", dmi.BoardVersion: "pc-q35-4.2",
			dmi.ChassisVendor: "QEMU", dmi.ChassisType: "1", dmi.ChassisVersion: "pc-q35-4.2",
			dmi.ProductFamily: "Hetzner_vServer", dmi.ProductSKU: "",
		},
		want: map[string]string{
			"IMDS_VENDOR":       "hetzner-cloud",
			"IMDS_DATA_URL":     "http://169.254.169.254/hetzner/v1/metadata",
			"IMDS_KEY_USERDATA": "/userdata",
		},
	},
	{
		name: "oracle-cloud-oci",
		fields: seabios(map[string]string{
			dmi.SysVendor: "QEMU", dmi.ProductName: "Standard PC (i440FX + PIIX, 1996)",
			dmi.ChassisAssetTag: "OracleCloud.com",
		}),
		want: map[string]string{
			"IMDS_VENDOR":       "oracle-cloud-oci",
			"IMDS_DATA_URL":     "http://169.254.169.254/opc/v2",
			"IMDS_EXTRA_HEADER": "Authorization: Bearer Oracle",
		},
	},
	{
		name:   "scaleway",
		fields: seabios(map[string]string{dmi.SysVendor: "Scaleway", dmi.ProductName: "SCW-PRO2-XXS"}),
		want: map[string]string{
			"IMDS_VENDOR":       "scaleway",
			"IMDS_DATA_URL":     "http://169.254.42.42",
			"IMDS_ADDRESS_IPV6": "fd00:42::42",
		},
	},
	{
		name:   "tencent-cloud",
		fields: seabios(map[string]string{dmi.SysVendor: "Tencent Cloud", dmi.ProductName: "CVM"}),
		want: map[string]string{
			"IMDS_VENDOR":       "tencent-cloud",
			"IMDS_DATA_URL":     "http://metadata.tencentyun.com",
			"IMDS_ADDRESS_IPV4": "",
		},
	},
	{
		name: "alibaba-ecs",
		fields: seabios(map[string]string{
			dmi.SysVendor: "Alibaba Cloud", dmi.ProductName: "Alibaba Cloud ECS",
		}),
		want: map[string]string{
			"IMDS_VENDOR":            "alibaba-ecs",
			"IMDS_TOKEN_URL":         "http://100.100.100.200/latest/api/token",
			"IMDS_TOKEN_HEADER_NAME": "X-aliyun-ecs-metadata-token",
			"IMDS_DATA_URL":          "http://100.100.100.200/latest",
		},
	},
	{
		name: "vultr (BIOS vendor)",
		fields: seabios(map[string]string{
			dmi.BIOSVendor: "Vultr", dmi.SysVendor: "Vultr", dmi.ProductName: "VC2",
		}),
		want: map[string]string{"IMDS_VENDOR": "vultr", "IMDS_DATA_URL": "http://169.254.169.254"},
	},
	{
		name:   "vultr (system vendor only)",
		fields: seabios(map[string]string{dmi.SysVendor: "Vultr", dmi.ProductName: "VC2"}),
		want: map[string]string{
			"IMDS_VENDOR":       "vultr",
			"IMDS_KEY_USERDATA": "/user-data/user-data",
		},
	},
	{
		name: "openstack",
		fields: seabios(map[string]string{
			dmi.SysVendor: "OpenStack Foundation", dmi.ProductName: "OpenStack Nova",
			dmi.ProductVersion: "29.0.0", dmi.ProductFamily: "Virtual Machine",
		}),
		want: map[string]string{
			"IMDS_VENDOR":       "openstack",
			"IMDS_DATA_URL":     "http://169.254.169.254",
			"IMDS_KEY_USERDATA": "/openstack/latest/user_data",
		},
	},
	{
		name: "openstack (Huawei Cloud)",
		fields: seabios(map[string]string{
			dmi.SysVendor: "OpenStack Foundation", dmi.ProductName: "OpenStack Nova",
			dmi.ChassisAssetTag: "HUAWEICLOUD",
		}),
		want: map[string]string{"IMDS_VENDOR": "openstack"},
	},
	{
		name: "digitalocean",
		fields: seabios(map[string]string{
			dmi.BIOSVendor: "DigitalOcean", dmi.BIOSVersion: "20171212",
			dmi.SysVendor: "DigitalOcean", dmi.ProductName: "Droplet", dmi.ProductVersion: "20171212",
		}),
		want: map[string]string{
			"IMDS_VENDOR":   "digitalocean",
			"IMDS_DATA_URL": "http://169.254.169.254/metadata/v1",
		},
	},
	{
		name:   "akamai-linode",
		fields: seabios(map[string]string{dmi.SysVendor: "Linode", dmi.ProductName: "Compute Instance"}),
		want: map[string]string{
			"IMDS_VENDOR":              "akamai-linode",
			"IMDS_TOKEN_URL":           "http://169.254.169.254/v1/token",
			"IMDS_REFRESH_HEADER_NAME": "Metadata-Token-Expiry-Seconds",
			"IMDS_TOKEN_HEADER_NAME":   "Metadata-Token",
			"IMDS_DATA_URL":            "http://169.254.169.254/v1",
		},
	},
	{
		name: "exoscale",
		fields: seabios(map[string]string{
			dmi.SysVendor: "Exoscale", dmi.ProductName: "Exoscale Compute Platform",
		}),
		want: map[string]string{"IMDS_VENDOR": "exoscale", "IMDS_DATA_URL": "http://169.254.169.254/1.0"},
	},
	{
		name:   "upcloud",
		fields: seabios(map[string]string{dmi.SysVendor: "UpCloud", dmi.ProductName: "Cloud Server"}),
		want: map[string]string{
			"IMDS_VENDOR":   "upcloud",
			"IMDS_DATA_URL": "http://169.254.169.254/metadata/v1",
		},
	},
}

// notClouds must not be taken for a cloud.
var notClouds = []cloudVM{
	{name: "plain qemu", fields: seabios(map[string]string{
		dmi.SysVendor: "QEMU", dmi.ProductName: "Standard PC (i440FX + PIIX, 1996)"})},
	{name: "hyper-v outside Azure", fields: map[string]string{
		dmi.BIOSVendor: "Microsoft Corporation", dmi.SysVendor: "Microsoft Corporation",
		dmi.ProductName: "Virtual Machine", dmi.ChassisType: "3",
		dmi.ChassisAssetTag: "6144-6561-0227-7426-0476-1817-42"}},
	{name: "laptop", fields: map[string]string{
		dmi.BIOSVendor: "LENOVO", dmi.BIOSVersion: "N32ET86W (1.62 )", dmi.SysVendor: "LENOVO",
		dmi.ProductName: "20XW0055GE", dmi.ProductVersion: "ThinkPad X1 Carbon Gen 9",
		dmi.ChassisType: "10", dmi.ChassisAssetTag: "No Asset Information"}},
	{name: "vendor string in the wrong field", fields: seabios(map[string]string{
		dmi.SysVendor: "QEMU", dmi.ProductName: "x", dmi.BoardName: "Google Compute Engine",
		dmi.ChassisVersion: "Scaleway"})},
}

// writeDMI writes fields as the kernel presents them under root/sys/class/dmi/id, modalias
// file included.
func writeDMI(t testing.TB, root string, fields map[string]string) {
	t.Helper()
	dir := filepath.Join(root, dmi.Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{dmi.ModaliasFile: dmi.BuildModalias(fields)}
	for k, v := range fields {
		files[k] = v
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
}

func modaliasOf(t testing.TB, fields map[string]string) string {
	t.Helper()
	root := t.TempDir()
	writeDMI(t, root, fields)
	info, err := dmi.Read(root)
	if err != nil {
		t.Fatal(err)
	}
	return info.Modalias()
}

func TestIMDSClouds(t *testing.T) {
	db := loadRepoHwdb(t)
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			modalias := modaliasOf(t, c.fields)
			props := db.Query(modalias)
			for k, want := range c.want {
				got, ok := props[k]
				if want == "" && ok {
					t.Errorf("%s=%q set, want unset", k, got)
				} else if want != "" && got != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			// Exactly one record applies: the clouds' matches do not overlap.
			n := 0
			for _, e := range db.Entries() {
				for _, m := range e.Matches {
					if hwdb.Match(m, modalias) {
						n++
						break
					}
				}
			}
			if n != 1 {
				t.Errorf("%d records match %s", n, modalias)
			}
		})
	}
	for _, c := range notClouds {
		t.Run(c.name, func(t *testing.T) {
			modalias := modaliasOf(t, c.fields)
			if props := db.Query(modalias); props != nil {
				t.Errorf("%s gives %v", modalias, props)
			}
		})
	}
}

// upstreamVendors are the nine clouds of systemd 261; their vendor ids must be upstream's.
var upstreamVendors = []string{"amazon-ec2", "microsoft-azure", "google-gcp", "hetzner-cloud",
	"oracle-cloud-oci", "scaleway", "tencent-cloud", "alibaba-ecs", "vultr"}

// TestIMDSHwdbConsistent checks every record of the file against what imdsd needs.
func TestIMDSHwdbConsistent(t *testing.T) {
	db := loadRepoHwdb(t)
	known := map[string]bool{
		"IMDS_VENDOR": true, "IMDS_TOKEN_URL": true, "IMDS_REFRESH_HEADER_NAME": true,
		"IMDS_DATA_URL": true, "IMDS_DATA_URL_SUFFIX": true, "IMDS_TOKEN_HEADER_NAME": true,
		"IMDS_EXTRA_HEADER": true, "IMDS_ADDRESS_IPV4": true, "IMDS_ADDRESS_IPV6": true,
		"IMDS_KEY_HOSTNAME": true, "IMDS_KEY_REGION": true, "IMDS_KEY_ZONE": true,
		"IMDS_KEY_IPV4_PUBLIC": true, "IMDS_KEY_IPV6_PUBLIC": true, "IMDS_KEY_SSH_KEY": true,
		"IMDS_KEY_USERDATA": true, "IMDS_KEY_USERDATA_BASE": true, "IMDS_KEY_USERDATA_BASE64": true,
	}
	for i := 2; i <= 63; i++ {
		known["IMDS_EXTRA_HEADER"+strconv.Itoa(i)] = true
	}
	vendors := map[string]bool{}
	for _, e := range db.Entries() {
		where := e.File + ":" + strconv.Itoa(e.Line)
		props := map[string]string{}
		for _, p := range e.Properties {
			if !known[p.Key] {
				t.Errorf("%s:%d: unknown property %s", e.File, p.Line, p.Key)
			}
			if _, dup := props[p.Key]; dup {
				t.Errorf("%s:%d: %s set twice", e.File, p.Line, p.Key)
			}
			props[p.Key] = p.Value
		}
		for _, m := range e.Matches {
			if !strings.HasPrefix(m, "dmi:") {
				t.Errorf("%s: match %q is not a DMI modalias pattern", where, m)
			}
		}
		v := props["IMDS_VENDOR"]
		if v == "" || vendors[v] {
			t.Errorf("%s: missing or repeated IMDS_VENDOR %q", where, v)
		}
		vendors[v] = true
		for _, k := range []string{"IMDS_DATA_URL", "IMDS_TOKEN_URL"} {
			if s, ok := props[k]; ok {
				if u, err := url.Parse(s); err != nil || u.Scheme != "http" || u.Host == "" {
					t.Errorf("%s: %s=%q is not an http URL", where, k, s)
				}
			}
		}
		if props["IMDS_DATA_URL"] == "" {
			t.Errorf("%s: no IMDS_DATA_URL", where)
		}
		// imdsd refuses a token URL without a token header and the other way round.
		_, tu := props["IMDS_TOKEN_URL"]
		_, th := props["IMDS_TOKEN_HEADER_NAME"]
		_, rh := props["IMDS_REFRESH_HEADER_NAME"]
		if tu != th || tu != rh {
			t.Errorf("%s: token URL, token header and refresh header must come together", where)
		}
		for k, s := range props {
			switch {
			case strings.HasPrefix(k, "IMDS_ADDRESS_IPV4"):
				if ip := net.ParseIP(s); ip == nil || ip.To4() == nil {
					t.Errorf("%s: %s=%q", where, k, s)
				}
			case strings.HasPrefix(k, "IMDS_ADDRESS_IPV6"):
				if ip := net.ParseIP(s); ip == nil || ip.To4() != nil {
					t.Errorf("%s: %s=%q", where, k, s)
				}
			case strings.HasPrefix(k, "IMDS_KEY_"):
				if !strings.HasPrefix(s, "/") {
					t.Errorf("%s: %s=%q does not start with /", where, k, s)
				}
			case strings.HasPrefix(k, "IMDS_EXTRA_HEADER"):
				if name, _, ok := strings.Cut(s, ": "); !ok || name == "" {
					t.Errorf("%s: %s=%q is not a full header", where, k, s)
				}
			}
		}
	}
	for _, v := range upstreamVendors {
		if !vendors[v] {
			t.Errorf("no record for %s", v)
		}
	}
	if extra := len(vendors) - len(upstreamVendors); extra < 3 {
		t.Errorf("only %d clouds beyond upstream's", extra)
	}
}

// BenchmarkQuery queries the repository's IMDS hwdb with the modalias of an EC2 instance and of
// a machine no record matches, next to a plain scan of every pattern with Match, the way a
// naive implementation would do it.
func BenchmarkQuery(b *testing.B) {
	db := loadRepoHwdb(b)
	hit := modaliasOf(b, clouds[2].fields) // Azure: matched through the appended asset tag
	miss := modaliasOf(b, notClouds[2].fields)
	for _, q := range []struct{ name, s string }{{"hit", hit}, {"miss", miss}} {
		b.Run("index/"+q.name, func(b *testing.B) {
			for b.Loop() {
				db.Query(q.s)
			}
		})
		b.Run("scan/"+q.name, func(b *testing.B) {
			entries := db.Entries()
			for b.Loop() {
				props := map[string]string{}
				for _, e := range entries {
					for _, m := range e.Matches {
						if hwdb.Match(m, q.s) {
							for _, p := range e.Properties {
								props[p.Key] = p.Value
							}
							break
						}
					}
				}
			}
		})
	}
}

// BenchmarkQueryLarge loads a full udev hwdb directory ($STEAD_BENCH_HWDB_DIR, default
// /usr/lib/udev/hwdb.d; skipped when absent) and compares Query with a plain scan.
func BenchmarkQueryLarge(b *testing.B) {
	dir := os.Getenv("STEAD_BENCH_HWDB_DIR")
	if dir == "" {
		dir = "/usr/lib/udev/hwdb.d"
	}
	db, _ := hwdb.LoadDirs(dir)
	entries := db.Entries()
	if len(entries) == 0 {
		b.Skipf("no hwdb files in %s", dir)
	}
	for _, q := range []struct{ name, s string }{
		{"usb", "usb:v1D6Bp0002d0606dc09dsc00dp03ic09isc00ip00in00"},
		{"dmi", modaliasOf(b, clouds[0].fields)},
	} {
		b.Run("index/"+q.name, func(b *testing.B) {
			for b.Loop() {
				db.Query(q.s)
			}
		})
		b.Run("scan/"+q.name, func(b *testing.B) {
			for b.Loop() {
				for _, e := range entries {
					for _, m := range e.Matches {
						if hwdb.Match(m, q.s) {
							break
						}
					}
				}
			}
		})
	}
}
