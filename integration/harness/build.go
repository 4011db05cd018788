// Package harness builds stead's real binaries, runs them as daemons and finds the upstream
// systemd tools for the integration tests, which drive the binaries from outside through
// their sockets. It also has what every such test needs around that: waiting for a condition
// (Eventually, Poll) or for a daemon's READY=1 on a NOTIFY_SOCKET of its own (WaitReady,
// Notifications), writing files (WriteFile), and stopping a test whose prerequisite is
// missing — a skip, or a failure naming the Debian package under CI (Require).
package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	buildMu  sync.Mutex
	built    = map[string]string{}
	buildDir string
)

// RepoRoot is the checkout's top directory, found from this source file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// Binary builds the main package at pkg (relative to the repository, e.g.
// "integration/cmd/stead-varlink-example") statically, once per test process, and returns
// the binary's path.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "stead-bin-")
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o755)
		buildDir = d
	}
	out := filepath.Join(buildDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./"+pkg)
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}

// Cleanup removes the binaries; call it from TestMain after m.Run.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}
