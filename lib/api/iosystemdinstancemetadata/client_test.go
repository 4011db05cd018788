package iosystemdinstancemetadata

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stead-os/stead/lib/api/apitest"
)

// fakeIMDS knows the hostname; it answers KeyNotFound for keys and WellKnownKeyUnset for
// other well-known names, or NotSupported for everything when unsupported.
type fakeIMDS struct {
	mu          sync.Mutex
	unsupported bool
	last        GetParameters
}

func (f *fakeIMDS) lastSent() GetParameters {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *fakeIMDS) Get(ctx context.Context, c VarlinkCall, key *string, wk *WellKnown, _ *int64, refresh *int64,
	cache *bool, _ *int64, _ *bool, _ *bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = GetParameters{Key: key, WellKnown: wk, RefreshUSec: refresh, Cache: cache}
	switch {
	case f.unsupported:
		return c.ReplyNotSupported(ctx)
	case key != nil:
		return c.ReplyKeyNotFound(ctx)
	case wk != nil && *wk == "hostname":
		return c.ReplyGet(ctx, "aG9zdA==", nil)
	}
	return c.ReplyWellKnownKeyUnset(ctx)
}

func (f *fakeIMDS) GetVendorInfo(ctx context.Context, c VarlinkCall) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unsupported {
		return c.ReplyGetVendorInfo(ctx, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil)
	}
	v := "fake"
	return c.ReplyGetVendorInfo(ctx, &v, nil, nil, nil, nil, nil, nil, nil, nil, nil)
}

func TestClient(t *testing.T) {
	root := t.TempDir()
	f := &fakeIMDS{}
	apitest.Serve(t, filepath.Join(root, SocketPath), VarlinkNew(f))
	c := NewClient(apitest.Dial(t, SocketAddress(root)))
	ctx := context.Background()

	hostname, refresh, cache := WellKnown("hostname"), int64(5), false
	r, err := c.Get(ctx, GetParameters{WellKnown: &hostname, RefreshUSec: &refresh, Cache: &cache})
	if last := f.lastSent(); err != nil || r.Data != "aG9zdA==" || last.RefreshUSec == nil || *last.RefreshUSec != 5 || last.Cache == nil || *last.Cache {
		t.Errorf("Get hostname: %+v %v (sent %+v)", r, err, last)
	}
	var (
		notFound *KeyNotFound
		unset    *WellKnownKeyUnset
		notSupp  *NotSupported
	)
	key := "/x"
	if _, err := c.Get(ctx, GetParameters{Key: &key}); !errors.As(err, &notFound) {
		t.Errorf("Get key: %#v", err)
	}
	zone := WellKnown("zone")
	if _, err := c.Get(ctx, GetParameters{WellKnown: &zone}); !errors.As(err, &unset) {
		t.Errorf("Get zone: %#v", err)
	}
	if v, err := c.GetVendorInfo(ctx); err != nil || v.Vendor == nil || *v.Vendor != "fake" {
		t.Errorf("GetVendorInfo: %+v %v", v, err)
	}
	f.mu.Lock()
	f.unsupported = true
	f.mu.Unlock()
	if _, err := c.Get(ctx, GetParameters{WellKnown: &hostname}); !errors.As(err, &notSupp) || err.Error() != "io.systemd.InstanceMetadata.NotSupported" {
		t.Errorf("Get when unsupported: %#v", err)
	}
	if v, err := c.GetVendorInfo(ctx); err != nil || v.Vendor != nil {
		t.Errorf("GetVendorInfo when unsupported: %+v %v", v, err)
	}
}

// TestGetParameters: nil parameters are left out, as the IDL's optional ones.
func TestGetParameters(t *testing.T) {
	if b, _ := json.Marshal(GetParameters{}); string(b) != "{}" {
		t.Errorf("%s", b)
	}
}
