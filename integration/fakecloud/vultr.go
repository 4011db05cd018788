package fakecloud

import "net/http"

// Vultr: plain-text leaves below /v1/, the whole tree as JSON at /v1.json, user data at
// /user-data/user-data. DigitalOcean's layout (/metadata/v1/…, /metadata/v1.json) is alike.

var vultrKeys = map[string]string{
	KeyHostname:   "/v1/hostname",
	KeyRegion:     "/v1/region/regioncode",
	KeyIPv4Public: "/v1/interfaces/0/ipv4/address",
	KeyIPv6Public: "/v1/interfaces/0/ipv6/address",
	KeySSHKey:     "/v1/public-keys",
	KeyUserData:   "/user-data/user-data",
}

func vultrTree(in *Instance) *tree {
	t := newTree()
	t.set("v1/hostname", in.Hostname)
	t.set("v1/instanceid", in.InstanceID)
	if in.InstanceID != "" {
		t.set("v1/instance-v2-id", "6f1c3f9e-0000-4000-8000-"+fmtHex12(in.InstanceID))
	}
	t.set("v1/region/regioncode", in.Region)
	if in.Region != "" {
		t.set("v1/region/countrycode", "US")
	}
	i := "v1/interfaces/0/"
	t.set(i+"mac", in.MAC)
	t.set(i+"network-type", "public")
	if in.PublicIPv4 != "" {
		t.set(i+"ipv4/address", in.PublicIPv4)
		t.set(i+"ipv4/netmask", "255.255.254.0")
		t.set(i+"ipv4/gateway", "203.0.113.1")
	}
	if in.PublicIPv6 != "" {
		t.set(i+"ipv6/address", in.PublicIPv6)
		t.set(i+"ipv6/network", "2001:db8::")
		t.set(i+"ipv6/prefix", "64")
	}
	t.set("v1/public-keys", in.SSHKey)
	t.set("user-data/user-data", string(in.UserData))
	return t
}

// fmtHex12 derives 12 hex digits from s for fake UUIDs.
func fmtHex12(s string) string {
	const digits = "0123456789abcdef"
	var b [12]byte
	for i := range b {
		var c byte
		if i < len(s) {
			c = s[len(s)-1-i]
		}
		b[11-i] = digits[c%16]
	}
	return string(b[:])
}

// serveTreeJSON answers a tree-shaped service: /<jsonPath> is the subtree below jsonRoot as
// JSON (with fix applied to it), everything else a leaf or listing.
func serveTreeJSON(c *call, t *tree, jsonPath, jsonRoot string, fix func(map[string]any)) {
	if !c.getOnly() {
		return
	}
	p := c.r.URL.Path
	if p == jsonPath {
		doc, _ := t.subtree(jsonRoot, nil).(map[string]any)
		if doc == nil {
			doc = map[string]any{}
		}
		if fix != nil {
			fix(doc)
		}
		c.json(http.StatusOK, doc)
		return
	}
	c.serveTree(t, p)
}

func serveVultr(c *call) {
	serveTreeJSON(c, vultrTree(c.in), "/v1.json", "v1", func(doc map[string]any) {
		keys := []any{}
		if c.in.SSHKey != "" {
			keys = append(keys, c.in.SSHKey)
		}
		doc["public-keys"] = keys
		doc["tags"] = []any{}
	})
}

func vultr() *provider {
	return &provider{
		info: ProviderInfo{
			Vendor:    "vultr",
			Name:      "Vultr",
			Upstream:  true,
			HwdbMatch: "dmi:bvnVultr:*",
			DMI:       DMI{SysVendor: "Vultr", ProductName: "VC2", BIOSVendor: "Vultr"},
			IPv4:      addrs("169.254.169.254"),
			Endpoint:  Endpoint{DataURL: "http://169.254.169.254"},
			Keys:      vultrKeys,
			Notes: []string{
				"no token, no required header; /v1.json holds everything as JSON",
				"public-keys is one key per line; region codes are upper-case airport codes (EWR)",
				"guess: no user data → 404; the EC2-compatible /latest/ tree Vultr also offers is not emulated",
				"guess: product_name VC2; bios_vendor Vultr (upstream matches bvnVultr)",
			},
		},
		defaults: func(in *Instance) {
			in.Region = "EWR"
			in.InstanceID, in.InstanceType = "54321009", "vc2-1c-1gb"
		},
		serve: serveVultr,
		expect: func(in *Instance) map[string]string {
			return expectFrom(vultrTree(in), vultrKeys)
		},
	}
}

var digitalOceanKeys = map[string]string{
	KeyHostname:   "/hostname",
	KeyRegion:     "/region",
	KeyIPv4Public: "/interfaces/public/0/ipv4/address",
	KeyIPv6Public: "/interfaces/public/0/ipv6/address",
	KeySSHKey:     "/public-keys",
	KeyUserData:   "/user-data",
}

func digitalOceanTree(in *Instance) *tree {
	t := newTree()
	m := "metadata/v1/"
	t.set(m+"id", in.InstanceID)
	t.set(m+"hostname", in.Hostname)
	t.set(m+"region", in.Region)
	t.set(m+"user-data", string(in.UserData))
	t.set(m+"vendor-data", "#cloud-config\n")
	t.set(m+"public-keys", in.SSHKey)
	pub := m + "interfaces/public/0/"
	t.set(pub+"mac", in.MAC)
	t.set(pub+"type", "public")
	if in.PublicIPv4 != "" {
		t.set(pub+"ipv4/address", in.PublicIPv4)
		t.set(pub+"ipv4/netmask", "255.255.240.0")
		t.set(pub+"ipv4/gateway", "203.0.113.1")
	}
	if in.PublicIPv6 != "" {
		t.set(pub+"ipv6/address", in.PublicIPv6)
		t.set(pub+"ipv6/cidr", "64")
		t.set(pub+"ipv6/gateway", "2001:db8::1")
	}
	if in.PrivateIPv4 != "" {
		t.set(m+"interfaces/private/0/ipv4/address", in.PrivateIPv4)
		t.set(m+"interfaces/private/0/type", "private")
	}
	t.set(m+"dns/nameservers", "67.207.67.2\n67.207.67.3")
	t.set(m+"floating_ip/ipv4/active", "false")
	t.set(m+"features/dhcp_enabled", "false")
	return t
}

func serveDigitalOcean(c *call) {
	t := digitalOceanTree(c.in)
	serveTreeJSON(c, t, "/metadata/v1.json", "metadata/v1", func(doc map[string]any) {
		keys := []any{}
		if c.in.SSHKey != "" {
			keys = append(keys, c.in.SSHKey)
		}
		doc["public_keys"] = keys
		delete(doc, "public-keys")
		doc["droplet_id"] = doc["id"]
		delete(doc, "id")
		if ud, ok := doc["user-data"]; ok {
			doc["user_data"] = ud
			delete(doc, "user-data")
		}
		doc["vendor_data"] = doc["vendor-data"]
		delete(doc, "vendor-data")
		if ifs, ok := doc["interfaces"].(map[string]any); ok {
			for k, v := range ifs {
				if _, isArr := v.([]any); !isArr {
					ifs[k] = []any{v}
				}
			}
		}
	})
}

func digitalOcean() *provider {
	return &provider{
		info: ProviderInfo{
			Vendor:    "digitalocean",
			Name:      "DigitalOcean Droplets",
			HwdbMatch: "dmi:*:svnDigitalOcean:*",
			DMI:       DMI{SysVendor: "DigitalOcean", ProductName: "Droplet", BIOSVendor: "DigitalOcean"},
			IPv4:      addrs("169.254.169.254"),
			Endpoint:  Endpoint{DataURL: "http://169.254.169.254/metadata/v1"},
			Keys:      digitalOceanKeys,
			Notes: []string{
				"not in upstream's hwdb: vendor id, match and keys are stead's proposal",
				"no token, no required header; /metadata/v1.json holds everything as JSON (droplet_id, user_data, public_keys, …)",
				"guess: no user data → 404 (DigitalOcean may answer an empty 200)",
			},
		},
		defaults: func(in *Instance) {
			in.Region = "nyc3"
			in.InstanceID, in.InstanceType = "424242424", "s-1vcpu-1gb"
		},
		serve: serveDigitalOcean,
		expect: func(in *Instance) map[string]string {
			t := digitalOceanTree(in)
			out := map[string]string{}
			for name, key := range digitalOceanKeys {
				if body, _, ok := t.get("metadata/v1" + key); ok {
					out[name] = body
				}
			}
			return out
		},
	}
}
