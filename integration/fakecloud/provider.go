package fakecloud

import (
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
)

// provider is one emulated cloud.
type provider struct {
	index    int
	info     ProviderInfo // Expected left empty: see infoFor
	defaults func(*Instance)
	serve    func(*call)
	// expect returns, for an instance, the body a client gets for each well-known name in
	// info.Keys and info.ExtraKeys that the cloud answers.
	expect func(*Instance) map[string]string
}

// providerList is the table in order: upstream's nine clouds as its hwdb lists them, then
// the clouds stead adds.
var providerList = []*provider{
	amazonEC2(), microsoftAzure(), googleGCP(), hetznerCloud(), oracleCloud(), scaleway(),
	tencentCloud(), alibabaECS(), vultr(), openStack(), digitalOcean(), akamaiLinode(),
}

var (
	providers     = map[string]*provider{}
	providerOrder []string
)

func init() {
	for i, p := range providerList {
		p.index = i
		providers[p.info.Vendor] = p
		providerOrder = append(providerOrder, p.info.Vendor)
	}
}

// infoFor returns a deep copy of the table entry with Expected computed for in.
func (p *provider) infoFor(in *Instance) ProviderInfo {
	i := p.info
	i.IPv4 = slices.Clone(i.IPv4)
	i.IPv6 = slices.Clone(i.IPv6)
	i.Endpoint.ExtraHeaders = slices.Clone(i.Endpoint.ExtraHeaders)
	i.Keys = maps.Clone(i.Keys)
	i.ExtraKeys = maps.Clone(i.ExtraKeys)
	i.Notes = slices.Clone(i.Notes)
	i.Expected = p.expect(in)
	return i
}

// call is one request being answered by a provider.
type call struct {
	s  *Server
	w  http.ResponseWriter
	r  *http.Request
	in *Instance
}

func (s *Server) serveProvider(w http.ResponseWriter, r *http.Request) {
	in := s.Instance()
	s.prov.serve(&call{s: s, w: w, r: r, in: &in})
}

// text answers with a text/plain body.
func (c *call) text(status int, body string) {
	c.body(status, "text/plain; charset=utf-8", []byte(body))
}

// body answers with the given content type and body.
func (c *call) body(status int, contentType string, body []byte) {
	h := c.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(status)
	if c.r.Method != http.MethodHead {
		c.w.Write(body)
	}
}

// json answers with v encoded as JSON.
func (c *call) json(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.text(http.StatusInternalServerError, err.Error())
		return
	}
	c.body(status, "application/json; charset=utf-8", b)
}

func (c *call) notFound() { c.text(http.StatusNotFound, "Not Found") }

// getOnly answers 405 unless the request is a GET (or HEAD).
func (c *call) getOnly() bool {
	if c.r.Method == http.MethodGet || c.r.Method == http.MethodHead {
		return true
	}
	c.w.Header().Set("Allow", "GET, HEAD")
	c.text(http.StatusMethodNotAllowed, "Method Not Allowed")
	return false
}

// privilegedPort enforces Scaleway's rule that user data is served only to source ports
// below 1024, answering 403 otherwise.
func (c *call) privilegedPort() bool {
	if !c.s.privileged {
		return true
	}
	_, port, err := net.SplitHostPort(c.r.RemoteAddr)
	n, err2 := strconv.Atoi(port)
	if err == nil && err2 == nil && n > 0 && n < 1024 {
		return true
	}
	c.text(http.StatusForbidden, "Forbidden: user data is only served to source ports below 1024")
	return false
}

// serveTree answers a path of t as plain text, or 404.
func (c *call) serveTree(t *tree, p string) {
	body, _, ok := t.get(p)
	if !ok {
		c.notFound()
		return
	}
	c.text(http.StatusOK, body)
}

// expectFrom evaluates a provider's well-known keys against a tree rooted at its data URL.
func expectFrom(t *tree, keys ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range keys {
		for name, key := range m {
			if body, _, ok := t.get(key); ok {
				out[name] = body
			}
		}
	}
	return out
}
