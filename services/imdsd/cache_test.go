package imdsd

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStartRemovesStaleTemporaryFiles starts imdsd on a runtime directory in which an earlier
// process was killed while writing cache files: its temporary files go, the entries stay.
func TestStartRemovesStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	lo := filepath.Join(dir, "cache", "lo")
	if err := os.MkdirAll(lo, 0o700); err != nil {
		t.Fatal(err)
	}
	entry := fileName("http://169.254.169.254", "/hostname")
	files := map[string]string{
		filepath.Join(lo, entry):                   `{"key":"/hostname"}`,
		filepath.Join(lo, "token"):                 `{"token":"t"}`,
		filepath.Join(dir, "ifname"):               "lo\n",
		filepath.Join(lo, "."+entry+".123456"):     "{",
		filepath.Join(lo, ".token.42"):             "",
		filepath.Join(dir, ".ifname.4294967295"):   "l",
		filepath.Join(dir, "cache", ".stray.7"):    "", // imdsd writes no files in cache/ itself
		filepath.Join(dir, "cache", "eth0", "x.1"): "", // not hidden: never a temporary file
	}
	for p, content := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var logged bytes.Buffer
	newTestService(t, "", func(o *Options) {
		o.RuntimeDir = dir
		o.Log = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, strings.TrimPrefix(p, dir+"/"))
		}
		return err
	})
	want := []string{"cache/.stray.7", "cache/eth0/x.1", "cache/lo/" + entry, "cache/lo/token", "ifname"}
	slices.Sort(left)
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
	if !strings.Contains(logged.String(), "count=3") {
		t.Errorf("removal not logged with its count:\n%s", logged.String())
	}
}
