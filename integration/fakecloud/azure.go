package fakecloud

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Azure's Instance Metadata Service: one JSON document below /metadata/instance, any node of
// it addressable by path (arrays by index); "Metadata: true" and ?api-version= are required;
// format=text answers a leaf as bare text.

var azureNewestVersions = []string{"2025-04-07", "2023-07-01", "2021-12-13"}

var azureKeys = map[string]string{
	KeyHostname:       "/instance/compute/osProfile/computerName",
	KeyRegion:         "/instance/compute/location",
	KeyZone:           "/instance/compute/physicalZone",
	KeyIPv4Public:     "/instance/network/interface/0/ipv4/ipAddress/0/publicIpAddress",
	KeyIPv6Public:     "/instance/network/interface/0/ipv6/ipAddress/0/publicIpAddress",
	KeySSHKey:         "/instance/compute/publicKeys/0/keyData",
	KeyUserDataBase64: "/instance/compute/userData",
}

// validAzureVersion accepts dates from the first IMDS version on, optionally "-preview".
func validAzureVersion(v string) bool {
	v = strings.TrimSuffix(v, "-preview")
	t, err := time.Parse("2006-01-02", v)
	return err == nil && !t.Before(time.Date(2017, 3, 1, 0, 0, 0, 0, time.UTC))
}

func azureDocument(in *Instance) map[string]any {
	keys := []any{}
	if in.SSHKey != "" {
		keys = append(keys, map[string]any{
			"keyData": in.SSHKey, "path": "/home/azureuser/.ssh/authorized_keys"})
	}
	zone := ""
	if in.Zone != "" {
		zone = "1"
	}
	compute := map[string]any{
		"azEnvironment": "AzurePublicCloud",
		"customData":    "",
		"location":      in.Region,
		"name":          in.Hostname,
		"offer":         "debian-12",
		"osProfile": map[string]any{
			"adminUsername": "azureuser", "computerName": in.Hostname,
			"disablePasswordAuthentication": "true",
		},
		"osType":            "Linux",
		"physicalZone":      in.Zone,
		"provider":          "Microsoft.Compute",
		"publicKeys":        keys,
		"publisher":         "Debian",
		"resourceGroupName": "fakecloud-rg",
		"sku":               "12-gen2",
		"subscriptionId":    "00000000-0000-4000-8000-fa4ec1000002",
		"tags":              "",
		"userData":          base64.StdEncoding.EncodeToString(in.UserData),
		"vmId":              in.InstanceID,
		"vmSize":            in.InstanceType,
		"zone":              zone,
	}
	v4 := map[string]any{"privateIpAddress": in.PrivateIPv4, "publicIpAddress": in.PublicIPv4}
	v6 := []any{}
	if in.PublicIPv6 != "" {
		v6 = append(v6, map[string]any{"privateIpAddress": "fd00::4", "publicIpAddress": in.PublicIPv6})
	}
	iface := map[string]any{
		"ipv4": map[string]any{
			"ipAddress": []any{v4},
			"subnet":    []any{map[string]any{"address": "10.0.0.0", "prefix": "24"}},
		},
		"ipv6":       map[string]any{"ipAddress": v6},
		"macAddress": strings.ToUpper(strings.ReplaceAll(in.MAC, ":", "")),
	}
	return map[string]any{
		"compute": compute,
		"network": map[string]any{"interface": []any{iface}},
	}
}

// jsonNode walks a decoded JSON value along path segments.
func jsonNode(v any, segs []string) (any, bool) {
	for _, s := range segs {
		switch n := v.(type) {
		case map[string]any:
			next, ok := n[s]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(n) || !isDecimal(s) {
				return nil, false
			}
			v = n[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// leafText renders a JSON leaf as bare text; ok is false for objects and arrays.
func leafText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case map[string]any, []any:
		return "", false
	case nil:
		return "", true
	default:
		b, _ := json.Marshal(x)
		return string(b), true
	}
}

func serveAzure(c *call) {
	p := c.r.URL.Path
	bad := func(msg string, versions bool) {
		body := map[string]any{"error": msg}
		if versions {
			body["newest-versions"] = azureNewestVersions
		}
		c.json(http.StatusBadRequest, body)
	}
	if p != "/metadata" && !strings.HasPrefix(p, "/metadata/") {
		c.json(http.StatusNotFound, map[string]any{"error": "Not found"})
		return
	}
	if c.r.Header.Get("X-Forwarded-For") != "" {
		bad("Bad request. Request contains X-Forwarded-For header", false)
		return
	}
	if !strings.EqualFold(c.r.Header.Get("Metadata"), "true") {
		bad("Bad request. Required metadata header not specified", false)
		return
	}
	if !c.getOnly() {
		return
	}
	if p == "/metadata/versions" {
		c.json(http.StatusOK, map[string]any{"apiVersions": azureNewestVersions})
		return
	}
	q := c.r.URL.Query()
	switch v := q.Get("api-version"); {
	case v == "":
		bad("Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds", true)
		return
	case !validAzureVersion(v):
		bad("Bad request. api-version is invalid. For more information refer to aka.ms/azureimds", true)
		return
	}
	rest, ok := strings.CutPrefix(p, "/metadata/instance")
	if !ok || (rest != "" && rest[0] != '/') {
		c.json(http.StatusNotFound, map[string]any{"error": "Not found"})
		return
	}
	node, ok := jsonNode(azureDocument(c.in), splitPath(rest))
	if !ok {
		c.json(http.StatusNotFound, map[string]any{"error": "Not found"})
		return
	}
	switch q.Get("format") {
	case "", "json":
		c.json(http.StatusOK, node)
	case "text":
		s, ok := leafText(node)
		if !ok {
			bad("Bad request. Query parameter format=text is only supported for leaf nodes", false)
			return
		}
		c.text(http.StatusOK, s)
	default:
		bad("Bad request. Query parameter format has an invalid value", false)
	}
}

func microsoftAzure() *provider {
	return &provider{
		info: ProviderInfo{
			Vendor:    "microsoft-azure",
			Name:      "Microsoft Azure",
			Upstream:  true,
			HwdbMatch: "dmi:*:cat7783-7084-3265-9085-8269-3286-77:*",
			DMI: DMI{SysVendor: "Microsoft Corporation", ProductName: "Virtual Machine",
				BIOSVendor: "Microsoft Corporation", ChassisAssetTag: "7783-7084-3265-9085-8269-3286-77"},
			IPv4: addrs("169.254.169.254"),
			Endpoint: Endpoint{
				DataURL:       "http://169.254.169.254/metadata",
				DataURLSuffix: "?api-version=2025-04-07&format=text",
				ExtraHeaders:  []string{"Metadata: true"},
			},
			Keys: azureKeys,
			Notes: []string{
				"missing Metadata: true, missing or invalid api-version, or X-Forwarded-For → 400 with a JSON error",
				"simplification: any api-version date from 2017-03-01 on is accepted; the real service accepts only released versions",
				"guess: format=text on a non-leaf node → 400; an unknown path → 404 {\"error\":\"Not found\"}",
				"an instance without a public IPv4 answers publicIpAddress as an empty string (200), without IPv6 the path is 404",
				"userData is answered base64-encoded, empty when there is none; customData is always empty",
				"guess: physicalZone values look like \"westeurope-az01\"",
			},
		},
		defaults: func(in *Instance) {
			in.Region, in.Zone = "westeurope", "westeurope-az01"
			in.InstanceID, in.InstanceType = "7a6e3c1f-0000-4000-8000-fa4ec1000002", "Standard_B2s"
		},
		serve: serveAzure,
		expect: func(in *Instance) map[string]string {
			doc := map[string]any{"instance": azureDocument(in)}
			out := map[string]string{}
			for name, key := range azureKeys {
				if n, ok := jsonNode(doc, splitPath(key)); ok {
					if s, ok := leafText(n); ok {
						out[name] = s
					}
				}
			}
			return out
		},
	}
}
