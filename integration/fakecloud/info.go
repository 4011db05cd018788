package fakecloud

import (
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// Well-known key names, as io.systemd.InstanceMetadata's WellKnown enum spells them.
const (
	KeyHostname       = "hostname"
	KeyRegion         = "region"
	KeyZone           = "zone"
	KeyIPv4Public     = "ipv4_public"
	KeyIPv6Public     = "ipv6_public"
	KeySSHKey         = "ssh_key"
	KeyUserData       = "userdata"
	KeyUserDataBase   = "userdata_base"
	KeyUserDataBase64 = "userdata_base64"
)

// WellKnownKeys lists the well-known key names in the order of the WellKnown enum (without
// "base", which is the data URL itself).
func WellKnownKeys() []string {
	return []string{KeyHostname, KeyRegion, KeyZone, KeyIPv4Public, KeyIPv6Public,
		KeySSHKey, KeyUserData, KeyUserDataBase, KeyUserDataBase64}
}

// DMI is the SMBIOS identity a machine of this cloud shows in /sys/class/dmi/id.
type DMI struct {
	SysVendor       string `json:"sys_vendor"`
	ProductName     string `json:"product_name"`
	BIOSVendor      string `json:"bios_vendor"`
	ChassisAssetTag string `json:"chassis_asset_tag,omitempty"`
}

// Modalias returns the kernel's DMI modalias for these fields ("dmi:bvn…:svn…:pn…:"; the
// kernel drops blanks, control characters and colons from each value and leaves out fields
// it does not have). Upstream's imds appends "cat<chassis asset tag>:" itself before the
// hwdb lookup; see ModaliasWithAssetTag.
func (d DMI) Modalias() string {
	var b strings.Builder
	b.WriteString("dmi:")
	for _, f := range [...]struct{ prefix, value string }{
		{"bvn", d.BIOSVendor}, {"svn", d.SysVendor}, {"pn", d.ProductName},
	} {
		if f.value == "" {
			continue
		}
		b.WriteString(f.prefix)
		b.WriteString(modaliasFilter(f.value))
		b.WriteByte(':')
	}
	return b.String()
}

// ModaliasWithAssetTag returns Modalias with "cat<tag>:" appended, the string upstream
// matches against hwdb's dmi: entries.
func (d DMI) ModaliasWithAssetTag() string {
	return d.Modalias() + "cat" + modaliasFilter(d.ChassisAssetTag) + ":"
}

func modaliasFilter(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c > ' ' && c < 127 && c != ':' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Endpoint is how a client reaches a cloud's metadata, in the terms of upstream's hwdb
// (IMDS_TOKEN_URL, IMDS_REFRESH_HEADER_NAME, IMDS_DATA_URL, IMDS_DATA_URL_SUFFIX,
// IMDS_TOKEN_HEADER_NAME, IMDS_EXTRA_HEADER…). URLs name the real cloud's address.
type Endpoint struct {
	TokenURL          string   `json:"token_url,omitempty"`
	RefreshHeaderName string   `json:"refresh_header_name,omitempty"`
	DataURL           string   `json:"data_url"`
	DataURLSuffix     string   `json:"data_url_suffix,omitempty"`
	TokenHeaderName   string   `json:"token_header_name,omitempty"`
	ExtraHeaders      []string `json:"extra_headers,omitempty"`
}

// Rebase returns e with the scheme and host of TokenURL and DataURL replaced by those of
// base (e.g. an httptest server's URL "http://127.0.0.1:41234"); paths are kept.
func (e Endpoint) Rebase(base string) Endpoint {
	e.ExtraHeaders = slices.Clone(e.ExtraHeaders)
	e.TokenURL = rebase(e.TokenURL, base)
	e.DataURL = rebase(e.DataURL, base)
	return e
}

func rebase(raw, base string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	b, err2 := url.Parse(base)
	if err != nil || err2 != nil {
		return raw
	}
	u.Scheme, u.Host = b.Scheme, b.Host
	return u.String()
}

// URL returns the URL a client fetches for key (a path such as "/meta-data/hostname"):
// DataURL + key + DataURLSuffix.
func (e Endpoint) URL(key string) string { return e.DataURL + key + e.DataURLSuffix }

// ProviderInfo describes one emulated cloud.
type ProviderInfo struct {
	// Vendor is the IMDS_VENDOR id (upstream's for the clouds its hwdb knows).
	Vendor string `json:"vendor"`
	// Name is the cloud's human name.
	Name string `json:"name"`
	// Upstream tells whether upstream systemd 262's hwdb knows this cloud; Endpoint and
	// Keys then mirror its entry exactly.
	Upstream bool `json:"upstream"`
	// HwdbMatch is the hwdb match pattern for this cloud (upstream's, or the one stead
	// proposes for clouds upstream lacks).
	HwdbMatch string `json:"hwdb_match"`
	// DMI is the identity a VM of this cloud presents.
	DMI DMI `json:"dmi"`
	// Host is the DNS name in the data URL when the cloud uses one (Tencent), else "".
	Host string `json:"host,omitempty"`
	// IPv4 and IPv6 are the metadata service's addresses.
	IPv4 []netip.Addr `json:"ipv4,omitempty"`
	IPv6 []netip.Addr `json:"ipv6,omitempty"`
	// Endpoint is how to reach the data, with the real cloud's addresses.
	Endpoint Endpoint `json:"endpoint"`
	// Keys maps well-known key names (KeyHostname, …) to the key a client appends to the
	// data URL.
	Keys map[string]string `json:"keys"`
	// ExtraKeys are well-known keys stead adds beyond upstream's hwdb entry.
	ExtraKeys map[string]string `json:"extra_keys,omitempty"`
	// Expected maps each well-known name in Keys and ExtraKeys to the exact body a client
	// gets for it (with the default instance in Providers, with the current instance from
	// Server.Info). A name missing from Expected answers "not found".
	Expected map[string]string `json:"expected"`
	// PrivilegedPort tells that the cloud serves user data only to client source ports
	// below 1024 (Scaleway); Servers enforce it unless WithPrivilegedPortCheck(false).
	PrivilegedPort bool `json:"privileged_port,omitempty"`
	// Notes record quirks and where the emulation rests on guesses.
	Notes []string `json:"notes,omitempty"`
}

// Key returns the key for a well-known name from Keys or ExtraKeys.
func (p ProviderInfo) Key(name string) (string, bool) {
	if k, ok := p.Keys[name]; ok {
		return k, true
	}
	k, ok := p.ExtraKeys[name]
	return k, ok
}

// Providers returns the table of emulated clouds, upstream's nine first in hwdb order, each
// with Expected filled in for its DefaultInstance.
func Providers() []ProviderInfo {
	out := make([]ProviderInfo, len(providerOrder))
	for i, name := range providerOrder {
		p := providers[name]
		in, _ := DefaultInstance(name)
		out[i] = p.infoFor(&in)
	}
	return out
}

// ProviderNames returns the vendor ids in table order.
func ProviderNames() []string { return slices.Clone(providerOrder) }

// Lookup returns the table entry for a vendor id.
func Lookup(vendor string) (ProviderInfo, bool) {
	p, ok := providers[vendor]
	if !ok {
		return ProviderInfo{}, false
	}
	in, _ := DefaultInstance(vendor)
	return p.infoFor(&in), true
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}
