package harness

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Upstream is a root file system holding the real upstream systemd (Debian's 262 packages),
// prepared by integration/upstream-root. Its programs run with chroot.
type Upstream struct {
	Dir string
}

var (
	upstreamOnce sync.Once
	upstream     *Upstream
	upstreamWhy  string
	upstreamPkgs []string
)

// NeedUpstream returns the upstream root, preparing it on first use, or stops the test with
// the reason (harness.Require: a failure under CI, else a skip) when it cannot be had (no
// registry, not root).
func NeedUpstream(t testing.TB) *Upstream {
	t.Helper()
	upstreamOnce.Do(func() {
		if os.Getuid() != 0 {
			upstreamWhy = "the upstream systemd root needs root (chroot)"
			return
		}
		cmd := exec.Command(filepath.Join(RepoRoot(), "integration", "upstream-root"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			upstreamWhy = "upstream systemd 262 unavailable (integration/upstream-root: " +
				strings.TrimSpace(stderr.String()) + ")"
			upstreamPkgs = []string{"debootstrap"}
			return
		}
		upstream = &Upstream{Dir: strings.TrimSpace(string(out))}
	})
	if upstream == nil {
		Require(t, upstreamWhy, upstreamPkgs...)
	}
	return upstream
}

// Stage makes a private directory inside the upstream root, removed when t ends. It returns
// the directory's host path and its path as seen from inside the chroot.
func (u *Upstream) Stage(t testing.TB) (host, inside string) {
	t.Helper()
	host, err := os.MkdirTemp(filepath.Join(u.Dir, "tmp"), "stead-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(host) })
	return host, strings.TrimPrefix(host, u.Dir)
}

// Command prepares an upstream program to run inside the root.
func (u *Upstream) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("chroot", append([]string{u.Dir, name}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=cat", "LANG=C.UTF-8"}
	return cmd
}

// Run runs an upstream program and returns its stdout, stderr and exit code.
func (u *Upstream) Run(t testing.TB, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return Run(t, u.Command(name, args...))
}

// CopyIn copies a host file (a static binary of ours) into dir with mode 0755.
func CopyIn(t testing.TB, src, dir string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}
