//go:build integration

package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

// TestInitFDStore runs stead-testsvc's fdstore mode under a host-mode init: a memfd stored
// with FDSTORE=1 comes back after a restart with its name and its data; steadctl
// list-fdstore shows it; FDSTOREREMOVE=1 removes it; FileDescriptorStoreMax= caps the store
// (0: nothing is kept); FileDescriptorStorePreserve= decides what a stop releases (restart,
// the default: a plain stop; no: any stop; yes: nothing, until steadctl clean
// --what=fdstore, refused while the unit runs).
func TestInitFDStore(t *testing.T) {
	svc := harness.Binary(t, "integration/cmd/stead-testsvc")
	out := t.TempDir()
	unitText := func(name, settings, args string) string {
		return fmt.Sprintf("[Service]\nType=notify\n%s\nExecStart=%s fdstore -report %s %s\n", settings, svc, filepath.Join(out, name), args)
	}
	e := newCtlEnv(t, map[string]string{
		"default.target": "[Unit]\n",
		"keep.service":   unitText("keep", "FileDescriptorStoreMax=4", "-name blob -data hello"),
		"rm.service":     unitText("rm", "FileDescriptorStoreMax=4", "-name gone -data x -remove"),
		"max.service":    unitText("max", "FileDescriptorStoreMax=2", "-name m -data y -count 3"),
		"zero.service":   unitText("zero", "", "-name z -data z"),
		"no.service":     unitText("no", "FileDescriptorStoreMax=4\nFileDescriptorStorePreserve=no", "-name p -data p"),
		"yes.service":    unitText("yes", "FileDescriptorStoreMax=4\nFileDescriptorStorePreserve=yes", "-name kept -data still"),
	})
	// report waits for the n-th start's line of a unit's report.
	report := func(unit string, n int) string {
		t.Helper()
		return gapsWaitLines(t, e, filepath.Join(out, unit), n)[n-1]
	}
	// stored is list-fdstore's FDNAME column, without the header and legend.
	stored := func(unit string) string {
		t.Helper()
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(e.must(0, "list-fdstore", "--no-legend", unit)), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				names = append(names, f[0])
			}
		}
		return strings.Join(names, ":")
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}

	// Restart hands the fd back, named, with its data.
	e.must(0, "start", "keep")
	check("keep, first start", report("keep", 1), "fds=0 names= data=")
	list := e.must(0, "list-fdstore", "keep")
	if !containsFields(list, "FDNAME", "TYPE", "DEVNO", "INODE", "RDEVNO", "PATH", "FLAGS") ||
		!strings.Contains(list, "blob") || !strings.Contains(list, "/memfd:blob") || !strings.Contains(list, "1 file descriptors listed.") {
		t.Errorf("list-fdstore keep:\n%s", list)
	}
	check("keep, NFileDescriptorStore", e.prop("keep.service", "NFileDescriptorStore"), "1")
	e.must(0, "restart", "keep")
	check("keep, after restart", report("keep", 2), "fds=1 names=blob data=hello")
	check("keep, stored after restart", stored("keep"), "blob")
	// FileDescriptorStorePreserve=restart (the default): a stop releases it.
	e.must(0, "stop", "keep")
	check("keep, stored after stop", stored("keep"), "")

	// FDSTOREREMOVE=1.
	e.must(0, "start", "rm")
	check("rm, stored", stored("rm"), "gone")
	e.must(0, "restart", "rm")
	check("rm, second start", report("rm", 2), "fds=1 names=gone data=x")
	check("rm, stored after FDSTOREREMOVE=1", stored("rm"), "")
	e.must(0, "restart", "rm")
	check("rm, third start", report("rm", 3), "fds=0 names= data=")

	// FileDescriptorStoreMax=.
	e.must(0, "start", "max")
	check("max, stored", stored("max"), "m:m")
	e.must(0, "restart", "max")
	check("max, second start", report("max", 2), "fds=2 names=m:m data=y,y")
	e.must(0, "start", "zero")
	check("zero, stored", stored("zero"), "")
	for _, msg := range []string{"fd store full", "FileDescriptorStoreMax=0"} {
		if !strings.Contains(e.log.String(), msg) {
			t.Errorf("no %q in the log", msg)
		}
	}

	// FileDescriptorStorePreserve=no: a stop, or a restart, drops it.
	e.must(0, "start", "no")
	check("no, stored", stored("no"), "p")
	e.must(0, "restart", "no")
	check("no, after restart", report("no", 2), "fds=0 names= data=")
	e.must(0, "stop", "no")
	check("no, stored after stop", stored("no"), "")

	// FileDescriptorStorePreserve=yes: kept while stopped, until cleaned.
	e.must(0, "start", "yes")
	if _, errOut, code := e.steadctl("clean", "--what=fdstore", "yes"); code != 1 || !strings.Contains(errOut, "is active") {
		t.Errorf("clean of an active unit: exit %d, %q", code, errOut)
	}
	e.must(0, "stop", "yes")
	check("yes, stored while stopped", stored("yes"), "kept")
	e.must(0, "start", "yes")
	check("yes, second start", report("yes", 2), "fds=1 names=kept data=still")
	e.must(0, "stop", "yes")
	e.must(0, "clean", "--what=fdstore", "yes")
	check("yes, stored after clean", stored("yes"), "")
	e.must(0, "start", "yes")
	check("yes, after clean", report("yes", 3), "fds=0 names= data=")
}
