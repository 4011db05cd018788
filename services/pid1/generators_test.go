package pid1

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/unit"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeGenerator(t *testing.T, root, p, script string) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestFindGeneratorsOrderAndMasking: the first directory holding a name wins;
// a /dev/null symlink or an empty file there masks the name; files that are
// not executable are skipped.
func TestFindGeneratorsOrderAndMasking(t *testing.T) {
	root := t.TempDir()
	run, etc, local, usr := GeneratorDirs[0], GeneratorDirs[1], GeneratorDirs[2], GeneratorDirs[3]
	writeGenerator(t, root, usr+"/a", "")
	writeGenerator(t, root, etc+"/a", "") // /etc hides /usr
	writeGenerator(t, root, run+"/b", "") // /run hides /etc
	writeGenerator(t, root, etc+"/b", "")
	writeGenerator(t, root, usr+"/c", "") // masked in /etc by a /dev/null symlink
	writeGenerator(t, root, usr+"/d", "") // masked in /usr/local by an empty file
	writeGenerator(t, root, local+"/e", "")
	writeGenerator(t, root, usr+"/f", "")
	if err := os.Chmod(filepath.Join(root, usr, "f"), 0o644); err != nil { // not executable
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(root, etc, "c")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, local, "d"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	got := findGenerators(root, GeneratorDirs)
	want := []string{etc + "/a", run + "/b", local + "/e"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("generators %q, want %q", got, want)
	}
}

// TestRunGenerators: the output directories are emptied, every generator
// gets their host paths and the SYSTEMD_* environment, a failing one is
// logged with its status and output, a hanging one is killed at the
// timeout, and the others' output is used.
func TestRunGenerators(t *testing.T) {
	root := t.TempDir()
	var logBuf syncBuffer
	m, err := New(Config{Root: root, Host: true, ShimArgv: []string{"/bin/false"},
		Logger: slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	old := GeneratorTimeout
	GeneratorTimeout = 2 * time.Second
	defer func() { GeneratorTimeout = old }()

	stale := filepath.Join(root, unit.GeneratorNormalDir, "stale.service")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("[Service]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeGenerator(t, root, "/etc/systemd/system-generators/good", `echo "$@" > "$1/args"
env | grep '^SYSTEMD_' | sort > "$1/env"
printf '[Unit]\nDescription=generated\n' > "$2/gen.target"
`)
	writeGenerator(t, root, "/usr/lib/systemd/system-generators/bad", "echo something broke >&2; exit 3\n")
	writeGenerator(t, root, "/usr/lib/systemd/system-generators/slow", "exec sleep 60\n")
	start := time.Now()
	m.runGenerators()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("generators took %v with a 2 s timeout", d)
	}

	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale generator output kept: %v", err)
	}
	normal, early, late := filepath.Join(root, unit.GeneratorNormalDir), filepath.Join(root, unit.GeneratorEarlyDir), filepath.Join(root, unit.GeneratorLateDir)
	args, err := os.ReadFile(filepath.Join(normal, "args"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(args)), normal+" "+early+" "+late; got != want {
		t.Errorf("arguments %q, want %q", got, want)
	}
	env, _ := os.ReadFile(filepath.Join(normal, "env"))
	for _, want := range []string{"SYSTEMD_SCOPE=system\n", "SYSTEMD_IN_INITRD=0\n"} {
		if !strings.Contains(string(env), want) {
			t.Errorf("environment %q lacks %q", env, want)
		}
	}
	if u, err := unit.Load(root, "gen.target", nil); err != nil || u.Unit.Description != "generated" {
		t.Errorf("generated unit: %v %+v", err, u)
	}
	logs := logBuf.String()
	if !strings.Contains(logs, `msg="generator failed" generator=/usr/lib/systemd/system-generators/bad status=3 output="something broke"`) {
		t.Errorf("failure not logged with status and output:\n%s", logs)
	}
	if !strings.Contains(logs, `msg="generator timed out and was killed" generator=/usr/lib/systemd/system-generators/slow`) {
		t.Errorf("timeout not logged:\n%s", logs)
	}
}
