package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/vm/internal/agentproto"
)

func TestHandle(t *testing.T) {
	a := &agent{w: &bytes.Buffer{}, running: map[uint64]context.CancelFunc{}}
	r := a.handle(&agentproto.Request{ID: 7, Op: agentproto.OpRun, Argv: []string{"sh", "-c", "cat; echo $X >&2; exit 4"}, Stdin: []byte("in"), Env: []string{"X=y"}})
	if r.ID != 7 || r.Error != "" || r.ExitCode != 4 || string(r.Stdout) != "in" || string(r.Stderr) != "y\n" {
		t.Errorf("run: %+v", r)
	}
	r = a.handle(&agentproto.Request{Op: agentproto.OpRun, Argv: []string{"sleep", "10"}, TimeoutMs: 100})
	if !r.TimedOut || r.Signal != "SIGKILL" || r.ExitCode != -1 {
		t.Errorf("timeout: %+v", r)
	}
	r = a.handle(&agentproto.Request{Op: agentproto.OpRun, Argv: []string{"/no/such"}})
	if r.Error == "" {
		t.Errorf("missing binary: %+v", r)
	}
	p := filepath.Join(t.TempDir(), "a/b")
	r = a.handle(&agentproto.Request{Op: agentproto.OpPut, Path: p, Data: []byte("x"), Mode: 0o600})
	if r.Error != "" {
		t.Fatal(r.Error)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("put: %v %v", st, err)
	}
	r = a.handle(&agentproto.Request{Op: agentproto.OpGet, Path: p})
	if r.Error != "" || string(r.Data) != "x" {
		t.Errorf("get: %+v", r)
	}
	if r = a.handle(&agentproto.Request{Op: agentproto.OpPut, Path: "rel"}); r.Error == "" {
		t.Error("relative put accepted")
	}
	if r = a.handle(&agentproto.Request{Op: "bogus"}); r.Error == "" {
		t.Error("unknown op accepted")
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("stop") }

// TestServe feeds a stream with junk, a blank line, a ping and a bad request, and checks the
// responses.
func TestServe(t *testing.T) {
	var out bytes.Buffer
	a := &agent{w: &out, running: map[uint64]context.CancelFunc{}}
	in := "garbage\n{\"id\":1,\"op\":\"ping\"}\n\n{\"id\":2,\"op\":\"bogus\"}\n"
	if err := a.serve(io.MultiReader(strings.NewReader(in), failReader{})); err == nil || err.Error() != "stop" {
		t.Fatalf("serve: %v", err)
	}
	var lines []string
	harness.Poll(5*time.Second, func() bool { // the bad request is answered asynchronously
		a.wmu.Lock()
		lines = strings.Split(strings.TrimSpace(out.String()), "\n")
		a.wmu.Unlock()
		return len(lines) == 2
	})
	if len(lines) != 2 {
		t.Fatalf("responses: %q", lines)
	}
	var r agentproto.Response
	json.Unmarshal([]byte(lines[0]), &r)
	if r.ID != 1 || r.PID == 0 {
		t.Errorf("ping: %s", lines[0])
	}
	json.Unmarshal([]byte(lines[1]), &r)
	if r.ID != 2 || !strings.Contains(r.Error, "unknown operation") {
		t.Errorf("bogus: %s", lines[1])
	}
}
