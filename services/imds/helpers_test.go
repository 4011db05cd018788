package imds

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stead-os/stead/lib/api/apitest"
	"github.com/stead-os/stead/lib/api/iosystemdinstancemetadata"
	"github.com/stead-os/stead/lib/api/iosystemdpcrextend"
	"github.com/stead-os/stead/lib/varlinkd"
)

// fakeIMDS serves io.systemd.InstanceMetadata from a map: well-known wire name (+ key) →
// value; "NS" in notSupported answers NotSupported.
type fakeIMDS struct {
	mu           sync.Mutex
	vendor       string
	values       map[string]string
	notSupported bool
	calls        []string
	lastRefresh  *int64
	lastCache    *bool
}

func (f *fakeIMDS) Get(ctx context.Context, c iosystemdinstancemetadata.VarlinkCall, key *string,
	wk *iosystemdinstancemetadata.WellKnown, _ *int64, refresh *int64, cache *bool, _ *int64, _ *bool, _ *bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notSupported {
		return c.ReplyNotSupported(ctx)
	}
	name := "base"
	if wk != nil {
		name = string(*wk)
	}
	if key != nil {
		name += *key
	}
	f.calls = append(f.calls, name)
	f.lastRefresh, f.lastCache = refresh, cache
	v, ok := f.values[name]
	if !ok {
		if key == nil && name != "base" {
			return c.ReplyWellKnownKeyUnset(ctx)
		}
		return c.ReplyKeyNotFound(ctx)
	}
	return c.ReplyGet(ctx, base64.StdEncoding.EncodeToString([]byte(v)), nil)
}

func (f *fakeIMDS) GetVendorInfo(ctx context.Context, c iosystemdinstancemetadata.VarlinkCall) error {
	var v *string
	if f.vendor != "" {
		v = &f.vendor
	}
	return c.ReplyGetVendorInfo(ctx, v, nil, nil, nil, nil, nil, nil, nil, nil, nil)
}

// fakePCR records Extend calls.
type fakePCR struct {
	mu    sync.Mutex
	calls []pcrCall
}

type pcrCall struct {
	PCR       int64
	Text      string
	EventType string
}

func (p *fakePCR) Extend(ctx context.Context, c iosystemdpcrextend.VarlinkCall, pcr *int64, _ *string,
	text *string, _ *string, _ *string, et *iosystemdpcrextend.EventType) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pc pcrCall
	if pcr != nil {
		pc.PCR = *pcr
	}
	if text != nil {
		pc.Text = *text
	}
	if et != nil {
		pc.EventType = string(*et)
	}
	p.calls = append(p.calls, pc)
	return c.ReplyExtend(ctx)
}

// serve runs a lib/varlinkd server with d on root/sock until the test ends.
// serve runs d on root's sock until the test ends.
func serve(t *testing.T, root, sock string, d varlinkd.Dispatcher) {
	t.Helper()
	apitest.Serve(t, filepath.Join(root, sock), d)
}

func startFake(t *testing.T, f *fakeIMDS) string {
	root := t.TempDir()
	serve(t, root, SocketPath, iosystemdinstancemetadata.VarlinkNew(f))
	return root
}

func runOpts(t *testing.T, o Options) (string, error) {
	t.Helper()
	var out bytes.Buffer
	o.Stdout = &out
	if o.ImdsdPath == "" {
		o.ImdsdPath = "/nonexistent/imdsd"
	}
	err := Run(context.Background(), o)
	return out.String(), err
}
