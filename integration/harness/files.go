package harness

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile writes content to path with exactly mode (also when the file existed, and
// whatever the umask), creating the missing parent directories with mode 0755; the test fails
// at once on error.
func WriteFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
