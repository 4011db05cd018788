package fakecloud

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
)

// start serves a new fake cloud on a loopback httptest server for the test's duration and
// returns it with its endpoint pointed at that server.
func start(t *testing.T, vendor string, opts ...Option) (*Server, Endpoint) {
	t.Helper()
	s, err := New(vendor, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(func() { s.Close() }) // runs first: releases hanging requests
	return s, s.Info().Endpoint.Rebase(ts.URL)
}

// freshClient never reuses connections, so a fault on one request cannot be hidden by the
// transport retrying on another connection.
func freshClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

var lowPort atomic.Int32

// lowPortClient connects from source ports below 1024, as upstream's imdsd does. It skips
// the test where binding such a port is not allowed.
func lowPortClient(t *testing.T) *http.Client {
	t.Helper()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var last error
		for range 400 {
			port := 600 + int(lowPort.Add(1)%400)
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}}
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				return c, nil
			}
			if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
				return nil, err
			}
			last = err
		}
		return nil, last
	}
	probe, err := dial(context.Background(), "tcp", "127.0.0.1:1")
	if err != nil && (errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)) {
		harness.Require(t, fmt.Sprintf("binding source ports below 1024 (root or CAP_NET_BIND_SERVICE): %v", err))
	}
	if probe != nil {
		probe.Close()
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
	}
}

// imdsClient fetches keys the way upstream's systemd-imdsd does from hwdb data: a token
// (PUT TokenURL with RefreshHeaderName) when TokenURL is set, then
// GET DataURL+key+DataURLSuffix with the token header and the extra headers; a 401 drops
// the token and retries once.
type imdsClient struct {
	http      *http.Client
	ep        Endpoint
	token     string
	tokenPuts int
}

func newIMDSClient(ep Endpoint, c *http.Client) *imdsClient {
	if c == nil {
		c = freshClient(10 * time.Second)
	}
	return &imdsClient{http: c, ep: ep}
}

func (c *imdsClient) fetchToken() error {
	req, _ := http.NewRequest(http.MethodPut, c.ep.TokenURL, nil)
	req.Header.Set(c.ep.RefreshHeaderName, "900")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return errors.New("token: " + resp.Status)
	}
	c.tokenPuts++
	c.token = string(b)
	return nil
}

// get returns the status and body for key.
func (c *imdsClient) get(key string) (int, string, error) {
	for attempt := 0; ; attempt++ {
		if c.ep.TokenURL != "" && c.token == "" {
			if err := c.fetchToken(); err != nil {
				return 0, "", err
			}
		}
		req, err := http.NewRequest(http.MethodGet, c.ep.URL(key), nil)
		if err != nil {
			return 0, "", err
		}
		if c.token != "" {
			req.Header.Set(c.ep.TokenHeaderName, c.token)
		}
		for _, h := range c.ep.ExtraHeaders {
			name, value, _ := strings.Cut(h, ":")
			req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return 0, "", err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && c.ep.TokenURL != "" && attempt == 0 {
			c.token = ""
			continue
		}
		return resp.StatusCode, string(b), err
	}
}

// userData finds user data the way upstream's systemd-imds does: userdata_base +
// "/systemd-userdata", then userdata, then userdata_base64 (decoded).
func (c *imdsClient) userData(info ProviderInfo) ([]byte, bool) {
	if base, ok := info.Key(KeyUserDataBase); ok {
		if st, body, err := c.get(base + "/" + UserDataAttribute); err == nil && st == 200 && body != "" {
			return []byte(body), true
		}
	}
	if k, ok := info.Key(KeyUserData); ok {
		if st, body, err := c.get(k); err == nil && st == 200 && body != "" {
			return []byte(body), true
		}
	}
	if k, ok := info.Key(KeyUserDataBase64); ok {
		if st, body, err := c.get(k); err == nil && st == 200 && body != "" {
			b, err := base64.StdEncoding.DecodeString(body)
			return b, err == nil
		}
	}
	return nil, false
}

// do sends one request and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if c == nil {
		c = freshClient(10 * time.Second)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(b)
}

// base returns the scheme://host part of the rebased endpoint.
func base(ep Endpoint) string {
	u := ep.DataURL
	if i := strings.Index(u[len("http://"):], "/"); i >= 0 {
		return u[:len("http://")+i]
	}
	return u
}
