package fakecloud

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Akamai (Linode) Metadata service: PUT /v1/token with Metadata-Token-Expiry-Seconds returns
// a token; GET /v1/instance, /v1/network, /v1/ssh-keys (text/plain "key: value" lines, or
// JSON with Accept: application/json) and /v1/user-data (base64) need it in Metadata-Token.

var akamaiKeys = map[string]string{KeyUserDataBase64: "/user-data"}

var akamaiToken = &tokenSpec{
	path:         "/v1/token",
	ttlHeaders:   []string{"Metadata-Token-Expiry-Seconds", "X-Metadata-Token-Expiry-Seconds"},
	tokenHeaders: []string{"Metadata-Token", "X-Metadata-Token"},
	maxTTL:       86400,
	hexToken:     true,
}

func akamaiInstance(in *Instance) map[string]any {
	return map[string]any{
		"id": 12345678, "host_uuid": "a631b16d14534d84e2830da16d1b28e1d08d24df",
		"label": in.Hostname, "region": in.Region, "type": in.InstanceType, "tags": []any{},
		"specs":   map[string]any{"vcpus": 1, "memory": 1024, "gpus": 0, "transfer": 1000, "disk": 25600},
		"backups": map[string]any{"enabled": false, "status": nil},
	}
}

func akamaiNetwork(in *Instance) map[string]any {
	public, slaac := []any{}, ""
	if in.PublicIPv4 != "" {
		public = append(public, in.PublicIPv4+"/32")
	}
	if in.PublicIPv6 != "" {
		slaac = in.PublicIPv6 + "/128"
	}
	private := []any{}
	if in.PrivateIPv4 != "" {
		private = append(private, in.PrivateIPv4+"/32")
	}
	return map[string]any{
		"interfaces": []any{map[string]any{"id": 12345678, "purpose": "public", "label": nil, "ipam_address": nil}},
		"ipv4":       map[string]any{"public": public, "private": private, "shared": []any{}},
		"ipv6": map[string]any{"slaac": slaac, "ranges": []any{},
			"link_local": "fe80::f03c:94ff:fe00:1/128", "shared_ranges": []any{}},
	}
}

func akamaiSSHKeys(in *Instance) map[string]any {
	keys := []any{}
	if in.SSHKey != "" {
		keys = append(keys, in.SSHKey)
	}
	return map[string]any{"users": map[string]any{"root": keys}}
}

// flatText renders a JSON object as sorted "dotted.key: value" lines, lists joined by
// spaces, the way the service's text/plain answers look.
func flatText(v any) string {
	var lines []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, sub := range x {
				if prefix != "" {
					k = prefix + "." + k
				}
				walk(k, sub)
			}
		case []any:
			parts := make([]string, len(x))
			for i, e := range x {
				parts[i] = fmt.Sprint(e)
			}
			lines = append(lines, prefix+": "+strings.Join(parts, " "))
		case nil:
			lines = append(lines, prefix+": ")
		case string:
			lines = append(lines, prefix+": "+x)
		default:
			b, _ := json.Marshal(x)
			lines = append(lines, prefix+": "+string(b))
		}
	}
	walk("", v)
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

func serveAkamai(c *call) {
	p := c.r.URL.Path
	if p == akamaiToken.path {
		c.serveToken(akamaiToken)
		return
	}
	if !strings.HasPrefix(p, "/v1/") {
		c.notFound()
		return
	}
	if !c.authorized(akamaiToken) || !c.getOnly() {
		return
	}
	var doc map[string]any
	switch p {
	case "/v1/instance":
		doc = akamaiInstance(c.in)
	case "/v1/network":
		doc = akamaiNetwork(c.in)
	case "/v1/ssh-keys":
		doc = akamaiSSHKeys(c.in)
	case "/v1/user-data":
		if c.in.UserData == nil {
			c.notFound()
			return
		}
		c.text(http.StatusOK, base64.StdEncoding.EncodeToString(c.in.UserData))
		return
	default:
		c.notFound()
		return
	}
	if strings.Contains(c.r.Header.Get("Accept"), "application/json") {
		c.json(http.StatusOK, doc)
		return
	}
	c.text(http.StatusOK, flatText(doc))
}

func akamaiLinode() *provider {
	return &provider{
		info: ProviderInfo{
			Vendor:    "akamai-linode",
			Name:      "Akamai Cloud (Linode)",
			HwdbMatch: "dmi:*:svnLinode:*",
			DMI: DMI{SysVendor: "Linode", ProductName: "Standard PC (Q35 + ICH9, 2009)",
				BIOSVendor: "SeaBIOS"},
			IPv4: addrs("169.254.169.254"),
			IPv6: addrs("fd00:a9fe:a9fe::1"),
			Endpoint: Endpoint{
				TokenURL:          "http://169.254.169.254/v1/token",
				RefreshHeaderName: "Metadata-Token-Expiry-Seconds",
				DataURL:           "http://169.254.169.254/v1",
				TokenHeaderName:   "Metadata-Token",
			},
			Keys: akamaiKeys,
			Notes: []string{
				"not in upstream's hwdb: vendor id, match and keys are stead's proposal",
				"hostname, region and addresses live inside /v1/instance and /v1/network (several values per document), so only user data maps onto a well-known key",
				"guess: token expiry 1..86400 s, else 400; missing expiry header → 400; the X-Metadata-Token(-Expiry-Seconds) spellings some clients send are accepted too",
				"guess: the text/plain layout (sorted dotted keys, lists space-separated); no user data → 404",
				"guess: product_name and bios_vendor; cloud-init detects Linode by sys_vendor",
			},
		},
		defaults: func(in *Instance) {
			in.Region = "us-ord"
			in.InstanceID, in.InstanceType = "12345678", "g6-nanode-1"
		},
		serve: serveAkamai,
		expect: func(in *Instance) map[string]string {
			out := map[string]string{}
			if in.UserData != nil {
				out[KeyUserDataBase64] = base64.StdEncoding.EncodeToString(in.UserData)
			}
			return out
		},
	}
}
