package oomd

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/api/apitest"
	"github.com/stead-os/stead/lib/api/iosystemdmanagedoom"
	"github.com/stead-os/stead/lib/varlinkd"
)

// refusingManager answers every subscription with PermissionDenied, as a service manager
// does for a client it does not accept.
type refusingManager struct {
	mu    sync.Mutex
	calls int
}

func (r *refusingManager) SubscribeManagedOOMCGroups(ctx context.Context, c iosystemdmanagedoom.VarlinkCall) error {
	r.mu.Lock()
	r.calls++
	r.mu.Unlock()
	return varlinkd.ReplyPermissionDenied(ctx, c.Call)
}

func (r *refusingManager) n() int { r.mu.Lock(); defer r.mu.Unlock(); return r.calls }

// syncBuf is a log sink safe for the subscriber's goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestSubscribeRefusedIsWarnedOnce: found in the VM, where oomd ran as User=systemd-oom and
// the service manager refused it: the refusal is logged as a warning (once, not on every
// retry), not only at debug level. Under -race it also checks that each attempt closes its
// connection once (a goroutine per attempt used to close it again when ctx ended).
func TestSubscribeRefusedIsWarnedOnce(t *testing.T) {
	root := t.TempDir()
	fake := &refusingManager{}
	apitest.Serve(t, filepath.Join(root, ManagedOOMSocket), iosystemdmanagedoom.VarlinkNew(fake))
	var log syncBuf
	m := NewManager(root, nil, nil, slog.New(slog.NewTextHandler(&log, nil)), false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.subscribe(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for fake.n() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if fake.n() < 3 {
		t.Fatalf("%d subscription attempts, want retries", fake.n())
	}
	out := log.String()
	if c := strings.Count(out, "level=WARN msg=\"the service manager refused the ManagedOOM subscription, retrying\""); c != 1 ||
		!strings.Contains(out, "error=org.varlink.service.PermissionDenied") {
		t.Errorf("want one warning naming PermissionDenied after %d attempts, log:\n%s", fake.n(), out)
	}
}
