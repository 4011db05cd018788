package fakecloud

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// check is one request and the status it must get.
type check struct {
	name   string
	method string
	path   string
	header []string
	status int
	body   string // if set, the body must contain it
}

func runChecks(t *testing.T, baseURL string, c *http.Client, checks []check) {
	t.Helper()
	for _, ck := range checks {
		method := ck.method
		if method == "" {
			method = http.MethodGet
		}
		resp, body := do(t, c, method, baseURL+ck.path, ck.header...)
		if resp.StatusCode != ck.status {
			t.Errorf("%s: %s %s = %d %q, want %d", ck.name, method, ck.path, resp.StatusCode, body, ck.status)
			continue
		}
		if ck.body != "" && !strings.Contains(body, ck.body) {
			t.Errorf("%s: body %q lacks %q", ck.name, body, ck.body)
		}
	}
}

// token fetches a token from a token-flow provider.
func token(t *testing.T, url, ttlHeader, ttl string) string {
	t.Helper()
	resp, body := do(t, nil, http.MethodPut, url, ttlHeader, ttl)
	if resp.StatusCode != 200 || body == "" {
		t.Fatalf("token: %d %q", resp.StatusCode, body)
	}
	return body
}

func TestAuthAmazonEC2(t *testing.T) {
	s, ep := start(t, "amazon-ec2")
	b := base(ep)
	tok := token(t, ep.TokenURL, "X-aws-ec2-metadata-token-ttl-seconds", "21600")
	host := s.Instance().Hostname
	const ttlH, tokH = "X-aws-ec2-metadata-token-ttl-seconds", "X-aws-ec2-metadata-token"
	runChecks(t, b, nil, []check{
		{name: "no token", path: "/latest/meta-data/hostname", status: 401},
		{name: "bad token", path: "/latest/meta-data/hostname", header: []string{tokH, "nope"}, status: 401},
		{name: "token", path: "/latest/meta-data/hostname", header: []string{tokH, tok}, status: 200, body: host},
		{name: "dated version", path: "/2021-03-23/meta-data/hostname", header: []string{tokH, tok}, status: 200, body: host},
		{name: "listing", path: "/latest/meta-data/", header: []string{tokH, tok}, status: 200, body: "placement/"},
		{name: "public-keys listing", path: "/latest/meta-data/public-keys/", header: []string{tokH, tok}, status: 200, body: "0=fakecloud"},
		{name: "identity", path: "/latest/dynamic/instance-identity/document", header: []string{tokH, tok}, status: 200, body: `"region": "eu-central-1"`},
		{name: "missing key", path: "/latest/meta-data/nope", header: []string{tokH, tok}, status: 404},
		{name: "POST data", method: "POST", path: "/latest/meta-data/hostname", header: []string{tokH, tok}, status: 405},
		{name: "no ttl", method: "PUT", path: "/latest/api/token", status: 400},
		{name: "ttl 0", method: "PUT", path: "/latest/api/token", header: []string{ttlH, "0"}, status: 400},
		{name: "ttl 21601", method: "PUT", path: "/latest/api/token", header: []string{ttlH, "21601"}, status: 400},
		{name: "ttl text", method: "PUT", path: "/latest/api/token", header: []string{ttlH, "ten"}, status: 400},
		{name: "ttl 1", method: "PUT", path: "/latest/api/token", header: []string{ttlH, "1"}, status: 200},
		{name: "forwarded", method: "PUT", path: "/latest/api/token", header: []string{ttlH, "60", "X-Forwarded-For", "192.0.2.1"}, status: 403},
		{name: "GET token", path: "/latest/api/token", header: []string{ttlH, "60"}, status: 405},
	})
	resp, _ := do(t, nil, http.MethodPut, ep.TokenURL, ttlH, "77")
	if got := resp.Header.Get(ttlH); got != "77" {
		t.Errorf("token answer's TTL header = %q, want 77", got)
	}
}

func TestAuthAlibaba(t *testing.T) {
	s, ep := start(t, "alibaba-ecs")
	const ttlH, tokH = "X-aliyun-ecs-metadata-token-ttl-seconds", "X-aliyun-ecs-metadata-token"
	tok := token(t, ep.TokenURL, ttlH, "60")
	runChecks(t, base(ep), nil, []check{
		{name: "no token", path: "/latest/meta-data/region-id", status: 401},
		{name: "EC2 header", path: "/latest/meta-data/region-id", header: []string{"X-aws-ec2-metadata-token", tok}, status: 401},
		{name: "token", path: "/latest/meta-data/region-id", header: []string{tokH, tok}, status: 200, body: s.Instance().Region},
		{name: "EC2 ttl header", method: "PUT", path: "/latest/api/token", header: []string{"X-aws-ec2-metadata-token-ttl-seconds", "60"}, status: 400},
		{name: "ttl 21601", method: "PUT", path: "/latest/api/token", header: []string{ttlH, "21601"}, status: 400},
	})
}

func TestAuthAzure(t *testing.T) {
	s, ep := start(t, "microsoft-azure")
	in := s.Instance()
	md := []string{"Metadata", "true"}
	const v = "?api-version=2025-04-07"
	runChecks(t, base(ep), nil, []check{
		{name: "no header", path: "/metadata/instance" + v, status: 400, body: "metadata header"},
		{name: "header false", path: "/metadata/instance" + v, header: []string{"Metadata", "false"}, status: 400},
		{name: "no version", path: "/metadata/instance", header: md, status: 400, body: "newest-versions"},
		{name: "bad version", path: "/metadata/instance?api-version=yesterday", header: md, status: 400},
		{name: "ancient version", path: "/metadata/instance?api-version=2016-01-01", header: md, status: 400},
		{name: "forwarded", path: "/metadata/instance" + v, header: []string{"Metadata", "true", "X-Forwarded-For", "192.0.2.1"}, status: 400},
		{name: "document", path: "/metadata/instance" + v, header: md, status: 200, body: `"computerName":"` + in.Hostname + `"`},
		{name: "json leaf", path: "/metadata/instance/compute/location" + v, header: md, status: 200, body: `"` + in.Region + `"`},
		{name: "text leaf", path: "/metadata/instance/compute/vmSize" + v + "&format=text", header: md, status: 200, body: in.InstanceType},
		{name: "text non-leaf", path: "/metadata/instance/compute" + v + "&format=text", header: md, status: 400},
		{name: "bad index", path: "/metadata/instance/network/interface/7/ipv4" + v, header: md, status: 404},
		{name: "unknown", path: "/metadata/instance/compute/nope" + v, header: md, status: 404},
		{name: "other service", path: "/metadata/identity/oauth2/token" + v, header: md, status: 404},
		{name: "versions", path: "/metadata/versions", header: md, status: 200, body: "2025-04-07"},
		{name: "POST", method: "POST", path: "/metadata/instance" + v, header: md, status: 405},
	})
	_, body := do(t, nil, "GET", base(ep)+"/metadata/instance/compute/userData"+v+"&format=text", md...)
	if ud, _ := base64.StdEncoding.DecodeString(body); string(ud) != string(in.UserData) {
		t.Errorf("userData = %q", body)
	}
}

func TestAuthGoogle(t *testing.T) {
	s, ep := start(t, "google-gcp")
	in := s.Instance()
	fl := []string{"Metadata-Flavor", "Google"}
	runChecks(t, base(ep), nil, []check{
		{name: "no header", path: "/computeMetadata/v1/instance/hostname", status: 403},
		{name: "wrong value", path: "/computeMetadata/v1/instance/hostname", header: []string{"Metadata-Flavor", "google"}, status: 403},
		{name: "forwarded", path: "/computeMetadata/v1/instance/hostname", header: []string{"Metadata-Flavor", "Google", "X-Forwarded-For", "192.0.2.1"}, status: 403},
		{name: "leaf", path: "/computeMetadata/v1/instance/hostname", header: fl, status: 200, body: in.Hostname},
		{name: "alt json", path: "/computeMetadata/v1/instance/hostname?alt=json", header: fl, status: 200, body: `"` + in.Hostname + `"`},
		{name: "listing", path: "/computeMetadata/v1/instance/", header: fl, status: 200, body: "network-interfaces/\n"},
		{name: "no slash", path: "/computeMetadata/v1/instance/attributes", header: fl, status: 301},
		{name: "attribute", path: "/computeMetadata/v1/instance/attributes/systemd-userdata", header: fl, status: 200, body: "fakecloud.test"},
		{name: "ssh-keys", path: "/computeMetadata/v1/instance/attributes/ssh-keys", header: fl, status: 200, body: "root:ssh-ed25519 "},
		{name: "recursive", path: "/computeMetadata/v1/instance/?recursive=true", header: fl, status: 200, body: `"networkInterfaces":[{"accessConfigs":[{"externalIp":"` + in.PublicIPv4},
		{name: "attributes keep names", path: "/computeMetadata/v1/instance/attributes/?recursive=true", header: fl, status: 200, body: `"systemd-userdata":`},
		{name: "missing", path: "/computeMetadata/v1/instance/nope", header: fl, status: 404},
		{name: "root", path: "/", header: fl, status: 200, body: "computeMetadata/"},
	})
	resp, _ := do(t, nil, "GET", base(ep)+"/computeMetadata/v1/instance/zone")
	if resp.Header.Get("Metadata-Flavor") != "Google" {
		t.Errorf("403 answer lacks Metadata-Flavor: Google")
	}
	resp, _ = do(t, nil, "GET", base(ep)+"/computeMetadata/v1/instance/zone", fl...)
	if resp.Header.Get("Metadata-Flavor") != "Google" || resp.Header.Get("ETag") == "" {
		t.Errorf("answer headers %v", resp.Header)
	}
}

func TestAuthOracle(t *testing.T) {
	s, ep := start(t, "oracle-cloud-oci")
	in := s.Instance()
	auth := []string{"Authorization", "Bearer Oracle"}
	runChecks(t, base(ep), nil, []check{
		{name: "no header", path: "/opc/v2/instance/hostname", status: 401},
		{name: "wrong", path: "/opc/v2/instance/hostname", header: []string{"Authorization", "Bearer Amazon"}, status: 401},
		{name: "leaf", path: "/opc/v2/instance/hostname", header: auth, status: 200, body: in.Hostname},
		{name: "document", path: "/opc/v2/instance/", header: auth, status: 200, body: `"canonicalRegionName":"us-ashburn-1"`},
		{name: "nested", path: "/opc/v2/instance/regionInfo/regionKey", header: auth, status: 200, body: "IAD"},
		{name: "documented user data", path: "/opc/v2/instance/metadata/user_data", header: auth, status: 200, body: base64.StdEncoding.EncodeToString(in.UserData)},
		{name: "vnics", path: "/opc/v2/vnics/", header: auth, status: 200, body: `"privateIp":"` + in.PrivateIPv4},
		{name: "v1", path: "/opc/v1/instance/", header: auth, status: 404},
		{name: "missing", path: "/opc/v2/instance/nope", header: auth, status: 404},
	})
}

func TestAuthAkamai(t *testing.T) {
	s, ep := start(t, "akamai-linode")
	in := s.Instance()
	const ttlH = "Metadata-Token-Expiry-Seconds"
	tok := token(t, ep.TokenURL, ttlH, "300")
	if len(tok) != 64 {
		t.Errorf("token %q: want 64 hex digits", tok)
	}
	th := []string{"Metadata-Token", tok}
	runChecks(t, base(ep), nil, []check{
		{name: "no token", path: "/v1/instance", status: 401},
		{name: "no expiry", method: "PUT", path: "/v1/token", status: 400},
		{name: "expiry 0", method: "PUT", path: "/v1/token", header: []string{ttlH, "0"}, status: 400},
		{name: "expiry too long", method: "PUT", path: "/v1/token", header: []string{ttlH, "86401"}, status: 400},
		{name: "GET token", path: "/v1/token", header: []string{ttlH, "60"}, status: 405},
		{name: "instance text", path: "/v1/instance", header: th, status: 200, body: "label: " + in.Hostname + "\n"},
		{name: "instance json", path: "/v1/instance", header: append(th, "Accept", "application/json"), status: 200, body: `"region":"` + in.Region + `"`},
		{name: "network", path: "/v1/network", header: th, status: 200, body: "ipv4.public: " + in.PublicIPv4 + "/32"},
		{name: "ssh keys", path: "/v1/ssh-keys", header: th, status: 200, body: "users.root: ssh-ed25519"},
		{name: "user data", path: "/v1/user-data", header: th, status: 200, body: base64.StdEncoding.EncodeToString(in.UserData)},
		{name: "X- spelling", path: "/v1/instance", header: []string{"X-Metadata-Token", tok}, status: 200},
	})
}

func TestScaleway(t *testing.T) {
	s, ep := start(t, "scaleway")
	in := s.Instance()
	runChecks(t, base(ep), nil, []check{
		{name: "conf json", path: "/conf?format=json", status: 200, body: `"hostname":"` + in.Hostname + `"`},
		{name: "conf text", path: "/conf", status: 200, body: "HOSTNAME=" + in.Hostname + "\n"},
		{name: "user data from a high port", path: "/user_data", status: 403},
		{name: "user data key from a high port", path: "/user_data/systemd-userdata", status: 403},
	})
	var doc struct {
		PublicIP struct{ Address string } `json:"public_ip"`
		Location struct{ ZoneID string }  `json:"location"`
	}
	_, body := do(t, nil, "GET", base(ep)+"/conf?format=json")
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.PublicIP.Address != in.PublicIPv4 {
		t.Errorf("conf: %v %+v", err, doc)
	}
	low := lowPortClient(t)
	runChecks(t, base(ep), low, []check{
		{name: "listing", path: "/user_data", status: 200, body: "systemd-userdata\n"},
		{name: "listing json", path: "/user_data?format=json", status: 200, body: `{"user_data":["systemd-userdata"]}`},
		{name: "value", path: "/user_data/systemd-userdata", status: 200, body: string(in.UserData)},
		{name: "missing", path: "/user_data/cloud-init", status: 404},
	})
	// A client built from upstream's hwdb, from a low port: userdata is the key list.
	c := newIMDSClient(ep, low)
	if st, body, err := c.get(s.Info().Keys[KeyUserData]); err != nil || st != 200 || body != "systemd-userdata\n" {
		t.Errorf("upstream userdata key = %d %q %v", st, body, err)
	}
	if ud, ok := c.userData(s.Info()); !ok || string(ud) != string(in.UserData) {
		t.Errorf("user data via userdata_base = %q %v", ud, ok)
	}
}

func TestPlainProviders(t *testing.T) {
	for _, tc := range []struct {
		vendor string
		checks func(in Instance) []check
	}{
		{"hetzner-cloud", func(in Instance) []check {
			return []check{
				{name: "yaml", path: "/hetzner/v1/metadata", status: 200, body: "hostname: " + in.Hostname + "\n"},
				{name: "public-keys", path: "/hetzner/v1/metadata/public-keys", status: 200, body: `["ssh-ed25519 `},
				{name: "documented userdata", path: "/hetzner/v1/userdata", status: 200, body: string(in.UserData)},
				{name: "network-config", path: "/hetzner/v1/metadata/network-config", status: 200, body: "type: physical"},
				{name: "missing", path: "/hetzner/v1/metadata/nope", status: 404},
				{name: "POST", method: "POST", path: "/hetzner/v1/metadata", status: 405},
			}
		}},
		{"tencent-cloud", func(in Instance) []check {
			return []check{
				{name: "documented path", path: "/latest/meta-data/placement/zone", status: 200, body: in.Zone},
				{name: "hwdb path", path: "/meta-data/placement/zone", status: 200, body: in.Zone},
				{name: "user data", path: "/latest/user-data", status: 200, body: string(in.UserData)},
				{name: "POST", method: "POST", path: "/latest/meta-data/hostname", status: 405},
			}
		}},
		{"vultr", func(in Instance) []check {
			return []check{
				{name: "json", path: "/v1.json", status: 200, body: `"regioncode":"` + in.Region + `"`},
				{name: "listing", path: "/v1/", status: 200, body: "interfaces/"},
				{name: "instance id", path: "/v1/instanceid", status: 200, body: in.InstanceID},
			}
		}},
		{"digitalocean", func(in Instance) []check {
			return []check{
				{name: "json", path: "/metadata/v1.json", status: 200, body: `"droplet_id":"` + in.InstanceID + `"`},
				{name: "listing", path: "/metadata/v1/", status: 200, body: "hostname"},
				{name: "missing", path: "/metadata/v1/nope", status: 404},
			}
		}},
		{"openstack", func(in Instance) []check {
			return []check{
				{name: "versions", path: "/openstack", status: 200, body: "latest"},
				{name: "meta_data", path: "/openstack/latest/meta_data.json", status: 200, body: `"hostname":"` + in.Hostname + `"`},
				{name: "dated", path: "/openstack/2018-08-27/user_data", status: 200, body: string(in.UserData)},
				{name: "ec2", path: "/latest/meta-data/placement/availability-zone", status: 200, body: in.Zone},
				{name: "ec2 user data", path: "/2009-04-04/user-data", status: 200, body: string(in.UserData)},
				{name: "missing", path: "/openstack/latest/nope", status: 404},
			}
		}},
	} {
		t.Run(tc.vendor, func(t *testing.T) {
			s, ep := start(t, tc.vendor)
			runChecks(t, base(ep), nil, tc.checks(s.Instance()))
		})
	}
}

// fakeClock is a settable clock for token expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestTokenExpiry(t *testing.T) {
	for _, vendor := range []string{"amazon-ec2", "alibaba-ecs", "akamai-linode"} {
		t.Run(vendor, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			s, ep := start(t, vendor, WithClock(clock.now))
			key := "/meta-data/hostname"
			if vendor == "akamai-linode" {
				key = "/user-data"
			}
			get := func(tok string) int {
				resp, _ := do(t, nil, "GET", ep.URL(key), ep.TokenHeaderName, tok)
				return resp.StatusCode
			}
			tok := token(t, ep.TokenURL, ep.RefreshHeaderName, "10")
			if st := get(tok); st != 200 {
				t.Fatalf("fresh token: %d", st)
			}
			clock.advance(9 * time.Second)
			if st := get(tok); st != 200 {
				t.Errorf("token at 9 s of 10: %d", st)
			}
			clock.advance(time.Second)
			if st := get(tok); st != 401 {
				t.Errorf("expired token: %d, want 401", st)
			}
			tok2 := token(t, ep.TokenURL, ep.RefreshHeaderName, "10")
			if st := get(tok2); st != 200 {
				t.Errorf("new token: %d", st)
			}
			// FaultExpireTokens: current tokens fail once, a fresh one works.
			if err := s.SetFault(Fault{Mode: FaultExpireTokens}); err != nil {
				t.Fatal(err)
			}
			if len(s.Faults()) != 0 {
				t.Errorf("expire-tokens left a standing fault: %v", s.Faults())
			}
			if st := get(tok2); st != 401 {
				t.Errorf("token after expire-tokens: %d, want 401", st)
			}
			c := newIMDSClient(ep, nil)
			c.token = tok2 // a client holding the expired token refetches once
			if st, _, err := c.get(key); err != nil || st != 200 || c.tokenPuts != 1 {
				t.Errorf("client after expiry: %d %v, %d token PUTs", st, err, c.tokenPuts)
			}
		})
	}
}

func TestTokensOptional(t *testing.T) {
	_, ep := start(t, "amazon-ec2", WithTokensOptional(true))
	runChecks(t, base(ep), nil, []check{
		{name: "IMDSv1", path: "/latest/meta-data/instance-type", status: 200, body: "m5.large"},
		{name: "bad token still fails", path: "/latest/meta-data/instance-type", header: []string{"X-aws-ec2-metadata-token", "x"}, status: 401},
	})
}
