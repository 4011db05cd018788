package oomd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeClock is moved by the test.
type fakeClock struct{ now time.Duration }

func (c *fakeClock) Now() time.Duration { return c.now }

// recKiller records kills instead of signalling.
type recKiller struct {
	mu     sync.Mutex
	killed []string
}

func (k *recKiller) Kill(_ context.Context, cg string) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.killed = append(k.killed, cg)
	return 1, nil
}

func (k *recKiller) list() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.killed...)
}

// tree is a fake root: DIR/sys/fs/cgroup and DIR/proc/meminfo.
type tree struct {
	t    *testing.T
	root string
}

func newTree(t *testing.T) *tree {
	tr := &tree{t, t.TempDir()}
	tr.meminfo(8<<30, 4<<30, 0, 0)
	return tr
}

func (tr *tree) cg(p string) string { return filepath.Join(tr.root, "sys/fs/cgroup", p) }

// group makes a cgroup with its memory files.
func (tr *tree) group(p string, current, swap, pgscan uint64, avg10 string) {
	tr.t.Helper()
	d := tr.cg(p)
	if err := os.MkdirAll(d, 0o755); err != nil {
		tr.t.Fatal(err)
	}
	tr.set(p, "memory.current", fmt.Sprint(current))
	tr.set(p, "memory.swap.current", fmt.Sprint(swap))
	tr.set(p, "memory.stat", fmt.Sprintf("anon 1\npgscan %d\npgsteal 0\n", pgscan))
	tr.pressure(p, avg10)
	tr.set(p, "cgroup.procs", "")
}

func (tr *tree) pressure(p, avg10 string) {
	tr.set(p, "memory.pressure", "some avg10="+avg10+" avg60=0.00 avg300=0.00 total=10\nfull avg10="+avg10+" avg60=1.00 avg300=0.50 total=2000000\n")
}

func (tr *tree) set(p, file, content string) {
	tr.t.Helper()
	if err := os.WriteFile(filepath.Join(tr.cg(p), file), []byte(content), 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

// try writes a file if its group still exists.
func (tr *tree) try(p, file, content string) {
	os.WriteFile(filepath.Join(tr.cg(p), file), []byte(content), 0o644)
}

func (tr *tree) meminfo(memTotal, memAvail, swapTotal, swapFree uint64) {
	tr.t.Helper()
	os.MkdirAll(filepath.Join(tr.root, "proc"), 0o755)
	s := fmt.Sprintf("MemTotal: %d kB\nMemFree: 1 kB\nMemAvailable: %d kB\nSwapTotal: %d kB\nSwapFree: %d kB\n",
		memTotal/1024, memAvail/1024, swapTotal/1024, swapFree/1024)
	if err := os.WriteFile(filepath.Join(tr.root, "proc/meminfo"), []byte(s), 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

// memXAttrs is an in-memory xattr store.
type memXAttrs struct {
	mu sync.Mutex
	m  map[string]string
}

func (x *memXAttrs) Get(dir, name string) (string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	v, ok := x.m[dir+"\x00"+name]
	if !ok {
		return "", os.ErrNotExist
	}
	return v, nil
}

func (x *memXAttrs) Set(dir, name, value string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.m[dir+"\x00"+name] = value
	return nil
}

// manager makes a Manager over tr with a fake clock, a recording killer and in-memory xattrs.
func (tr *tree) manager() (*Manager, *fakeClock, *recKiller, *memXAttrs) {
	x := &memXAttrs{m: map[string]string{}}
	fs := &CGroupFS{Dir: filepath.Join(tr.root, "sys/fs/cgroup"), XAttr: x}
	c := &fakeClock{now: time.Second}
	m := NewManager(tr.root, fs, c, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	k := &recKiller{}
	m.killer = k
	return m, c, k, x
}

func i64(v int64) *int64 { return &v }

func fmtUint(v uint64) string { return fmt.Sprint(v) }
