package networkd

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stead-os/stead/services/networkd/dhcpclient"
)

// A networkd killed while writing leaves temporary files beside its state, leases and
// records; the next one removes them and nothing else.
func TestRemoveStaleTemps(t *testing.T) {
	root := t.TempDir()
	var stale, kept []string
	for _, d := range []string{"run/systemd/netif", "run/systemd/netif/links", dhcpclient.LeaseDir, RecordDir} {
		dir := filepath.Join(root, d)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stale = append(stale, filepath.Join(dir, ".3.123456"))
		kept = append(kept, filepath.Join(dir, "3"))
	}
	for _, p := range append(append([]string(nil), stale...), kept...) {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removeStaleTemps(root, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, p := range stale {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}
