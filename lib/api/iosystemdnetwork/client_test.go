package iosystemdnetwork

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stead-os/stead/lib/api/apitest"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

// fakeNetwork describes two links and records the link actions.
type fakeNetwork struct {
	mu      sync.Mutex
	actions []string
}

func (f *fakeNetwork) record(a string) {
	f.mu.Lock()
	f.actions = append(f.actions, a)
	f.mu.Unlock()
}

func (f *fakeNetwork) Describe(ctx context.Context, c *varlink.Call) error {
	return c.Reply(ctx, DescribeReply{Interfaces: []Interface{{Index: 2, Name: "c0"}, {Index: 1, Name: "lo"}}})
}
func (f *fakeNetwork) GetStates(ctx context.Context, c *varlink.Call) error {
	return c.Reply(ctx, States{OperationalState: "routable", OnlineState: "online"})
}
func (f *fakeNetwork) GetNamespaceId(ctx context.Context, c *varlink.Call) error {
	return c.Reply(ctx, NamespaceID{})
}
func (f *fakeNetwork) GetLLDPNeighbors(ctx context.Context, c *varlink.Call, _ Selector) error {
	return c.Reply(ctx, struct{}{})
}
func (f *fakeNetwork) Reload(ctx context.Context, c *varlink.Call, _ *bool) error {
	f.record("Reload")
	return c.Reply(ctx, struct{}{})
}
func (f *fakeNetwork) SetPersistentStorage(ctx context.Context, c *varlink.Call, _ bool) error {
	return c.Reply(ctx, struct{}{})
}
func (f *fakeNetwork) LinkDescribe(ctx context.Context, c *varlink.Call, _ Selector) error {
	return c.Reply(ctx, struct{}{})
}
func (f *fakeNetwork) LinkAction(ctx context.Context, c *varlink.Call, method string, sel Selector) error {
	if sel.InterfaceName == nil || *sel.InterfaceName != "c0" {
		return varlinkd.ReplyError(ctx, *c, ErrorInterfaceUnmanaged, nil)
	}
	f.record(method + " " + *sel.InterfaceName)
	return c.Reply(ctx, struct{}{})
}

func TestClient(t *testing.T) {
	root := t.TempDir()
	f := &fakeNetwork{}
	d, ld := VarlinkNew(f)
	apitest.Serve(t, filepath.Join(root, SocketPath), d, ld)
	c := NewClient(apitest.Dial(t, SocketAddress(root)))
	ctx := context.Background()

	r, err := c.Describe(ctx)
	if err != nil || len(r.Interfaces) != 2 || r.Interfaces[0].Name != "c0" {
		t.Errorf("Describe: %+v %v", r, err)
	}
	if st, err := c.GetStates(ctx); err != nil || st.OnlineState != "online" {
		t.Errorf("GetStates: %+v %v", st, err)
	}
	for _, call := range []func(context.Context, Selector) error{c.Up, c.Down, c.Renew, c.Reconfigure} {
		if err := call(ctx, ByName("c0")); err != nil {
			t.Error(err)
		}
	}
	if err := c.Reload(ctx); err != nil {
		t.Error(err)
	}
	if err := c.Renew(ctx, ByName("lo")); varlinkd.ErrorName(err) != ErrorInterfaceUnmanaged {
		t.Errorf("Renew lo: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got, want := strings.Join(f.actions, ", "), "Up c0, Down c0, Renew c0, Reconfigure c0, Reload"; got != want {
		t.Errorf("actions %s, want %s", got, want)
	}
}
