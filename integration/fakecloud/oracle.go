package fakecloud

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// Oracle Cloud Infrastructure's IMDSv2: /opc/v2/instance/ is a JSON document, any node of it
// addressable by path (leaves answer bare text); every request needs
// "Authorization: Bearer Oracle". User data is base64 in instance/metadata/user_data.

var oracleKeys = map[string]string{
	KeyHostname:       "/instance/hostname",
	KeyRegion:         "/instance/region",
	KeyZone:           "/instance/availabilityDomain",
	KeySSHKey:         "/instance/metadata/ssh_authorized_keys",
	KeyUserDataBase64: "/metadata/user_data",
}

var oracleRegions = map[string][2]string{ // short code → canonical name, region key
	"iad": {"us-ashburn-1", "IAD"},
	"phx": {"us-phoenix-1", "PHX"},
	"fra": {"eu-frankfurt-1", "FRA"},
	"lhr": {"uk-london-1", "LHR"},
}

func oracleDocument(in *Instance) map[string]any {
	canonical, key := in.Region, strings.ToUpper(in.Region)
	if r, ok := oracleRegions[in.Region]; ok {
		canonical, key = r[0], r[1]
	}
	meta := map[string]any{}
	if in.SSHKey != "" {
		meta["ssh_authorized_keys"] = in.SSHKey
	}
	if in.UserData != nil {
		meta["user_data"] = base64.StdEncoding.EncodeToString(in.UserData)
	}
	doc := map[string]any{
		"availabilityDomain":  in.Zone,
		"canonicalRegionName": canonical,
		"compartmentId":       "ocid1.compartment.oc1..fakecloud",
		"displayName":         in.Hostname,
		"faultDomain":         "FAULT-DOMAIN-1",
		"hostname":            in.Hostname,
		"id":                  in.InstanceID,
		"image":               "ocid1.image.oc1." + in.Region + ".fakecloud",
		"metadata":            meta,
		"ociAdName":           in.Region + "-ad-1",
		"region":              in.Region,
		"regionInfo": map[string]any{
			"realmDomainComponent": "oraclecloud.com", "realmKey": "oc1",
			"regionIdentifier": canonical, "regionKey": key,
		},
		"shape":       in.InstanceType,
		"state":       "Running",
		"timeCreated": 1735689600000,
	}
	for k, v := range doc {
		if v == "" {
			delete(doc, k)
		}
	}
	return doc
}

func oracleVNICs(in *Instance) []any {
	vnic := map[string]any{
		"vnicId": "ocid1.vnic.oc1." + in.Region + ".fakecloud", "privateIp": in.PrivateIPv4,
		"vlanTag": 0, "macAddr": in.MAC, "virtualRouterIp": "10.0.0.1",
		"subnetCidrBlock": "10.0.0.0/24",
	}
	if in.PublicIPv6 != "" {
		vnic["ipv6Addresses"] = []any{in.PublicIPv6}
		vnic["ipv6SubnetCidrBlock"] = "2001:db8::/64"
		vnic["ipv6VirtualRouterIp"] = "fe80::1"
	}
	return []any{vnic}
}

func serveOracle(c *call) {
	p := c.r.URL.Path
	rest, ok := strings.CutPrefix(p, "/opc/v2/")
	if !ok {
		c.json(http.StatusNotFound, map[string]any{"code": "NotFound", "message": "Not Found"})
		return
	}
	if c.r.Header.Get("Authorization") != "Bearer Oracle" {
		c.json(http.StatusUnauthorized, map[string]any{"code": "NotAuthenticated",
			"message": "missing or invalid Authorization header"})
		return
	}
	if !c.getOnly() {
		return
	}
	var root any
	segs := splitPath(rest)
	switch {
	case len(segs) > 0 && segs[0] == "instance":
		root = oracleDocument(c.in)
	case len(segs) > 0 && segs[0] == "vnics":
		root = oracleVNICs(c.in)
	case len(segs) == 2 && segs[0] == "metadata" && segs[1] == "user_data":
		// Upstream's hwdb key; the documented path is instance/metadata/user_data.
		root = map[string]any{"metadata": oracleDocument(c.in)["metadata"]}
		segs = append([]string{"-"}, segs...)
	default:
		c.json(http.StatusNotFound, map[string]any{"code": "NotFound", "message": "Not Found"})
		return
	}
	node, ok := jsonNode(root, segs[1:])
	if !ok {
		c.json(http.StatusNotFound, map[string]any{"code": "NotFound", "message": "Not Found"})
		return
	}
	if s, ok := leafText(node); ok {
		c.text(http.StatusOK, s)
		return
	}
	c.json(http.StatusOK, node)
}

func oracleCloud() *provider {
	return &provider{
		info: ProviderInfo{
			Vendor:    "oracle-cloud-oci",
			Name:      "Oracle Cloud Infrastructure",
			Upstream:  true,
			HwdbMatch: "dmi:*:catOracleCloud.com:*",
			DMI: DMI{SysVendor: "QEMU", ProductName: "Standard PC (i440FX + PIIX, 1996)",
				BIOSVendor: "SeaBIOS", ChassisAssetTag: "OracleCloud.com"},
			IPv4: addrs("169.254.169.254"),
			IPv6: addrs("fd00:c1::a9fe:a9fe"),
			Endpoint: Endpoint{
				DataURL:      "http://169.254.169.254/opc/v2",
				ExtraHeaders: []string{"Authorization: Bearer Oracle"},
			},
			Keys: oracleKeys,
			Notes: []string{
				"every /opc/v2 request without Authorization: Bearer Oracle → 401 (guess: JSON error body)",
				"user data is base64; OCI documents it at /opc/v2/instance/metadata/user_data, upstream's hwdb asks /opc/v2/metadata/user_data: both are served (the latter is likely 404 on real OCI)",
				"region is the short code (iad), as in OCI's v2 document; canonicalRegionName holds us-ashburn-1",
				"no public IPv4 in OCI metadata (vnics hold private addresses only)",
				"the legacy /opc/v1 endpoint is not emulated (as on instances with it disabled)",
				"guess: sys_vendor, product_name and bios_vendor of a QEMU guest; the asset tag OracleCloud.com is what matters",
			},
		},
		defaults: func(in *Instance) {
			in.Region, in.Zone = "iad", "Uocm:US-ASHBURN-AD-1"
			in.InstanceID = "ocid1.instance.oc1.iad.fakecloud000000000000000005"
			in.InstanceType = "VM.Standard.E4.Flex"
		},
		serve: serveOracle,
		expect: func(in *Instance) map[string]string {
			doc := oracleDocument(in)
			roots := map[string]any{"instance": doc, "metadata": doc["metadata"]}
			out := map[string]string{}
			for name, key := range oracleKeys {
				if n, ok := jsonNode(roots, splitPath(key)); ok {
					if s, ok := leafText(n); ok {
						out[name] = s
					}
				}
			}
			return out
		},
	}
}
