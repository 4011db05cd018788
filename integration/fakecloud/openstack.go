package fakecloud

import (
	"encoding/json"
	"net/http"
	"strings"
)

// OpenStack Nova's metadata service: the native API below /openstack/<version>/
// (meta_data.json, network_data.json, user_data, vendor_data*.json) and the EC2-compatible
// tree below /latest/ (and dated versions), neither behind a token or header.

const openstackVersions = "2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n2016-06-30\n2018-08-27\n2020-10-14\nlatest"

var openstackKeys = map[string]string{
	KeyHostname:   "/latest/meta-data/hostname",
	KeyZone:       "/latest/meta-data/placement/availability-zone",
	KeyIPv4Public: "/latest/meta-data/public-ipv4",
	KeySSHKey:     "/latest/meta-data/public-keys/0/openssh-key",
	KeyUserData:   "/openstack/latest/user_data",
}

func openstackEC2Tree(in *Instance) *tree {
	t := newTree()
	m := "meta-data/"
	t.set(m+"ami-id", "ami-00000001")
	t.set(m+"ami-launch-index", "0")
	t.set(m+"hostname", in.Hostname)
	t.set(m+"local-hostname", in.Hostname)
	t.set(m+"public-hostname", in.Hostname)
	t.set(m+"instance-id", "i-00000001")
	t.set(m+"instance-type", in.InstanceType)
	t.set(m+"local-ipv4", in.PrivateIPv4)
	t.set(m+"public-ipv4", in.PublicIPv4)
	t.set(m+"placement/availability-zone", in.Zone)
	t.set(m+"reservation-id", "r-fakecld1")
	t.set(m+"security-groups", "default")
	if in.SSHKey != "" {
		t.set(m+"public-keys/0/openssh-key", in.SSHKey)
		t.listings["meta-data/public-keys"] = "0=fakecloud"
	}
	t.set("user-data", string(in.UserData))
	return t
}

func openstackMetaData(in *Instance) map[string]any {
	doc := map[string]any{
		"uuid": in.InstanceID, "name": in.Hostname, "hostname": in.Hostname,
		"availability_zone": in.Zone, "launch_index": 0,
		"project_id": "fa4ec10000000000000000000000000b",
		"meta":       map[string]any{}, "devices": []any{},
		"public_keys": map[string]any{}, "keys": []any{},
	}
	if in.SSHKey != "" {
		doc["public_keys"] = map[string]any{"fakecloud": in.SSHKey}
		doc["keys"] = []any{map[string]any{"name": "fakecloud", "type": "ssh", "data": in.SSHKey}}
	}
	return doc
}

func openstackNetworkData(in *Instance) map[string]any {
	return map[string]any{
		"links": []any{map[string]any{"id": "tap0", "type": "ovs", "ethernet_mac_address": in.MAC,
			"mtu": 1500, "vif_id": "00000000-0000-4000-8000-fa4ec100000a"}},
		"networks": []any{map[string]any{"id": "network0", "link": "tap0", "type": "ipv4_dhcp",
			"network_id": "00000000-0000-4000-8000-fa4ec100000b"}},
		"services": []any{},
	}
}

// openstackFiles returns the native API's files for one version directory.
func openstackFiles(in *Instance) map[string]string {
	enc := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	files := map[string]string{
		"meta_data.json":    enc(openstackMetaData(in)),
		"network_data.json": enc(openstackNetworkData(in)),
		"vendor_data.json":  "{}",
		"vendor_data2.json": "{}",
	}
	if in.UserData != nil {
		files["user_data"] = string(in.UserData)
	}
	return files
}

func serveOpenStack(c *call) {
	p := c.r.URL.Path
	rest, native := strings.CutPrefix(p, "/openstack")
	if !native || (rest != "" && rest[0] != '/') {
		serveEC2Style(c, nil, openstackEC2Tree)
		return
	}
	if !c.getOnly() {
		return
	}
	segs := splitPath(rest)
	if len(segs) == 0 {
		c.text(http.StatusOK, openstackVersions)
		return
	}
	if segs[0] != "latest" && !isDateVersion(segs[0]) {
		c.notFound()
		return
	}
	files := openstackFiles(c.in)
	switch len(segs) {
	case 1:
		names := []string{"meta_data.json", "network_data.json"}
		if _, ok := files["user_data"]; ok {
			names = append(names, "user_data")
		}
		c.text(http.StatusOK, strings.Join(append(names, "vendor_data.json", "vendor_data2.json"), "\n"))
	case 2:
		body, ok := files[segs[1]]
		if !ok || strings.HasSuffix(p, "/") {
			c.notFound()
			return
		}
		if strings.HasSuffix(segs[1], ".json") {
			c.body(http.StatusOK, "application/json", []byte(body))
			return
		}
		c.text(http.StatusOK, body)
	default:
		c.notFound()
	}
}

func openStack() *provider {
	return &provider{
		info: ProviderInfo{
			Vendor:    "openstack",
			Name:      "OpenStack Nova",
			HwdbMatch: "dmi:*:pnOpenStackNova:*",
			DMI: DMI{SysVendor: "OpenStack Foundation", ProductName: "OpenStack Nova",
				BIOSVendor: "SeaBIOS"},
			IPv4:     addrs("169.254.169.254"),
			IPv6:     addrs("fe80::a9fe:a9fe"),
			Endpoint: Endpoint{DataURL: "http://169.254.169.254"},
			Keys:     openstackKeys,
			Notes: []string{
				"not in upstream's hwdb: vendor id, match and keys are stead's proposal",
				"no token or header; dated versions answer like latest; no region in the metadata",
				"fe80::a9fe:a9fe is link-local: a client must give the interface",
				"product_name is \"OpenStack Compute\" on some deployments, and sys_vendor varies with the distribution (e.g. \"RDO\")",
			},
		},
		defaults: func(in *Instance) {
			in.Region, in.Zone = "RegionOne", "nova"
			in.InstanceID = "00000000-0000-4000-8000-fa4ec1000009"
			in.InstanceType = "m1.small"
		},
		serve: serveOpenStack,
		expect: func(in *Instance) map[string]string {
			ec2 := openstackEC2Tree(in)
			files := openstackFiles(in)
			out := map[string]string{}
			for name, key := range openstackKeys {
				if rest, ok := strings.CutPrefix(key, "/latest/"); ok {
					if body, _, ok := ec2.get(rest); ok {
						out[name] = body
					}
				} else if body, ok := files[strings.TrimPrefix(key, "/openstack/latest/")]; ok {
					out[name] = body
				}
			}
			return out
		},
	}
}
