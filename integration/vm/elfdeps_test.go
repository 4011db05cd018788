package vm

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

// TestDynamicFilesResolveIn: a fake root with merged-usr style symlinks
// (/lib → usr/lib, an absolute symlink inside the root) resolves inside the root, never on
// the host.
func TestDynamicFilesResolveIn(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/lib/x"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/lib/x/real"), []byte("x"), 0o644))
	must(os.Symlink("usr/lib", filepath.Join(root, "lib")))
	must(os.Symlink("/lib/x/real", filepath.Join(root, "usr/lib/x/abs")))
	must(os.Symlink("../x/real", filepath.Join(root, "usr/lib/x/rel")))
	for _, p := range []string{"/lib/x/real", "/lib/x/abs", "/usr/lib/x/rel", "lib/../lib/x/abs"} {
		got, err := resolveIn(root, p)
		if err != nil || got != filepath.Join(root, "usr/lib/x/real") {
			t.Errorf("resolveIn(%q) = %q, %v", p, got, err)
		}
	}
	if _, err := resolveIn(root, "/lib/x"); err == nil {
		t.Error("a directory resolved as a file")
	}
	must(os.Symlink("/etc/passwd", filepath.Join(root, "usr/lib/x/host")))
	if _, err := resolveIn(root, "/usr/lib/x/host"); err == nil {
		t.Error("an absolute symlink resolved on the host")
	}
}

// TestDynamicFilesHost: the host's own dynamic ls (when it is one) needs libc and
// the loader at its PT_INTERP path.
func TestDynamicFilesHost(t *testing.T) {
	prog := "/usr/bin/ls"
	if err := checkStatic(prog); err == nil || !strings.Contains(err.Error(), "dynamically") {
		t.Skipf("%s is not a dynamic executable here (%v)", prog, err)
	}
	files, err := DynamicFiles("/", prog)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	all := strings.Join(names, " ")
	for _, want := range []string{prog, "/libc.so.6", "ld-linux-x86-64.so.2"} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %s in %s", want, all)
		}
	}
}

// TestDynamicFilesUpstreamVarlinkctl: upstream's varlinkctl from the upstream systemd root
// (when it has been prepared; integration/upstream-root) needs libsystemd-shared from its
// RUNPATH directory, libc and the loader; systemd's manager also gets libsystemd-shared,
// which only the program's RUNPATH names, for libsystemd-core.
func TestDynamicFilesUpstreamVarlinkctl(t *testing.T) {
	root := os.Getenv("STEAD_UPSTREAM_ROOT")
	if root == "" {
		root = "/var/cache/stead/upstream-root"
	}
	if _, err := os.Stat(filepath.Join(root, ".stead-upstream-ready")); err != nil {
		harness.Require(t, "no upstream root prepared at "+root+" (integration/upstream-root)", "debootstrap")
	}
	files, err := DynamicFiles(root, "/usr/bin/varlinkctl", "/usr/lib/systemd/systemd")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"/usr/bin/varlinkctl", "/usr/lib/systemd/systemd", "/lib64/ld-linux-x86-64.so.2",
		"/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-262.so",
		"/usr/lib/x86_64-linux-gnu/systemd/libsystemd-core-262.so",
		"/usr/lib/x86_64-linux-gnu/libc.so.6",
	} {
		f, ok := files[want]
		if !ok {
			t.Errorf("missing %s", want)
			continue
		}
		if !strings.HasPrefix(f.Source, root+"/") {
			t.Errorf("%s comes from %s, outside the root", want, f.Source)
		}
	}
}
