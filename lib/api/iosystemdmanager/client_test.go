package iosystemdmanager

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/api/apitest"
	"github.com/varlink/go/varlink"
)

// fakeManager answers every call with empty parameters ("parameters":{}), which varlink/go's
// generated clients fail on.
type fakeManager struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeManager) reply(ctx context.Context, c *varlink.Call, m string) error {
	f.mu.Lock()
	f.calls = append(f.calls, m)
	f.mu.Unlock()
	return c.Reply(ctx, struct{}{})
}
func (f *fakeManager) Describe(ctx context.Context, c *varlink.Call) error {
	return f.reply(ctx, c, "Describe")
}
func (f *fakeManager) Reload(ctx context.Context, c *varlink.Call) error {
	return f.reply(ctx, c, "Reload")
}
func (f *fakeManager) PowerOff(ctx context.Context, c *varlink.Call) error {
	return f.reply(ctx, c, "PowerOff")
}
func (f *fakeManager) Reboot(ctx context.Context, c *varlink.Call) error {
	return f.reply(ctx, c, "Reboot")
}
func (f *fakeManager) Halt(ctx context.Context, c *varlink.Call) error {
	return f.reply(ctx, c, "Halt")
}

func TestClient(t *testing.T) {
	root := t.TempDir()
	f := &fakeManager{}
	apitest.Serve(t, filepath.Join(root, SocketPath), VarlinkNew(f))
	c := NewClient(apitest.Dial(t, SocketAddress(root)))
	ctx := context.Background()
	for _, call := range []func(context.Context) error{c.Reload, c.PowerOff, c.Reboot, c.Halt} {
		if err := call(ctx); err != nil {
			t.Error(err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := strings.Join(f.calls, " "); got != "Reload PowerOff Reboot Halt" {
		t.Errorf("calls: %s", got)
	}
}

func TestTimestampTime(t *testing.T) {
	var nilStamp *Timestamp
	if !nilStamp.Time().IsZero() || !(&Timestamp{}).Time().IsZero() {
		t.Error("unset timestamps are not the zero time")
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	if got := (&Timestamp{Realtime: at.UnixMicro(), Monotonic: 1}).Time(); !got.Equal(at) {
		t.Errorf("%v, want %v", got, at)
	}
}
