package iosystemdpcrextend

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stead-os/stead/lib/api/apitest"
)

type fakePCR struct {
	mu                   sync.Mutex
	pcr, text, eventType string
}

func (f *fakePCR) Extend(ctx context.Context, c VarlinkCall, pcr *int64, _ *string, text *string, _ *string, _ *string, et *EventType) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pcr != nil && text != nil && et != nil {
		f.pcr, f.text, f.eventType = "set", *text, string(*et)
	}
	return c.ReplyExtend(ctx) // an empty reply, which varlink/go's generated client fails on
}

func TestClientExtend(t *testing.T) {
	root := t.TempDir()
	f := &fakePCR{}
	apitest.Serve(t, filepath.Join(root, SocketPath), VarlinkNew(f))
	pcr, text, et := int64(12), "imds-userdata:x", EventType("imds_userdata")
	err := NewClient(apitest.Dial(t, SocketAddress(root))).Extend(context.Background(), ExtendParameters{PCR: &pcr, Text: &text, EventType: &et})
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil || f.pcr != "set" || f.text != text || f.eventType != "imds_userdata" {
		t.Errorf("Extend: %v %q %q %q", err, f.pcr, f.text, f.eventType)
	}
}
