package fakecloud

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// Google Compute Engine's metadata server: a tree below /computeMetadata/v1/ that demands
// "Metadata-Flavor: Google" and answers with the same header; directories list their
// entries one per line ("name/" for subdirectories); ?recursive=true answers a directory
// as JSON with camelCased keys; ?alt=json answers a leaf as a JSON string.

const gcpProject = "123456789012"

var gcpKeys = map[string]string{
	KeyHostname:     "/instance/hostname",
	KeyRegion:       "/instance/region",
	KeyZone:         "/instance/zone",
	KeyIPv4Public:   "/instance/network-interfaces/0/access-configs/0/external-ip",
	KeyUserDataBase: "/instance/attributes",
}

func gcpTree(in *Instance) *tree {
	t := newTree()
	t.trailingNewline = true
	i := "instance/"
	t.set(i+"hostname", in.Hostname)
	t.set(i+"name", strings.Split(in.Hostname, ".")[0])
	t.set(i+"id", in.InstanceID)
	if in.Zone != "" {
		t.set(i+"zone", "projects/"+gcpProject+"/zones/"+in.Zone)
	}
	if in.Region != "" {
		t.set(i+"region", "projects/"+gcpProject+"/regions/"+in.Region)
	}
	if in.InstanceType != "" {
		t.set(i+"machine-type", "projects/"+gcpProject+"/machineTypes/"+in.InstanceType)
	}
	t.set(i+"image", "projects/debian-cloud/global/images/debian-12-bookworm-v20250101")
	t.set(i+"cpu-platform", "Intel Cascade Lake")
	t.set(i+"tags", "[]")
	n := i + "network-interfaces/0/"
	t.set(n+"ip", in.PrivateIPv4)
	t.set(n+"mac", in.MAC)
	t.set(n+"network", "projects/"+gcpProject+"/networks/default")
	if in.PublicIPv4 != "" {
		t.set(n+"access-configs/0/external-ip", in.PublicIPv4)
		t.set(n+"access-configs/0/type", "ONE_TO_ONE_NAT")
	}
	if in.PublicIPv6 != "" {
		t.set(n+"ipv6s", in.PublicIPv6)
	}
	for k, v := range in.attributes() {
		if k != "" && !strings.Contains(k, "/") {
			t.set(i+"attributes/"+k, v)
		}
	}
	if in.SSHKey != "" {
		t.set(i+"attributes/ssh-keys", "root:"+in.SSHKey)
	}
	t.set("project/project-id", "fakecloud-project")
	t.set("project/numeric-project-id", gcpProject)
	return t
}

// gcpJSONKey camelCases directory entries, except user-chosen attribute names.
func gcpJSONKey(dir, name string) string {
	if dir == "instance/attributes" || dir == "project/attributes" {
		return name
	}
	return camelCase(name)
}

func serveGCP(c *call) {
	h := c.w.Header()
	h.Set("Metadata-Flavor", "Google")
	h.Set("Server", "Metadata Server for VM")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	if c.r.Header.Get("X-Forwarded-For") != "" || c.r.Header.Get("Metadata-Flavor") != "Google" {
		c.body(http.StatusForbidden, "text/html; charset=UTF-8",
			[]byte("<!DOCTYPE html>\n<title>403 Forbidden</title>\nMissing Metadata-Flavor:Google header.\n"))
		return
	}
	if !c.getOnly() {
		return
	}
	p := c.r.URL.Path
	switch p {
	case "/":
		c.gcpText("computeMetadata/\n")
		return
	case "/computeMetadata/":
		c.gcpText("v1/\n")
		return
	}
	rest, ok := strings.CutPrefix(p, "/computeMetadata/v1")
	if !ok || (rest != "" && rest[0] != '/') {
		c.notFound()
		return
	}
	rel := strings.TrimPrefix(rest, "/")
	t := gcpTree(c.in)
	q := c.r.URL.Query()
	if v, ok := t.leaves[rel]; ok && rel != "" {
		if q.Get("alt") == "json" {
			c.json(http.StatusOK, v)
			return
		}
		c.gcpText(v)
		return
	}
	dir := strings.TrimSuffix(rel, "/")
	if strings.Contains(dir, "//") || (dir != "" && len(t.children(dir)) == 0) {
		c.notFound()
		return
	}
	if rel != "" && !strings.HasSuffix(rel, "/") || rest == "" {
		loc := p + "/"
		if c.r.URL.RawQuery != "" {
			loc += "?" + c.r.URL.RawQuery
		}
		h.Set("Location", loc)
		c.text(http.StatusMovedPermanently, "")
		return
	}
	if q.Get("recursive") == "true" {
		b, _ := json.Marshal(t.subtree(dir, gcpJSONKey))
		c.etag(b)
		c.body(http.StatusOK, "application/json", b)
		return
	}
	body, _, _ := t.get(rel)
	c.gcpText(body)
}

func (c *call) gcpText(s string) {
	c.etag([]byte(s))
	c.body(http.StatusOK, "application/text", []byte(s))
}

func (c *call) etag(b []byte) {
	sum := sha256.Sum256(b)
	c.w.Header().Set("ETag", hex.EncodeToString(sum[:8]))
}

func googleGCP() *provider {
	return &provider{
		info: ProviderInfo{
			Vendor:    "google-gcp",
			Name:      "Google Compute Engine",
			Upstream:  true,
			HwdbMatch: "dmi:*:pnGoogleComputeEngine:*",
			DMI: DMI{SysVendor: "Google", ProductName: "Google Compute Engine",
				BIOSVendor: "Google"},
			IPv4: addrs("169.254.169.254"),
			IPv6: addrs("fd20:ce::254"),
			Endpoint: Endpoint{
				DataURL:      "http://169.254.169.254/computeMetadata/v1",
				ExtraHeaders: []string{"Metadata-Flavor: Google"},
			},
			Keys: gcpKeys,
			Notes: []string{
				"missing or wrong Metadata-Flavor (or any X-Forwarded-For) → 403; every answer carries Metadata-Flavor: Google",
				"zone and region are answered as projects/<number>/zones/<zone> and projects/<number>/regions/<region>, as GCE does",
				"user data is the attribute systemd-userdata (userdata_base + \"/systemd-userdata\"); ssh keys are the attribute ssh-keys as root:<key>",
				"guess: a directory without its trailing slash answers 301 to the slashed path (so userdata_base alone is no 200)",
				"fd20:ce::254 is GCE's IPv6 metadata address; upstream's hwdb lists none",
				"?wait_for_change is not emulated (answers at once)",
			},
		},
		defaults: func(in *Instance) {
			in.Region, in.Zone = "us-central1", "us-central1-a"
			in.InstanceID, in.InstanceType = "4520031799277581759", "e2-medium"
		},
		serve: serveGCP,
		expect: func(in *Instance) map[string]string {
			t := gcpTree(in)
			out := map[string]string{}
			for name, key := range gcpKeys {
				if v, ok := t.leaves[strings.TrimPrefix(key, "/")]; ok {
					out[name] = v
				}
			}
			return out
		},
	}
}
