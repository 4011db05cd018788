package imdsd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// settings drops comments and blank lines: what systemd-networkd reads.
func settings(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

const commonNetwork = `[Match]
Type=ether
Kind=!*
[Network]
DHCP=yes
LinkLocalAddressing=ipv6
[DHCP]
UseTimezone=yes
UseHostname=yes
UseMTU=yes`

// The expected settings are those systemd 262's systemd-imdsd --setup-network wrote for the
// same input (comments aside).
func TestSetupNetwork(t *testing.T) {
	for _, tc := range []struct {
		name, cmdline, build string
		env                  map[string]string
		network, rr          string // "" = file absent
	}{
		{
			name: "unlocked",
			env:  map[string]string{"SYSTEMD_IMDS_ADDRESS_IPV4": "169.254.169.254", "SYSTEMD_IMDS_ADDRESS_IPV6": "fd00:ec2::254"},
			network: commonNetwork + `
[Link]
RequiredFamilyForOnline=ipv4
[Route]
Destination=169.254.169.254
Scope=link
Table=0x7FFF0815
[RoutingPolicyRule]
Family=ipv4
FirewallMark=0x7FFF0815
Table=0x7FFF0815
[Route]
Destination=fd00:ec2::254
Table=0x7FFF0815
[RoutingPolicyRule]
Family=ipv6
FirewallMark=0x7FFF0815
Table=0x7FFF0815`,
			rr: `[{"key":{"class":1,"type":1,"name":"_imds"},"address":[169,254,169,254]},{"key":{"class":1,"type":28,"name":"_imds"},"address":[253,0,14,194,0,0,0,0,0,0,0,0,0,0,2,84]}]` + "\n",
		},
		{
			name:    "locked",
			cmdline: "systemd.imds.network=locked",
			env:     map[string]string{"SYSTEMD_IMDS_ADDRESS_IPV4": "169.254.169.254", "SYSTEMD_IMDS_ADDRESS_IPV6": "fd00:ec2::254"},
			network: commonNetwork + `
[Link]
RequiredFamilyForOnline=ipv4
[Route]
Destination=169.254.169.254
Type=prohibit
[Route]
Destination=fd00:ec2::254
Type=prohibit
[Route]
Destination=169.254.169.254
Scope=link
Table=0x7FFF0815
[RoutingPolicyRule]
Family=ipv4
FirewallMark=0x7FFF0815
Table=0x7FFF0815
[Route]
Destination=fd00:ec2::254
Table=0x7FFF0815
[RoutingPolicyRule]
Family=ipv6
FirewallMark=0x7FFF0815
Table=0x7FFF0815`,
			rr: `[{"key":{"class":1,"type":1,"name":"_imds"},"address":[169,254,169,254]},{"key":{"class":1,"type":28,"name":"_imds"},"address":[253,0,14,194,0,0,0,0,0,0,0,0,0,0,2,84]}]` + "\n",
		},
		{
			name:  "locked by build, IPv6 only",
			build: "locked",
			env:   map[string]string{"SYSTEMD_IMDS_ADDRESS_IPV6": "fd00::1"},
			network: commonNetwork + `
[Link]
RequiredFamilyForOnline=ipv6
[Route]
Destination=fd00::1
Type=prohibit
[Route]
Destination=fd00::1
Table=0x7FFF0815
[RoutingPolicyRule]
Family=ipv6
FirewallMark=0x7FFF0815
Table=0x7FFF0815`,
			rr: `[{"key":{"class":1,"type":28,"name":"_imds"},"address":[253,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]}]` + "\n",
		},
		{
			name:    "kernel unlocks a locked build",
			build:   "locked",
			cmdline: "systemd.imds.network=unlocked",
			env:     map[string]string{},
			network: commonNetwork,
		},
		{
			name:    "off",
			cmdline: "systemd.imds.network=off",
			env:     map[string]string{"SYSTEMD_IMDS_ADDRESS_IPV4": "1.2.3.4"},
		},
		{
			name:    "invalid mode ignored",
			cmdline: "systemd.imds.network=bogus",
			env:     map[string]string{"SYSTEMD_IMDS_ADDRESS_IPV4": "1.2.3.4"},
			network: commonNetwork + `
[Link]
RequiredFamilyForOnline=ipv4
[Route]
Destination=1.2.3.4
Scope=link
Table=0x7FFF0815
[RoutingPolicyRule]
Family=ipv4
FirewallMark=0x7FFF0815
Table=0x7FFF0815`,
			rr: `[{"key":{"class":1,"type":1,"name":"_imds"},"address":[1,2,3,4]}]` + "\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			t.Setenv("SYSTEMD_PROC_CMDLINE", tc.cmdline)
			t.Setenv("CREDENTIALS_DIRECTORY", "")
			env := map[string]string{"SYSTEMD_IMDS_VENDOR": "x", "SYSTEMD_IMDS_DATA_URL": "http://169.254.169.254/latest"}
			for k, v := range tc.env {
				env[k] = v
			}
			o := Options{Root: root, Log: testLogger(), DefaultNetworkMode: tc.build,
				Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
			if code := SetupNetwork(o); code != 0 {
				t.Fatalf("exit %d", code)
			}
			check := func(path, want string, settingsOnly bool) {
				b, err := os.ReadFile(filepath.Join(root, path))
				if want == "" {
					if err == nil {
						t.Errorf("%s written:\n%s", path, b)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got := string(b)
				if settingsOnly {
					got = settings(got)
				}
				if got != want {
					t.Errorf("%s:\n%s\nwant:\n%s", path, got, want)
				}
				if fi, _ := os.Stat(filepath.Join(root, path)); fi.Mode().Perm() != 0o644 {
					t.Errorf("%s: mode %v", path, fi.Mode().Perm())
				}
				if !strings.HasSuffix(string(b), "\n") {
					t.Errorf("%s: no final newline", path)
				}
			}
			check(NetworkFile, tc.network, true)
			check(RRFile, tc.rr, false)
		})
	}
}
