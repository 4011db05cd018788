package atomicfile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, content := range []string{"one", "two"} {
		if err := Write(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Fatalf("content %q, want %q", b, content)
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if err := Write(filepath.Join(dir, "missing", "f"), nil, 0o644); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestWriteNew(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if created, err := WriteNew(p, []byte("first"), 0o400); !created || err != nil {
		t.Fatalf("first WriteNew: %v %v", created, err)
	}
	if created, err := WriteNew(p, []byte("second"), 0o400); created || err != nil {
		t.Fatalf("second WriteNew: %v %v", created, err)
	}
	if b, _ := os.ReadFile(p); string(b) != "first" {
		t.Errorf("existing file replaced: %q", b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o400 {
		t.Errorf("mode %v", fi.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestIsTemp(t *testing.T) {
	for name, want := range map[string]bool{
		".key-0a1b.123456":           true,
		".85-imds-early.network.7":   true,
		".f.4294967295":              true,
		"key-0a1b":                   false, // a real entry
		"token":                      false,
		".hidden":                    false,
		".key-0a1b.":                 false,
		"..123":                      false, // no NAME
		".key-0a1b.12x":              false,
		"f.123":                      false, // not hidden
		".key-0a1b.123456.json.bak":  false,
		".key-0a1b.123456/other.txt": false,
	} {
		if got := IsTemp(name); got != want {
			t.Errorf("IsTemp(%q) = %v, want %v", name, got, want)
		}
	}
	// The names temp really makes, which depend on os.CreateTemp's choice of digits.
	dir := t.TempDir()
	for range 20 {
		name, err := temp(filepath.Join(dir, "key-0a1b"), nil, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if !IsTemp(filepath.Base(name)) {
			t.Fatalf("temporary file %q not recognised", name)
		}
	}
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	keep := []string{"key-0a1b", "token", ".hidden", ".dir.12"}
	for _, n := range []string{"key-0a1b", "token", ".hidden", ".key-0a1b.123456", ".token.9"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".dir.12"), 0o700); err != nil {
		t.Fatal(err)
	}
	n, err := RemoveStale(dir)
	if n != 2 || err != nil {
		t.Errorf("RemoveStale = %d, %v; want 2, nil", n, err)
	}
	var left []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	slices.Sort(keep)
	if !slices.Equal(left, keep) {
		t.Errorf("left %q, want %q", left, keep)
	}
	if n, err := RemoveStale(filepath.Join(dir, "missing")); n != 0 || err != nil {
		t.Errorf("missing directory: %d, %v", n, err)
	}
}
