package hwdb

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadMaskingAndOrder replays a tree that was also given to systemd-hwdb 262 with
// --root; the expected query results are what "systemd-hwdb query" printed.
func TestLoadMaskingAndOrder(t *testing.T) {
	root := t.TempDir()
	etc := filepath.Join(root, "etc/udev/hwdb.d")
	usr := filepath.Join(root, "usr/lib/udev/hwdb.d")
	writeFile(t, filepath.Join(usr, "10-a.hwdb"), "k:*\n K1=usr-a-generic\n K2=usr-a-generic\n\nk:abc\n K1=usr-a-exact\n\n")
	// A later file wins even with a less specific pattern (K3), and an earlier line loses to a
	// later one in the same file.
	writeFile(t, filepath.Join(usr, "20-b.hwdb"), "k:a*\n K2=usr-b-glob\n K3=usr-b\n\nk:*\n K3=usr-b-generic-later\n\n")
	writeFile(t, filepath.Join(usr, "30-m.hwdb"), "k:*\n K4=usr-masked\n\n")
	writeFile(t, filepath.Join(etc, "30-m.hwdb"), "k:*\n K4=etc-m\n\n")
	writeFile(t, filepath.Join(etc, "05-e.hwdb"), "k:*\n K5=etc-early\n\n")
	writeFile(t, filepath.Join(usr, "40-c.hwdb"), " K6=orphan\n\nk:*\n\nk:*\nk:abc\n K7=multi\n NOEQ\n =empty\n K8=x\nk:after\n K9=lost\n\nk:*\n K10=a\r\n K11=b\n")
	writeFile(t, filepath.Join(usr, "50-d.hwdb"), "k:*\n K12=noeol")
	if err := os.Symlink("/dev/null", filepath.Join(usr, "60-null.hwdb")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(usr, ".hidden.hwdb"), "k:*\n K13=hidden\n\n")
	writeFile(t, filepath.Join(usr, "70.hwdb.bak"), "k:*\n K14=notsuffix\n\n")
	if err := os.Mkdir(filepath.Join(usr, "80-dir.hwdb"), 0o755); err != nil { // skipped
		t.Fatal(err)
	}

	db, errs := Load(root)
	var lines []string
	for _, err := range errs {
		lines = append(lines, strings.TrimPrefix(err.Error(), root))
	}
	wantErrs := []string{
		"/usr/lib/udev/hwdb.d/40-c.hwdb:1:", "/usr/lib/udev/hwdb.d/40-c.hwdb:4:",
		"/usr/lib/udev/hwdb.d/40-c.hwdb:8:", "/usr/lib/udev/hwdb.d/40-c.hwdb:9:",
		"/usr/lib/udev/hwdb.d/40-c.hwdb:11:", "/usr/lib/udev/hwdb.d/40-c.hwdb:12:",
	}
	if len(lines) != len(wantErrs) {
		t.Fatalf("errors:\n%s", strings.Join(lines, "\n"))
	}
	for i, w := range wantErrs {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d = %q, want prefix %q", i, lines[i], w)
		}
	}

	wantFiles := []string{"etc/udev/hwdb.d/05-e.hwdb", "usr/lib/udev/hwdb.d/10-a.hwdb",
		"usr/lib/udev/hwdb.d/20-b.hwdb", "etc/udev/hwdb.d/30-m.hwdb",
		"usr/lib/udev/hwdb.d/40-c.hwdb", "usr/lib/udev/hwdb.d/50-d.hwdb"}
	for i := range wantFiles {
		wantFiles[i] = filepath.Join(root, wantFiles[i])
	}
	if got := db.Files(); !reflect.DeepEqual(got, wantFiles) {
		t.Errorf("files %v, want %v", got, wantFiles)
	}

	for query, want := range map[string]map[string]string{
		"k:abc": {"K1": "usr-a-exact", "K2": "usr-b-glob", "K3": "usr-b-generic-later",
			"K4": "etc-m", "K5": "etc-early", "K7": "multi", "K8": "x", "K10": "a",
			"K11": "b", "K12": "noeol"},
		"k:zzz": {"K1": "usr-a-generic", "K2": "usr-a-generic", "K3": "usr-b-generic-later",
			"K4": "etc-m", "K5": "etc-early", "K7": "multi", "K8": "x", "K10": "a",
			"K11": "b", "K12": "noeol"},
		"x:nothing": nil,
	} {
		if got := db.Query(query); !reflect.DeepEqual(got, want) {
			t.Errorf("Query(%q) = %v, want %v", query, got, want)
		}
	}
}

func TestLoadExtraDirs(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "usr/lib/udev/hwdb.d/40-imds.hwdb"), "dmi:*\n IMDS_VENDOR=from-udev\n\n")
	writeFile(t, filepath.Join(root, "usr/lib/stead/hwdb.d/40-imds.hwdb"), "dmi:*\n IMDS_VENDOR=ours\n\n")
	writeFile(t, filepath.Join(root, "usr/lib/stead/hwdb.d/41-more.hwdb"), "dmi:*\n MORE=1\n\n")
	writeFile(t, filepath.Join(root, "etc/udev/hwdb.d/39-early.hwdb"), "dmi:*\n IMDS_VENDOR=early\n EARLY=1\n\n")

	db, errs := Load(root, "/usr/lib/stead/hwdb.d", "/nonexistent")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	want := map[string]string{"IMDS_VENDOR": "from-udev", "MORE": "1", "EARLY": "1"}
	if got := db.Query("dmi:x:"); !reflect.DeepEqual(got, want) {
		t.Errorf("Query = %v, want %v", got, want)
	}

	// The same directories given directly: the stead copy of 40-imds.hwdb now comes first.
	db, errs = LoadDirs(filepath.Join(root, "usr/lib/stead/hwdb.d"), filepath.Join(root, "usr/lib/udev/hwdb.d"))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if got := db.Query("dmi:x:")["IMDS_VENDOR"]; got != "ours" {
		t.Errorf("IMDS_VENDOR = %q, want ours", got)
	}
}

func TestLoadMissingRoot(t *testing.T) {
	db, errs := Load(filepath.Join(t.TempDir(), "nothing"))
	if len(errs) != 0 || len(db.Files()) != 0 || db.Query("dmi:x:") != nil {
		t.Errorf("files %v, errors %v", db.Files(), errs)
	}
}

func TestLoadAbsoluteSymlinkStaysUnderRoot(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "srv/real.hwdb"), "k:*\n K=under-root\n\n")
	dir := filepath.Join(root, "etc/udev/hwdb.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/srv/real.hwdb", filepath.Join(dir, "10-link.hwdb")); err != nil {
		t.Fatal(err)
	}
	db, errs := Load(root)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if got := db.Query("k:1")["K"]; got != "under-root" {
		t.Errorf("K = %q", got)
	}
}

func TestQueryEntryMatchedByTwoPatterns(t *testing.T) {
	entries, _ := ParseFile(strings.NewReader("k:a*\nk:*b\n K=1\n\nk:*\n K=2\n\nk:ab\n L=1\n"), "t.hwdb")
	db := New(entries)
	// "k:ab" matches both patterns of the first record; it still counts once, in its place.
	want := map[string]string{"K": "2", "L": "1"}
	if got := db.Query("k:ab"); !reflect.DeepEqual(got, want) {
		t.Errorf("Query = %v, want %v", got, want)
	}
}
