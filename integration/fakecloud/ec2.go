package fakecloud

import (
	"encoding/json"
	"net/http"
	"strings"
)

// EC2-style services: a "/latest" (or dated) tree of plain-text leaves with directory
// listings, user data at /latest/user-data, optionally behind a session token. Amazon,
// Alibaba, Tencent and OpenStack's EC2-compatible API share this shape.

// ec2Versions is what GET / lists; every dated version answers like latest.
const ec2Versions = "1.0\n2009-04-04\n2021-03-23\nlatest"

// isDateVersion tells whether s looks like "2009-04-04" or is "1.0".
func isDateVersion(s string) bool {
	if s == "1.0" {
		return true
	}
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	return isDecimal(s[:4]) && isDecimal(s[5:7]) && isDecimal(s[8:])
}

// serveEC2Style answers the EC2-style layout: the token endpoint if any, then (after the
// token check) GET / and /<version>/… from build's tree.
func serveEC2Style(c *call, tok *tokenSpec, build func(*Instance) *tree) {
	serveEC2Layout(c, tok, build, false)
}

// serveEC2Layout is serveEC2Style; unversioned also answers the tree's top-level entries
// without a version directory (/meta-data/…, /user-data).
func serveEC2Layout(c *call, tok *tokenSpec, build func(*Instance) *tree, unversioned bool) {
	p := c.r.URL.Path
	if tok != nil && p == tok.path {
		c.serveToken(tok)
		return
	}
	if tok != nil && !c.authorized(tok) {
		return
	}
	if !c.getOnly() {
		return
	}
	c.w.Header().Set("Server", "EC2ws")
	if p == "/" {
		c.text(http.StatusOK, ec2Versions)
		return
	}
	version, rest, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if unversioned && (version == "meta-data" || version == "user-data") {
		c.serveTree(build(c.in), strings.TrimPrefix(p, "/"))
		return
	}
	if version != "latest" && !isDateVersion(version) {
		c.notFound()
		return
	}
	c.serveTree(build(c.in), rest)
}

// ec2Expect evaluates keys relative to a data URL ending in /latest.
func ec2Expect(build func(*Instance) *tree, keys map[string]string) func(*Instance) map[string]string {
	return func(in *Instance) map[string]string { return expectFrom(build(in), keys) }
}

func identityDocument(in *Instance, account string) string {
	doc := map[string]string{
		"accountId": account, "architecture": "x86_64", "availabilityZone": in.Zone,
		"imageId": "ami-0fa4ec10000000000", "instanceId": in.InstanceID,
		"instanceType": in.InstanceType, "privateIp": in.PrivateIPv4, "region": in.Region,
		"version": "2017-09-30",
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b)
}

var ec2Keys = map[string]string{
	KeyHostname:   "/meta-data/hostname",
	KeyRegion:     "/meta-data/placement/region",
	KeyZone:       "/meta-data/placement/availability-zone",
	KeyIPv4Public: "/meta-data/public-ipv4",
	KeyIPv6Public: "/meta-data/ipv6",
	KeySSHKey:     "/meta-data/public-keys/0/openssh-key",
	KeyUserData:   "/user-data",
}

var ec2Token = &tokenSpec{
	path:            "/latest/api/token",
	ttlHeaders:      []string{"X-aws-ec2-metadata-token-ttl-seconds"},
	tokenHeaders:    []string{"X-aws-ec2-metadata-token"},
	maxTTL:          21600,
	echoTTL:         true,
	rejectForwarded: true,
}

func ec2Tree(in *Instance) *tree {
	t := newTree()
	m := "meta-data/"
	t.set(m+"ami-id", "ami-0fa4ec10000000000")
	t.set(m+"ami-launch-index", "0")
	t.set(m+"hostname", in.Hostname)
	t.set(m+"local-hostname", in.Hostname)
	t.set(m+"local-ipv4", in.PrivateIPv4)
	t.set(m+"public-ipv4", in.PublicIPv4)
	if in.PublicIPv4 != "" && in.Region != "" {
		t.set(m+"public-hostname", "ec2-"+strings.ReplaceAll(in.PublicIPv4, ".", "-")+"."+in.Region+".compute.amazonaws.com")
	}
	t.set(m+"ipv6", in.PublicIPv6)
	t.set(m+"instance-id", in.InstanceID)
	t.set(m+"instance-type", in.InstanceType)
	t.set(m+"mac", in.MAC)
	t.set(m+"placement/region", in.Region)
	t.set(m+"placement/availability-zone", in.Zone)
	t.set(m+"services/domain", "amazonaws.com")
	t.set(m+"services/partition", "aws")
	if in.MAC != "" {
		mac := m + "network/interfaces/macs/" + in.MAC + "/"
		t.set(mac+"mac", in.MAC)
		t.set(mac+"device-number", "0")
		t.set(mac+"local-ipv4s", in.PrivateIPv4)
		t.set(mac+"public-ipv4s", in.PublicIPv4)
		t.set(mac+"ipv6s", in.PublicIPv6)
	}
	if in.SSHKey != "" {
		t.set(m+"public-keys/0/openssh-key", in.SSHKey)
		t.listings["meta-data/public-keys"] = "0=fakecloud"
	}
	t.set("user-data", string(in.UserData))
	if in.InstanceID != "" {
		t.set("dynamic/instance-identity/document", identityDocument(in, "123456789012"))
	}
	return t
}

func amazonEC2() *provider {
	return &provider{
		info: ProviderInfo{
			Vendor:    "amazon-ec2",
			Name:      "Amazon EC2",
			Upstream:  true,
			HwdbMatch: "dmi:bvnAmazonEC2:*",
			DMI: DMI{SysVendor: "Amazon EC2", ProductName: "m5.large", BIOSVendor: "Amazon EC2",
				ChassisAssetTag: "Amazon EC2"},
			IPv4: addrs("169.254.169.254"),
			IPv6: addrs("fd00:ec2::254"),
			Endpoint: Endpoint{
				TokenURL:          "http://169.254.169.254/latest/api/token",
				RefreshHeaderName: "X-aws-ec2-metadata-token-ttl-seconds",
				DataURL:           "http://169.254.169.254/latest",
				TokenHeaderName:   "X-aws-ec2-metadata-token",
			},
			Keys: ec2Keys,
			Notes: []string{
				"IMDSv2 with tokens required (WithTokensOptional emulates http-tokens=optional)",
				"token TTL 1..21600 s, else 400; token PUT with X-Forwarded-For → 403",
				"non-PUT on /latest/api/token → 405 (guess); directory listings join entries with \\n, no trailing newline",
				"DMI shows a Nitro instance (Xen-based ones show bios_vendor Xen and do not match upstream's hwdb)",
			},
		},
		defaults: func(in *Instance) {
			in.Region, in.Zone = "eu-central-1", "eu-central-1a"
			in.InstanceID, in.InstanceType = "i-0fa4ec10000000001", "m5.large"
		},
		serve:  func(c *call) { serveEC2Style(c, ec2Token, ec2Tree) },
		expect: ec2Expect(ec2Tree, ec2Keys),
	}
}

var alibabaKeys = map[string]string{
	KeyHostname:   "/meta-data/hostname",
	KeyRegion:     "/meta-data/region-id",
	KeyZone:       "/meta-data/zone-id",
	KeyIPv4Public: "/meta-data/eipv4",
	KeySSHKey:     "/meta-data/public-keys/0/openssh-key",
	KeyUserData:   "/user-data",
}

var alibabaToken = &tokenSpec{
	path:         "/latest/api/token",
	ttlHeaders:   []string{"X-aliyun-ecs-metadata-token-ttl-seconds"},
	tokenHeaders: []string{"X-aliyun-ecs-metadata-token"},
	maxTTL:       21600,
	echoTTL:      true,
}

func alibabaTree(in *Instance) *tree {
	t := newTree()
	m := "meta-data/"
	t.set(m+"hostname", in.Hostname)
	t.set(m+"region-id", in.Region)
	t.set(m+"zone-id", in.Zone)
	t.set(m+"eipv4", in.PublicIPv4)
	t.set(m+"public-ipv4", in.PublicIPv4)
	t.set(m+"private-ipv4", in.PrivateIPv4)
	t.set(m+"instance-id", in.InstanceID)
	t.set(m+"instance/instance-type", in.InstanceType)
	t.set(m+"image-id", "m-fakecloud000000001")
	t.set(m+"mac", in.MAC)
	t.set(m+"vpc-id", "vpc-fakecloud000000001")
	t.set(m+"public-keys/0/openssh-key", in.SSHKey)
	t.set("user-data", string(in.UserData))
	return t
}

func alibabaECS() *provider {
	return &provider{
		info: ProviderInfo{
			Vendor:    "alibaba-ecs",
			Name:      "Alibaba Cloud ECS",
			Upstream:  true,
			HwdbMatch: "dmi:*:svnAlibabaCloud:*",
			DMI: DMI{SysVendor: "Alibaba Cloud", ProductName: "Alibaba Cloud ECS",
				BIOSVendor: "SeaBIOS"},
			IPv4: addrs("100.100.100.200"),
			Endpoint: Endpoint{
				TokenURL:          "http://100.100.100.200/latest/api/token",
				RefreshHeaderName: "X-aliyun-ecs-metadata-token-ttl-seconds",
				DataURL:           "http://100.100.100.200/latest",
				TokenHeaderName:   "X-aliyun-ecs-metadata-token",
			},
			Keys: alibabaKeys,
			Notes: []string{
				"security hardening mode (tokens required); WithTokensOptional emulates normal mode",
				"token TTL 1..21600 s, else 400",
				"guess: a missing/expired token is answered 401 as on EC2; Alibaba's docs do not state the status",
				"guess: bios_vendor SeaBIOS",
			},
		},
		defaults: func(in *Instance) {
			in.Region, in.Zone = "cn-hangzhou", "cn-hangzhou-i"
			in.InstanceID, in.InstanceType = "i-bp1fakecloud0000001", "ecs.g7.large"
		},
		serve:  func(c *call) { serveEC2Style(c, alibabaToken, alibabaTree) },
		expect: ec2Expect(alibabaTree, alibabaKeys),
	}
}

var tencentKeys = map[string]string{
	KeyHostname:   "/meta-data/hostname",
	KeyRegion:     "/meta-data/placement/region",
	KeyZone:       "/meta-data/placement/zone",
	KeyIPv4Public: "/meta-data/public-ipv4",
	KeySSHKey:     "/meta-data/public-keys/0/openssh-key",
	KeyUserData:   "/user-data",
}

func tencentTree(in *Instance) *tree {
	t := newTree()
	m := "meta-data/"
	t.set(m+"hostname", in.Hostname)
	t.set(m+"instance-name", in.Hostname)
	t.set(m+"instance-id", in.InstanceID)
	t.set(m+"uuid", "6f1c3f9e-0000-4000-8000-fa4ec1000007")
	t.set(m+"local-ipv4", in.PrivateIPv4)
	t.set(m+"public-ipv4", in.PublicIPv4)
	t.set(m+"mac", in.MAC)
	t.set(m+"placement/region", in.Region)
	t.set(m+"placement/zone", in.Zone)
	t.set(m+"instance/instance-type", in.InstanceType)
	t.set(m+"instance/image-id", "img-fakecld1")
	t.set(m+"public-keys/0/openssh-key", in.SSHKey)
	t.set("user-data", string(in.UserData))
	return t
}

func tencentCloud() *provider {
	return &provider{
		info: ProviderInfo{
			Vendor:    "tencent-cloud",
			Name:      "Tencent Cloud CVM",
			Upstream:  true,
			HwdbMatch: "dmi:*:svnTencentCloud:*",
			DMI:       DMI{SysVendor: "Tencent Cloud", ProductName: "CVM", BIOSVendor: "SeaBIOS"},
			Host:      "metadata.tencentyun.com",
			IPv4:      addrs("169.254.0.23"),
			Endpoint:  Endpoint{DataURL: "http://metadata.tencentyun.com"},
			Keys:      tencentKeys,
			Notes: []string{
				"the data URL names a host, metadata.tencentyun.com; a client needs DNS (or /etc/hosts) for it",
				"guess: 169.254.0.23 as the address behind metadata.tencentyun.com (upstream's hwdb lists no address)",
				"upstream's data URL has no /latest: it asks /meta-data/… and /user-data at the top; Tencent documents /latest/meta-data/… and /latest/user-data; both are served (guess: the real service may answer only the /latest ones)",
				"guess: meta-data/hostname exists (upstream's hwdb uses it; Tencent documents instance-name)",
				"guess: public key index 0 (Tencent may name keys by id); product_name CVM, bios_vendor SeaBIOS",
			},
		},
		defaults: func(in *Instance) {
			in.Region, in.Zone = "ap-guangzhou", "ap-guangzhou-3"
			in.InstanceID, in.InstanceType = "ins-fakecld1", "S5.MEDIUM2"
		},
		serve:  func(c *call) { serveEC2Layout(c, nil, tencentTree, true) },
		expect: ec2Expect(tencentTree, tencentKeys),
	}
}
