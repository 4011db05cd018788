package fakecloud

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
)

var upstreamVendors = []string{"amazon-ec2", "microsoft-azure", "google-gcp", "hetzner-cloud",
	"oracle-cloud-oci", "scaleway", "tencent-cloud", "alibaba-ecs", "vultr"}

func TestProvidersTable(t *testing.T) {
	ps := Providers()
	if len(ps) != 12 {
		t.Fatalf("%d providers, want 12", len(ps))
	}
	seen := map[string]bool{}
	for i, p := range ps {
		if seen[p.Vendor] {
			t.Errorf("vendor %s twice", p.Vendor)
		}
		seen[p.Vendor] = true
		if i < len(upstreamVendors) {
			if p.Vendor != upstreamVendors[i] || !p.Upstream {
				t.Errorf("entry %d = %s (upstream %v), want upstream %s", i, p.Vendor, p.Upstream, upstreamVendors[i])
			}
		} else if p.Upstream {
			t.Errorf("%s marked upstream", p.Vendor)
		}
		if p.DMI.SysVendor == "" || p.DMI.ProductName == "" || p.DMI.BIOSVendor == "" {
			t.Errorf("%s: incomplete DMI %+v", p.Vendor, p.DMI)
		}
		if len(p.IPv4) == 0 || p.Endpoint.DataURL == "" || len(p.Keys) == 0 || len(p.Expected) == 0 {
			t.Errorf("%s: incomplete entry %+v", p.Vendor, p)
		}
		if ok, _ := path.Match(p.HwdbMatch, p.DMI.ModaliasWithAssetTag()); !ok {
			t.Errorf("%s: hwdb match %q does not match its DMI %q", p.Vendor, p.HwdbMatch, p.DMI.ModaliasWithAssetTag())
		}
		for _, other := range ps {
			if other.Vendor == p.Vendor {
				continue
			}
			if ok, _ := path.Match(other.HwdbMatch, p.DMI.ModaliasWithAssetTag()); ok {
				t.Errorf("%s's DMI also matches %s's pattern %q", p.Vendor, other.Vendor, other.HwdbMatch)
			}
		}
		for name := range p.Expected {
			if _, ok := p.Key(name); !ok {
				t.Errorf("%s: expected value for %s without a key", p.Vendor, name)
			}
		}
		for _, k := range []map[string]string{p.Keys, p.ExtraKeys} {
			for name, key := range k {
				if !slices.Contains(WellKnownKeys(), name) || !strings.HasPrefix(key, "/") {
					t.Errorf("%s: bad key %s=%q", p.Vendor, name, key)
				}
			}
		}
		if got, ok := Lookup(p.Vendor); !ok || got.Vendor != p.Vendor {
			t.Errorf("Lookup(%s) failed", p.Vendor)
		}
		if _, err := json.Marshal(p); err != nil {
			t.Errorf("%s: %v", p.Vendor, err)
		}
	}
	if _, err := New("no-such-cloud"); err == nil {
		t.Error("New accepted an unknown provider")
	}
	// The table is a copy: changing it changes nothing.
	ps[0].Keys[KeyHostname] = "/changed"
	if p, _ := Lookup(ps[0].Vendor); p.Keys[KeyHostname] == "/changed" {
		t.Error("Providers shares its maps")
	}
}

func TestModalias(t *testing.T) {
	d := DMI{SysVendor: "Amazon EC2", ProductName: "m5.large", BIOSVendor: "Amazon EC2", ChassisAssetTag: "Amazon EC2"}
	if got, want := d.Modalias(), "dmi:bvnAmazonEC2:svnAmazonEC2:pnm5.large:"; got != want {
		t.Errorf("Modalias = %q, want %q", got, want)
	}
	d = DMI{SysVendor: "QEMU", ProductName: "Standard PC (i440FX + PIIX, 1996)", BIOSVendor: "SeaBIOS"}
	if got, want := d.ModaliasWithAssetTag(), "dmi:bvnSeaBIOS:svnQEMU:pnStandardPC(i440FX+PIIX,1996):cat:"; got != want {
		t.Errorf("ModaliasWithAssetTag = %q, want %q", got, want)
	}
}

func TestEndpointRebase(t *testing.T) {
	p, _ := Lookup("microsoft-azure")
	ep := p.Endpoint.Rebase("http://127.0.0.1:8080")
	if ep.DataURL != "http://127.0.0.1:8080/metadata" || ep.TokenURL != "" {
		t.Errorf("Rebase = %+v", ep)
	}
	if got := ep.URL("/instance/compute/location"); got != "http://127.0.0.1:8080/metadata/instance/compute/location?api-version=2025-04-07&format=text" {
		t.Errorf("URL = %q", got)
	}
	p, _ = Lookup("amazon-ec2")
	if ep := p.Endpoint.Rebase("http://[::1]:99"); ep.TokenURL != "http://[::1]:99/latest/api/token" {
		t.Errorf("TokenURL = %q", ep.TokenURL)
	}
}

// wantWellKnown states, independently of the providers' code, what each cloud answers at
// each well-known key for an instance.
func wantWellKnown(vendor string, in Instance) map[string]string {
	ud := string(in.UserData)
	b64 := base64.StdEncoding.EncodeToString(in.UserData)
	switch vendor {
	case "amazon-ec2":
		return map[string]string{KeyHostname: in.Hostname, KeyRegion: in.Region, KeyZone: in.Zone,
			KeyIPv4Public: in.PublicIPv4, KeyIPv6Public: in.PublicIPv6, KeySSHKey: in.SSHKey, KeyUserData: ud}
	case "microsoft-azure":
		return map[string]string{KeyHostname: in.Hostname, KeyRegion: in.Region, KeyZone: in.Zone,
			KeyIPv4Public: in.PublicIPv4, KeyIPv6Public: in.PublicIPv6, KeySSHKey: in.SSHKey, KeyUserDataBase64: b64}
	case "google-gcp":
		return map[string]string{KeyHostname: in.Hostname,
			KeyRegion:     "projects/123456789012/regions/" + in.Region,
			KeyZone:       "projects/123456789012/zones/" + in.Zone,
			KeyIPv4Public: in.PublicIPv4}
	case "hetzner-cloud":
		return map[string]string{KeyHostname: in.Hostname, KeyRegion: in.Region, KeyZone: in.Zone,
			KeyIPv4Public: in.PublicIPv4, KeySSHKey: in.SSHKey, KeyUserData: ud}
	case "oracle-cloud-oci":
		return map[string]string{KeyHostname: in.Hostname, KeyRegion: in.Region, KeyZone: in.Zone,
			KeySSHKey: in.SSHKey, KeyUserDataBase64: b64}
	case "scaleway":
		return map[string]string{KeyUserData: UserDataAttribute + "\n", KeyUserDataBase: UserDataAttribute + "\n"}
	case "tencent-cloud":
		return map[string]string{KeyHostname: in.Hostname, KeyRegion: in.Region, KeyZone: in.Zone,
			KeyIPv4Public: in.PublicIPv4, KeySSHKey: in.SSHKey, KeyUserData: ud}
	case "alibaba-ecs":
		return map[string]string{KeyHostname: in.Hostname, KeyRegion: in.Region, KeyZone: in.Zone,
			KeyIPv4Public: in.PublicIPv4, KeySSHKey: in.SSHKey, KeyUserData: ud}
	case "vultr", "digitalocean":
		return map[string]string{KeyHostname: in.Hostname, KeyRegion: in.Region,
			KeyIPv4Public: in.PublicIPv4, KeyIPv6Public: in.PublicIPv6, KeySSHKey: in.SSHKey, KeyUserData: ud}
	case "openstack":
		return map[string]string{KeyHostname: in.Hostname, KeyZone: in.Zone,
			KeyIPv4Public: in.PublicIPv4, KeySSHKey: in.SSHKey, KeyUserData: ud}
	case "akamai-linode":
		return map[string]string{KeyUserDataBase64: b64}
	}
	return nil
}

// TestWellKnown fetches every well-known key of every provider like upstream's imdsd, for
// the default instance and for a customised one, and checks the values and the table.
func TestWellKnown(t *testing.T) {
	custom := func(in *Instance) {
		in.Hostname = "custom-host"
		in.Region = "moon-south-1"
		in.Zone = "moon-south-1b"
		in.PublicIPv4 = "198.51.100.7"
		in.PublicIPv6 = "2001:db8:77::7"
		in.SSHKey = FakeSSHKey("custom")
		in.UserData = []byte("#systemd-userdata\n{\"x\":1}\n")
	}
	for _, vendor := range ProviderNames() {
		for _, variant := range []struct {
			name string
			opts []Option
		}{{"default", nil}, {"custom", []Option{WithInstance(custom)}}} {
			t.Run(vendor+"/"+variant.name, func(t *testing.T) {
				t.Parallel()
				s, ep := start(t, vendor, append(variant.opts, WithPrivilegedPortCheck(false))...)
				info := s.Info()
				want := wantWellKnown(vendor, s.Instance())
				if !mapsEqual(info.Expected, want) {
					t.Errorf("Expected = %q\nwant       %q", info.Expected, want)
				}
				c := newIMDSClient(ep, nil)
				for _, name := range WellKnownKeys() {
					key, ok := info.Key(name)
					if !ok {
						continue
					}
					st, body, err := c.get(key)
					if err != nil {
						t.Fatalf("%s (%s): %v", name, key, err)
					}
					if exp, ok := info.Expected[name]; ok {
						if st != 200 || body != exp {
							t.Errorf("%s (%s) = %d %q, want 200 %q", name, key, st, body, exp)
						}
					} else if st == 200 {
						t.Errorf("%s (%s) = 200 %q, want not found", name, key, body)
					}
				}
				if info.Endpoint.TokenURL != "" && c.tokenPuts != 1 {
					t.Errorf("%d token PUTs, want 1", c.tokenPuts)
				}
				ud, ok := c.userData(info)
				if !ok || string(ud) != string(s.Instance().UserData) {
					t.Errorf("user data = %q (%v), want %q", ud, ok, s.Instance().UserData)
				}
			})
		}
	}
}

// TestAbsentValues empties the instance: every key must then answer "not found" (or the
// empty value where the cloud answers one), and Expected must say so.
func TestAbsentValues(t *testing.T) {
	for _, vendor := range ProviderNames() {
		t.Run(vendor, func(t *testing.T) {
			t.Parallel()
			s, ep := start(t, vendor, WithPrivilegedPortCheck(false), WithInstance(func(in *Instance) {
				*in = Instance{}
			}))
			info := s.Info()
			c := newIMDSClient(ep, nil)
			for _, name := range WellKnownKeys() {
				key, ok := info.Key(name)
				if !ok {
					continue
				}
				st, body, err := c.get(key)
				if err != nil {
					t.Fatal(err)
				}
				exp, has := info.Expected[name]
				switch {
				case has && (st != 200 || body != exp || exp != ""):
					t.Errorf("%s = %d %q, Expected %q: want an empty 200", name, st, body, exp)
				case !has && st == 200:
					t.Errorf("%s = 200 %q, want not found", name, body)
				}
			}
			if ud, ok := c.userData(info); ok {
				t.Errorf("user data %q found on an instance without", ud)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestUpstreamHwdb compares the table with upstream's hwdb (systemd 262's 40-imds.hwdb) when
// a copy is at hand: $FAKECLOUD_UPSTREAM_HWDB, the upstream root of
// integration/upstream-root, or the host.
func TestUpstreamHwdb(t *testing.T) {
	candidates := []string{os.Getenv("FAKECLOUD_UPSTREAM_HWDB")}
	if root := os.Getenv("STEAD_UPSTREAM_ROOT"); root != "" {
		candidates = append(candidates, root+"/usr/lib/udev/hwdb.d/40-imds.hwdb")
	}
	candidates = append(candidates, "/var/cache/stead/upstream-root/usr/lib/udev/hwdb.d/40-imds.hwdb",
		"/usr/lib/udev/hwdb.d/40-imds.hwdb")
	var f *os.File
	for _, c := range candidates {
		if c == "" {
			continue
		}
		var err error
		if f, err = os.Open(c); err == nil {
			t.Logf("comparing with %s", c)
			break
		}
	}
	if f == nil {
		// Optional reference data, not a prerequisite (harness.Require): the host's Debian does
		// not ship the file; integration/upstream-root's root does (Debian's udev) once built.
		t.Skip("no copy of upstream's 40-imds.hwdb (set FAKECLOUD_UPSTREAM_HWDB)")
	}
	defer f.Close()
	type entry struct {
		matches []string
		props   map[string]string
	}
	var entries []*entry
	var cur *entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"), strings.TrimSpace(line) == "":
			if strings.TrimSpace(line) == "" {
				cur = nil
			}
		case strings.HasPrefix(line, " "):
			if cur != nil {
				k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
				cur.props[k] = v
			}
		default:
			if cur == nil || len(cur.props) > 0 {
				cur = &entry{props: map[string]string{}}
				entries = append(entries, cur)
			}
			cur.matches = append(cur.matches, line)
		}
	}
	byVendor := map[string]*entry{}
	for _, e := range entries {
		if v := e.props["IMDS_VENDOR"]; v != "" {
			byVendor[v] = e
		}
	}
	for _, p := range Providers() {
		e, ok := byVendor[p.Vendor]
		if ok != p.Upstream {
			t.Errorf("%s: in upstream hwdb %v, table says %v", p.Vendor, ok, p.Upstream)
		}
		if !ok {
			continue
		}
		delete(byVendor, p.Vendor)
		if !slices.Contains(e.matches, p.HwdbMatch) {
			t.Errorf("%s: match %q, upstream %q", p.Vendor, p.HwdbMatch, e.matches)
		}
		ours := map[string]string{
			"IMDS_TOKEN_URL": p.Endpoint.TokenURL, "IMDS_REFRESH_HEADER_NAME": p.Endpoint.RefreshHeaderName,
			"IMDS_DATA_URL": p.Endpoint.DataURL, "IMDS_DATA_URL_SUFFIX": p.Endpoint.DataURLSuffix,
			"IMDS_TOKEN_HEADER_NAME": p.Endpoint.TokenHeaderName,
		}
		for i, h := range p.Endpoint.ExtraHeaders {
			name := "IMDS_EXTRA_HEADER"
			if i > 0 {
				name += itoa(i + 1)
			}
			ours[name] = h
		}
		for name, key := range p.Keys {
			ours["IMDS_KEY_"+strings.ToUpper(name)] = key
		}
		for k, v := range e.props {
			switch k {
			case "IMDS_VENDOR":
			case "IMDS_ADDRESS_IPV4", "IMDS_ADDRESS_IPV6":
				all := append(slices.Clone(p.IPv4), p.IPv6...)
				if !slices.ContainsFunc(all, func(a netip.Addr) bool { return a.String() == v }) {
					t.Errorf("%s: upstream address %s not in table", p.Vendor, v)
				}
			default:
				if ours[k] != v {
					t.Errorf("%s: %s=%q, upstream %q", p.Vendor, k, ours[k], v)
				}
				delete(ours, k)
			}
		}
		for k, v := range ours {
			if v != "" {
				t.Errorf("%s: %s=%q not in upstream's entry", p.Vendor, k, v)
			}
		}
	}
	for v := range byVendor {
		t.Errorf("upstream vendor %s missing from the table", v)
	}
}
