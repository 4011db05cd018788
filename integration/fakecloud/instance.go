package fakecloud

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"maps"
)

// Instance is the data of the one instance a Server describes. Each provider renders it in
// its own layout (plain-text leaves, JSON documents, YAML, base64 user data, …).
//
// An empty field means the cloud has no such value: its key answers 404 (or whatever that
// cloud answers for a missing value, e.g. an empty string on Azure). That is how tests make a
// key absent, e.g. to check that a client caches a 404.
type Instance struct {
	Hostname     string `json:"hostname,omitempty"`
	Region       string `json:"region,omitempty"`
	Zone         string `json:"zone,omitempty"`
	PublicIPv4   string `json:"public_ipv4,omitempty"`
	PublicIPv6   string `json:"public_ipv6,omitempty"`
	PrivateIPv4  string `json:"private_ipv4,omitempty"`
	MAC          string `json:"mac,omitempty"`
	InstanceID   string `json:"instance_id,omitempty"`
	InstanceType string `json:"instance_type,omitempty"`
	// SSHKey is one OpenSSH public key line ("ssh-ed25519 AAAA… comment").
	SSHKey string `json:"ssh_key,omitempty"`
	// UserData is served raw, or base64-encoded by the clouds that encode it (Azure,
	// Oracle, Akamai). nil means the instance has no user data. In JSON it is base64.
	UserData []byte `json:"user_data,omitempty"`
	// Attributes are extra named values where the cloud has a key/value store:
	// Google's instance/attributes/ and Scaleway's /user_data/ keys. The user data itself
	// is served there under the key "systemd-userdata" (what upstream's client looks for
	// below a userdata_base key); an attribute of that name takes precedence.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// UserDataAttribute is the key under which clouds with a key/value user-data store (Google,
// Scaleway) serve Instance.UserData: upstream systemd-imds appends "/systemd-userdata" to a
// userdata_base key.
const UserDataAttribute = "systemd-userdata"

// Clone returns a deep copy.
func (in Instance) Clone() Instance {
	out := in
	if in.UserData != nil {
		out.UserData = append([]byte{}, in.UserData...)
	}
	out.Attributes = maps.Clone(in.Attributes)
	return out
}

// attributes returns the key/value store including the user data under UserDataAttribute.
func (in *Instance) attributes() map[string]string {
	m := make(map[string]string, len(in.Attributes)+1)
	if in.UserData != nil {
		m[UserDataAttribute] = string(in.UserData)
	}
	maps.Copy(m, in.Attributes)
	return m
}

// DefaultUserData is the user data every provider serves unless configured otherwise: a JSON
// object that upstream's `systemd-imds --import` turns into the credential "fakecloud.test".
func DefaultUserData(vendor string) []byte {
	return fmt.Appendf(nil, `{"systemd.credentials":[{"name":"fakecloud.test","text":"hello from %s"}]}`, vendor)
}

// FakeSSHKey returns a well-formed, deterministic ssh-ed25519 public key line for vendor. The
// key material is a hash, not a real curve point: it parses, but nobody holds its private key.
func FakeSSHKey(vendor string) string {
	const algo = "ssh-ed25519"
	sum := sha256.Sum256([]byte("fakecloud ssh key " + vendor))
	blob := binary.BigEndian.AppendUint32(nil, uint32(len(algo)))
	blob = append(blob, algo...)
	blob = binary.BigEndian.AppendUint32(blob, uint32(len(sum)))
	blob = append(blob, sum[:]...)
	return algo + " " + base64.StdEncoding.EncodeToString(blob) + " fakecloud@" + vendor
}

// DefaultInstance returns the instance a provider's Server serves unless configured
// otherwise: hostname "<vendor>-test-host", a region and zone in that cloud's naming,
// documentation-range addresses, FakeSSHKey and DefaultUserData.
func DefaultInstance(vendor string) (Instance, error) {
	p, ok := providers[vendor]
	if !ok {
		return Instance{}, fmt.Errorf("fakecloud: unknown provider %q", vendor)
	}
	n := p.index + 10
	in := Instance{
		Hostname:    vendor + "-test-host",
		PublicIPv4:  fmt.Sprintf("203.0.113.%d", n),
		PublicIPv6:  fmt.Sprintf("2001:db8:%x::10", n),
		PrivateIPv4: fmt.Sprintf("10.0.0.%d", n),
		MAC:         fmt.Sprintf("02:00:5e:00:00:%02x", n),
		SSHKey:      FakeSSHKey(vendor),
		UserData:    DefaultUserData(vendor),
	}
	p.defaults(&in)
	return in, nil
}
