package loop

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAttachPartitionDetach attaches an image, adds a partition by hand (BLKPG), reads the
// image's bytes through it, and detaches: the device forgets the file.
func TestAttachPartitionDetach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop devices need root")
	}
	img := filepath.Join(t.TempDir(), "img")
	data := make([]byte, 4<<20)
	copy(data[1<<20:], "partition content")
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Attach(img, false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Detach()
	backing := "/sys/block/" + filepath.Base(d.Path) + "/loop/backing_file"
	if b, _ := os.ReadFile(backing); strings.TrimSpace(string(b)) != img {
		t.Fatalf("%s: backing file %q, want %s", d.Path, b, img)
	}
	if err := d.AddPartition(1, 1<<20, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := d.AddPartition(1, 1<<20, 1<<20); err != nil {
		t.Fatalf("adding a known partition again: %v", err)
	}
	p, err := d.WaitPartition(1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 17)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	f.ReadAt(got, 0)
	f.Close()
	if !bytes.Equal(got, []byte("partition content")) {
		t.Fatalf("%s starts with %q", p, got)
	}
	if err := d.Detach(); err != nil {
		t.Fatal(err)
	}
	if err := d.Detach(); err != nil {
		t.Fatalf("second Detach: %v", err)
	}
	if b, err := os.ReadFile(backing); err == nil && strings.TrimSpace(string(b)) == img {
		t.Fatalf("%s still backed by %s after Detach", d.Path, img)
	}
}
