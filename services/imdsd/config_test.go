package imdsd

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/stead-os/stead/lib/kcmdline"
)

func layer(t *testing.T, source string, kv ...string) Layer {
	t.Helper()
	l := Layer{Source: source}
	for i := 0; i < len(kv); i += 2 {
		var err error
		if name, ok := strings.CutPrefix(kv[i], "key."); ok {
			var w WellKnown
			if w, err = ParseWellKnown(name, false); err == nil {
				err = l.SetKey(w, kv[i+1])
			}
		} else {
			err = l.Set(kv[i], kv[i+1])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func TestResolvePrecedence(t *testing.T) {
	src := func(l Layer) func() Layer { return func() Layer { return l } }
	never := func() Layer { t.Fatal("source consulted after an earlier one answered"); return Layer{} }

	// Command line endpoint flags: nothing else is read.
	cli := layer(t, "command line", "data_url", "http://cli", "address_ipv4", "1.1.1.1")
	ep, source := resolve(&cli, never)
	if source != "command line" || ep.DataURL != "http://cli" || ep.AddressIPv4 != netip.MustParseAddr("1.1.1.1") {
		t.Errorf("cli: %q %+v", source, ep)
	}

	// Addresses and well-known keys on the command line do not make it the source: they
	// stay unless the source used sets them too.
	cli = layer(t, "command line", "address_ipv4", "5.6.7.8", "address_ipv6", "fd00::5", "key.hostname", "/cli-host")
	env := layer(t, "environment", "vendor", "e", "data_url", "http://env", "address_ipv4", "1.2.3.4")
	ep, source = resolve(&cli, src(env), never)
	if source != "environment" || ep.Vendor != "e" || ep.AddressIPv4 != netip.MustParseAddr("1.2.3.4") ||
		ep.AddressIPv6 != netip.MustParseAddr("fd00::5") || ep.Keys[Hostname] != "/cli-host" {
		t.Errorf("cli addresses under env: %q %+v", source, ep)
	}

	// The first source that sets anything wins, even if it sets only an address.
	kernel := layer(t, "kernel command line", "address_ipv4", "9.9.9.9")
	creds := layer(t, "credentials", "vendor", "c", "data_url", "http://creds")
	hw := layer(t, "hwdb", "vendor", "h", "data_url", "http://hwdb")
	empty := func() Layer { return Layer{Source: "environment"} }
	ep, source = resolve(&Layer{}, empty, src(kernel), never)
	if source != "kernel command line" || ep.DataURL != "" || ep.usable() == nil {
		t.Errorf("kernel with an address only: %q %+v", source, ep)
	}
	ep, source = resolve(&Layer{}, empty, func() Layer { return Layer{} }, src(creds), never)
	if source != "credentials" || ep.Vendor != "c" {
		t.Errorf("credentials: %q %+v", source, ep)
	}
	ep, source = resolve(&Layer{}, empty, empty, empty, src(hw))
	if source != "hwdb" || ep.Vendor != "h" {
		t.Errorf("hwdb: %q %+v", source, ep)
	}
	if _, source = resolve(&Layer{}, empty, empty); source != "" {
		t.Errorf("nothing: %q", source)
	}
}

func TestEnvLayer(t *testing.T) {
	env := map[string]string{
		"SYSTEMD_IMDS_VENDOR":            "e",
		"SYSTEMD_IMDS_DATA_URL":          "http://d",
		"SYSTEMD_IMDS_EXTRA_HEADER":      "a: b",
		"SYSTEMD_IMDS_EXTRA_HEADER2":     "c: d",
		"SYSTEMD_IMDS_EXTRA_HEADER4":     "skipped: after a gap",
		"SYSTEMD_IMDS_KEY_IPV6_PUBLIC":   "/v6",
		"SYSTEMD_IMDS_KEY_BASE":          "/ignored",
		"SYSTEMD_IMDS_ADDRESS_IPV6":      "fd00:ec2::254",
		"SYSTEMD_IMDS_TOKEN_HEADER_NAME": "",
	}
	get := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	l, err := envLayer(get)
	if err != nil {
		t.Fatal(err)
	}
	var ep Endpoint
	l.applyTo(&ep)
	want := Endpoint{Vendor: "e", DataURL: "http://d", ExtraHeaders: []string{"a: b", "c: d"},
		AddressIPv6: netip.MustParseAddr("fd00:ec2::254")}
	want.Keys[IPv6Public] = "/v6"
	if !reflect.DeepEqual(ep, want) {
		t.Errorf("env layer:\n got %+v\nwant %+v", ep, want)
	}
	env["SYSTEMD_IMDS_ADDRESS_IPV4"] = "bogus"
	if _, err := envLayer(get); err == nil {
		t.Error("bad address in the environment accepted")
	}
}

func TestKernelLayer(t *testing.T) {
	params := kcmdline.Parse(`quiet systemd.imds.vendor=y systemd.imds.data-url=http://h/x ` +
		`systemd.imds.address-ipv4=1.2.3.4 systemd.imds.extra_header="Metadata: true" ` +
		`"systemd.imds.extra_header=A: b" systemd.imds.key.ipv4-public=/p systemd.imds.key.base=/b ` +
		`systemd.imds.token_url systemd.imds.address_ipv6=bogus systemd.imds.network=locked ` +
		`systemd.imds.import=yes systemd.imds=yes rd.systemd.imds.vendor=rd systemd.imds.key.hostname=x`)
	l, mode, warnings := kernelLayer(params)
	var ep Endpoint
	l.applyTo(&ep)
	want := Endpoint{Vendor: "y", DataURL: "http://h/x", AddressIPv4: netip.MustParseAddr("1.2.3.4"),
		ExtraHeaders: []string{"Metadata: true", "A: b"}}
	want.Keys[IPv4Public] = "/p"
	if !reflect.DeepEqual(ep, want) {
		t.Errorf("kernel layer:\n got %+v\nwant %+v", ep, want)
	}
	if mode != NetworkLocked {
		t.Errorf("mode %q", mode)
	}
	// token_url without value, bogus address, key.base, invalid hostname key.
	if len(warnings) != 4 {
		t.Errorf("warnings: %v", warnings)
	}
	l, _, _ = kernelLayer(kcmdline.Parse("systemd.imds.extra_header=a:b systemd.imds.extra_header= systemd.imds.extra_header=c:d"))
	l.applyTo(&ep)
	if !reflect.DeepEqual(ep.ExtraHeaders, []string{"c:d"}) {
		t.Errorf("an empty extra_header must reset the list: %q", ep.ExtraHeaders)
	}
}

func TestCredLayer(t *testing.T) {
	creds := map[string]string{
		"imds.vendor":            "v",
		"imds.data_url":          "http://h/d\n",
		"imds.vendor_token":      "http://h/t",
		"imds.extra_header":      "A: b",
		"imds.extra_header2":     "C: d",
		"imds.extra_header4":     "E: f",
		"imds.key_hostname":      "/h",
		"imds.key_base":          "/ignored",
		"imds.token_header_name": "T",
		"imds.address_ipv4":      "1.2.3.4",
	}
	read := func(n string) (string, bool, error) { v, ok := creds[n]; return v, ok, nil }
	l, warnings := credLayer(read)
	var ep Endpoint
	l.applyTo(&ep)
	want := Endpoint{Vendor: "v", DataURL: "http://h/d", TokenURL: "http://h/t", TokenHeaderName: "T",
		ExtraHeaders: []string{"A: b", "C: d", "E: f"}, AddressIPv4: netip.MustParseAddr("1.2.3.4")}
	want.Keys[Hostname] = "/h"
	if !reflect.DeepEqual(ep, want) || len(warnings) != 0 {
		t.Errorf("credentials:\n got %+v\nwant %+v\n%v", ep, want, warnings)
	}
	creds["imds.token_url"] = "http://h/t2" // our spelling wins over upstream's
	l, _ = credLayer(read)
	l.applyTo(&ep)
	if ep.TokenURL != "http://h/t2" {
		t.Errorf("imds.token_url: %q", ep.TokenURL)
	}
}

func TestHWDBLayer(t *testing.T) {
	l, _ := hwdbLayer(map[string]string{"IMDS_DATA_URL": "http://x"})
	if !l.Empty() {
		t.Error("hwdb without IMDS_VENDOR must not configure anything")
	}
	l, w := hwdbLayer(map[string]string{
		"IMDS_VENDOR": "c", "IMDS_DATA_URL": "http://x", "IMDS_EXTRA_HEADER": "Metadata: true",
		"IMDS_EXTRA_HEADER2": "B: c", "IMDS_KEY_USERDATA_BASE64": "/u", "IMDS_ADDRESS_IPV4": "bogus",
	})
	var ep Endpoint
	l.applyTo(&ep)
	if ep.Vendor != "c" || len(ep.ExtraHeaders) != 2 || ep.Keys[UserdataBase64] != "/u" || len(w) != 1 {
		t.Errorf("hwdb: %+v %v", ep, w)
	}
}

func TestLayerValidation(t *testing.T) {
	var l Layer
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"extra_header", "bad", false},
		{"extra_header", ":b", false},
		{"extra_header", "A:", true},
		{"extra_header", "A : b", true},
		{"extra_header", "A: b\x01", false},
		{"address_ipv4", "fd00::1", false},
		{"address_ipv6", "1.2.3.4", false},
		{"address_ipv6", "::ffff:1.2.3.4", true},
		{"address_ipv6", "fe80::1%eth0", false},
		{"address_ipv4", "", true},
		{"token_url", "notaurl", false},
		{"data_url", "ftp://x", false},
		{"data_url", "http://", false},
		{"data_url", "http://h/a", true},
		{"data_url", "https://h/a", false},
		{"token_header_name", "a:b", false},
		{"refresh_header_name", "a b", false},
		{"refresh-header-name", "X-aws-ec2-metadata-token-ttl-seconds", true},
		{"vendor", "", true},
		{"vendor", "a\nb", false},
		{"bogus", "x", false},
	} {
		if err := l.Set(tc.name, tc.value); (err == nil) != tc.ok {
			t.Errorf("Set(%q, %q) = %v", tc.name, tc.value, err)
		}
	}
	for _, tc := range []struct {
		arg string
		ok  bool
	}{
		{"hostname:/h", true}, {"ipv4-public:/p", true}, {"base:/b", true}, {"userdata-base64:/u", true},
		{"ipv4_public:/p", false}, {"hostname:x", false}, {"hostname:", false}, {"hostname", false}, {"nope:/x", false},
	} {
		if err := l.SetWellKnownKey(tc.arg); (err == nil) != tc.ok {
			t.Errorf("SetWellKnownKey(%q) = %v", tc.arg, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want uint32
		ok   bool
	}{{"", 0, true}, {"0x10", 16, true}, {"2147420181", 0x7FFF0815, true}, {"4294967296", 0, false}, {"abc", 0, false}, {"-1", 0, false}} {
		got, err := ParseFirewallMark(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseFirewallMark(%q) = %d, %v", tc.in, got, err)
		}
	}
}

// writeTree creates files under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// repoHWDB is the hwdb file shipped in this repository.
func repoHWDB(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "hwdb", "40-imds.hwdb")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("no hwdb file yet: %v", err)
	}
	return string(b)
}

// TestNewReadsEverySource resolves the configuration from a fake root: kernel command line,
// credentials, DMI and the repository's hwdb file.
func TestNewReadsEverySource(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"sys/class/dmi/id/bios_vendor":     "Amazon EC2\n",
		"sys/class/dmi/id/sys_vendor":      "Amazon EC2\n",
		"sys/class/dmi/id/product_name":    "m5.large\n",
		"usr/lib/udev/hwdb.d/40-imds.hwdb": repoHWDB(t),
		"proc/cmdline":                     "console=ttyS0 systemd.imds.network=locked\n",
	})
	creds := t.TempDir()
	t.Setenv("SYSTEMD_PROC_CMDLINE", "")
	os.Unsetenv("SYSTEMD_PROC_CMDLINE")
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	newSvc := func(env map[string]string, cli Layer) *Service {
		s, err := New(Options{Root: root, Log: testLogger(), Endpoint: cli,
			Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}, false)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	s := newSvc(nil, Layer{})
	ep, source := s.Endpoint()
	if source != "hwdb" || ep.Vendor != "amazon-ec2" || ep.TokenURL == "" || ep.Keys[Hostname] == "" ||
		!ep.AddressIPv4.IsValid() {
		t.Fatalf("hwdb: %q %+v", source, ep)
	}
	if s.networkMode() != NetworkLocked {
		t.Errorf("network mode %q, want locked from the kernel command line", s.networkMode())
	}

	writeTree(t, creds, map[string]string{"imds.data_url": "http://creds\n", "imds.vendor": "creds"})
	if ep, source = newSvc(nil, Layer{}).Endpoint(); source != "credentials" || ep.Vendor != "creds" || ep.TokenURL != "" {
		t.Errorf("credentials: %q %+v", source, ep)
	}

	writeTree(t, root, map[string]string{"proc/cmdline": "systemd.imds.vendor=kernel systemd.imds.data_url=http://k"})
	if ep, source = newSvc(nil, Layer{}).Endpoint(); source != "kernel command line" || ep.Vendor != "kernel" {
		t.Errorf("kernel: %q %+v", source, ep)
	}

	env := map[string]string{"SYSTEMD_IMDS_VENDOR": "env", "SYSTEMD_IMDS_DATA_URL": "http://e"}
	if ep, source = newSvc(env, Layer{}).Endpoint(); source != "environment" || ep.Vendor != "env" {
		t.Errorf("environment: %q %+v", source, ep)
	}

	cli := layer(t, "", "vendor", "cli", "data_url", "http://c")
	if ep, source = newSvc(env, cli).Endpoint(); source != "command line" || ep.Vendor != "cli" {
		t.Errorf("command line: %q %+v", source, ep)
	}

	// SYSTEMD_PROC_CMDLINE replaces /proc/cmdline.
	t.Setenv("SYSTEMD_PROC_CMDLINE", "systemd.imds.vendor=override systemd.imds.data_url=http://o")
	if ep, _ = newSvc(nil, Layer{}).Endpoint(); ep.Vendor != "override" {
		t.Errorf("SYSTEMD_PROC_CMDLINE: %+v", ep)
	}
}

func TestHWDBAzureAssetTag(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"sys/class/dmi/id/sys_vendor":        "Microsoft Corporation\n",
		"sys/class/dmi/id/chassis_asset_tag": "7783-7084-3265-9085-8269-3286-77\n",
		"usr/lib/udev/hwdb.d/40-imds.hwdb":   repoHWDB(t),
	})
	t.Setenv("SYSTEMD_PROC_CMDLINE", "")
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	s, err := New(Options{Root: root, Log: testLogger(), Getenv: noEnv}, false)
	if err != nil {
		t.Fatal(err)
	}
	ep, _ := s.Endpoint()
	if ep.Vendor != "microsoft-azure" || len(ep.ExtraHeaders) == 0 || ep.DataURLSuffix == "" {
		t.Errorf("azure: %+v", ep)
	}
}
