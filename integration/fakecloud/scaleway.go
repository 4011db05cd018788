package fakecloud

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Scaleway's metadata API on its own address 169.254.42.42: /conf describes the instance
// (shell-style KEY=VALUE lines, or JSON with ?format=json); /user_data is a key/value store,
// listed at /user_data and read at /user_data/KEY, served only to source ports below 1024.

var scalewayKeys = map[string]string{KeyUserData: "/user_data"}

var scalewayExtraKeys = map[string]string{KeyUserDataBase: "/user_data"}

func scalewayDocument(in *Instance) map[string]any {
	keys := []any{}
	if in.SSHKey != "" {
		keys = append(keys, map[string]any{"key": in.SSHKey,
			"fingerprint": "256 SHA256:fakecloud fakecloud@scaleway (ssh-ed25519)"})
	}
	doc := map[string]any{
		"id": in.InstanceID, "name": in.Hostname, "hostname": in.Hostname,
		"commercial_type": in.InstanceType,
		"organization":    "00000000-0000-4000-8000-fa4ec1000006",
		"project":         "00000000-0000-4000-8000-fa4ec1000006",
		"private_ip":      nil, "public_ip": nil, "ipv6": nil,
		"location":        map[string]any{"zone_id": in.Zone, "platform_id": "14", "cluster_id": "1", "hypervisor_id": "101", "node_id": "7"},
		"zone":            in.Zone,
		"ssh_public_keys": keys,
		"tags":            []any{},
		"state_detail":    "booted",
		"timezone":        "UTC",
	}
	if in.PrivateIPv4 != "" {
		doc["private_ip"] = in.PrivateIPv4
	}
	if in.PublicIPv4 != "" {
		doc["public_ip"] = map[string]any{"id": "00000000-0000-4000-8000-fa4ec1000016",
			"address": in.PublicIPv4, "dynamic": false, "family": "inet"}
	}
	if in.PublicIPv6 != "" {
		doc["ipv6"] = map[string]any{"address": in.PublicIPv6, "gateway": "2001:db8::1", "netmask": "64"}
	}
	return doc
}

// scalewayText renders the document as the flat KEY=VALUE lines /conf answers.
func scalewayText(in *Instance) string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s=%s\n", k, shellQuote(v))
		}
	}
	line("ID", in.InstanceID)
	line("NAME", in.Hostname)
	line("HOSTNAME", in.Hostname)
	line("COMMERCIAL_TYPE", in.InstanceType)
	line("PRIVATE_IP", in.PrivateIPv4)
	line("PUBLIC_IP_ADDRESS", in.PublicIPv4)
	line("IPV6_ADDRESS", in.PublicIPv6)
	line("ZONE", in.Zone)
	line("LOCATION_ZONE_ID", in.Zone)
	if in.SSHKey != "" {
		line("SSH_PUBLIC_KEYS", "1")
		line("SSH_PUBLIC_KEYS_0_KEY", in.SSHKey)
	} else {
		line("SSH_PUBLIC_KEYS", "0")
	}
	return b.String()
}

func shellQuote(s string) string {
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:/-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func scalewayUserKeys(in *Instance) []string {
	m := in.attributes()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func scalewayListing(in *Instance) string {
	var b strings.Builder
	for _, k := range scalewayUserKeys(in) {
		b.WriteString(k + "\n")
	}
	return b.String()
}

func serveScaleway(c *call) {
	if !c.getOnly() {
		return
	}
	p := c.r.URL.Path
	jsonFormat := c.r.URL.Query().Get("format") == "json"
	switch {
	case p == "/conf" || p == "/conf/":
		if jsonFormat {
			c.json(http.StatusOK, scalewayDocument(c.in))
			return
		}
		c.text(http.StatusOK, scalewayText(c.in))
	case p == "/user_data" || p == "/user_data/":
		if !c.privilegedPort() {
			return
		}
		if jsonFormat {
			c.json(http.StatusOK, map[string]any{"user_data": scalewayUserKeys(c.in)})
			return
		}
		c.text(http.StatusOK, scalewayListing(c.in))
	case strings.HasPrefix(p, "/user_data/"):
		if !c.privilegedPort() {
			return
		}
		v, ok := c.in.attributes()[strings.TrimPrefix(p, "/user_data/")]
		if !ok {
			c.notFound()
			return
		}
		c.text(http.StatusOK, v)
	default:
		c.notFound()
	}
}

func scaleway() *provider {
	return &provider{
		info: ProviderInfo{
			Vendor:         "scaleway",
			Name:           "Scaleway Instances",
			Upstream:       true,
			HwdbMatch:      "dmi:*:svnScaleway:*",
			DMI:            DMI{SysVendor: "Scaleway", ProductName: "SCW-DEV1-S", BIOSVendor: "SeaBIOS"},
			IPv4:           addrs("169.254.42.42"),
			IPv6:           addrs("fd00:42::42"),
			Endpoint:       Endpoint{DataURL: "http://169.254.42.42"},
			Keys:           scalewayKeys,
			ExtraKeys:      scalewayExtraKeys,
			PrivilegedPort: true,
			Notes: []string{
				"user data (/user_data and below) only to source ports < 1024, else 403 (status is a guess); turn the check off behind socat or similar relays",
				"/user_data answers the list of user-data keys, one per line, not the data: upstream's hwdb key userdata=/user_data therefore yields the list; the data is at /user_data/systemd-userdata, which a userdata_base=/user_data key reaches",
				"guess: the /conf text format (KEY=VALUE lines) and the listing's trailing newline",
				"guess: product_name and bios_vendor",
			},
		},
		defaults: func(in *Instance) {
			in.Region, in.Zone = "fr-par", "fr-par-1"
			in.InstanceID, in.InstanceType = "6f1c3f9e-0000-4000-8000-fa4ec1000006", "DEV1-S"
		},
		serve: serveScaleway,
		expect: func(in *Instance) map[string]string {
			if len(in.attributes()) == 0 {
				return map[string]string{KeyUserData: "", KeyUserDataBase: ""}
			}
			l := scalewayListing(in)
			return map[string]string{KeyUserData: l, KeyUserDataBase: l}
		},
	}
}
