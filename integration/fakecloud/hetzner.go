package fakecloud

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Hetzner Cloud: /hetzner/v1/metadata answers the whole metadata as YAML, its keys one by
// one below it; user data lives beside it at /hetzner/v1/userdata.

var hetznerKeys = map[string]string{
	KeyHostname:   "/hostname",
	KeyRegion:     "/region",
	KeyZone:       "/availability-zone",
	KeyIPv4Public: "/public-ipv4",
	KeySSHKey:     "/public-keys/0",
	KeyUserData:   "/userdata",
}

// yamlString renders s as a YAML scalar: bare when unambiguous, else double-quoted (JSON
// string syntax, which YAML accepts).
func yamlString(s string) string {
	safe := s != "" && !strings.ContainsAny(s[:1], "-?:,[]{}#&*!|>'\"%@` ")
	for i := 0; safe && i < len(s); i++ {
		c := s[i]
		safe = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("._/-", c) >= 0
	}
	if safe && !isDecimal(s) && s != "true" && s != "false" && s != "null" {
		return s
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func hetznerLeaves(in *Instance) map[string]string {
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("hostname", in.Hostname)
	set("instance-id", in.InstanceID)
	set("public-ipv4", in.PublicIPv4)
	set("local-ipv4", in.PrivateIPv4)
	set("region", in.Region)
	set("availability-zone", in.Zone)
	keys := []string{}
	if in.SSHKey != "" {
		keys = append(keys, in.SSHKey)
		m["public-keys/0"] = in.SSHKey
	}
	b, _ := json.Marshal(keys)
	m["public-keys"] = string(b)
	set("userdata", string(in.UserData))
	m["network-config"] = hetznerNetworkConfig(in)
	m["private-networks"] = "[]"
	return m
}

func hetznerNetworkConfig(in *Instance) string {
	var b strings.Builder
	b.WriteString("config:\n- mac_address: " + yamlString(in.MAC) + "\n  name: eth0\n  subnets:\n")
	b.WriteString("  - ipv4: true\n    type: dhcp\n")
	if in.PublicIPv6 != "" {
		b.WriteString("  - address: " + yamlString(in.PublicIPv6+"/64") + "\n")
		b.WriteString("    dns_nameservers:\n    - 2a01:4ff:ff00::add:1\n    - 2a01:4ff:ff00::add:2\n")
		b.WriteString("    gateway: fe80::1\n    ipv6: true\n    type: static\n")
	}
	b.WriteString("  type: physical\nversion: 1\n")
	return b.String()
}

func hetznerDocument(in *Instance, leaves map[string]string) string {
	var b strings.Builder
	for _, k := range []string{"availability-zone", "hostname", "instance-id", "local-ipv4", "public-ipv4"} {
		if v, ok := leaves[k]; ok {
			b.WriteString(k + ": " + yamlString(v) + "\n")
		}
	}
	b.WriteString("network-config:\n")
	for _, line := range strings.SplitAfter(strings.TrimSuffix(leaves["network-config"], "\n"), "\n") {
		b.WriteString("  " + line)
	}
	b.WriteString("\npublic-keys:")
	if in.SSHKey == "" {
		b.WriteString(" []\n")
	} else {
		b.WriteString("\n- " + yamlString(in.SSHKey) + "\n")
	}
	if v, ok := leaves["region"]; ok {
		b.WriteString("region: " + yamlString(v) + "\n")
	}
	return b.String()
}

func serveHetzner(c *call) {
	if !c.getOnly() {
		return
	}
	p := c.r.URL.Path
	leaves := hetznerLeaves(c.in)
	switch {
	case p == "/hetzner/v1/userdata":
		if c.in.UserData == nil {
			c.notFound()
			return
		}
		c.text(http.StatusOK, string(c.in.UserData))
	case p == "/hetzner/v1/metadata" || p == "/hetzner/v1/metadata/":
		c.text(http.StatusOK, hetznerDocument(c.in, leaves))
	default:
		key, ok := strings.CutPrefix(p, "/hetzner/v1/metadata/")
		v, found := leaves[key]
		if !ok || !found {
			c.notFound()
			return
		}
		c.text(http.StatusOK, v)
	}
}

func hetznerCloud() *provider {
	return &provider{
		info: ProviderInfo{
			Vendor:    "hetzner-cloud",
			Name:      "Hetzner Cloud",
			Upstream:  true,
			HwdbMatch: "dmi:bvnHetzner:*",
			DMI:       DMI{SysVendor: "Hetzner", ProductName: "vServer", BIOSVendor: "Hetzner"},
			IPv4:      addrs("169.254.169.254"),
			Endpoint:  Endpoint{DataURL: "http://169.254.169.254/hetzner/v1/metadata"},
			Keys:      hetznerKeys,
			Notes: []string{
				"/hetzner/v1/metadata is the whole metadata as YAML; public-keys is a JSON list",
				"Hetzner documents user data at /hetzner/v1/userdata, outside the data URL; upstream's key /userdata (i.e. /hetzner/v1/metadata/userdata) is served too, as is /public-keys/0: both are guesses made so that upstream's hwdb works",
				"guess: no user data → 404",
				"no IPv6 metadata address (Hetzner has none); the public IPv6 is only in network-config",
			},
		},
		defaults: func(in *Instance) {
			in.Region, in.Zone = "eu-central", "fsn1-dc14"
			in.InstanceID, in.InstanceType = "42424242", "cx22"
		},
		serve: serveHetzner,
		expect: func(in *Instance) map[string]string {
			leaves := hetznerLeaves(in)
			out := map[string]string{}
			for name, key := range hetznerKeys {
				if v, ok := leaves[strings.TrimPrefix(key, "/")]; ok {
					out[name] = v
				}
			}
			return out
		},
	}
}
