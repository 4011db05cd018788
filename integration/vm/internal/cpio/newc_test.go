package cpio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

type entry struct {
	name       string
	mode       uint32
	nlink      uint32
	rmaj, rmin uint32
	data       string
}

// readAll parses a newc archive independently of the writer.
func readAll(t *testing.T, b []byte) []entry {
	t.Helper()
	var out []entry
	off := 0
	field := func(i int) uint32 {
		s := string(b[off+6+8*i : off+6+8*i+8])
		v, err := strconv.ParseUint(s, 16, 32)
		if err != nil {
			t.Fatalf("field %d at %d: %q", i, off, s)
		}
		return uint32(v)
	}
	for {
		if off%4 != 0 {
			t.Fatalf("header at unaligned offset %d", off)
		}
		if string(b[off:off+6]) != "070701" {
			t.Fatalf("bad magic at %d: %q", off, b[off:off+6])
		}
		mode, nlink, size, rmaj, rmin, namesize, check := field(1), field(4), field(6), field(9), field(10), field(11), field(12)
		if check != 0 {
			t.Fatalf("check field %d", check)
		}
		name := string(b[off+headerSize : off+headerSize+int(namesize)-1])
		if b[off+headerSize+int(namesize)-1] != 0 {
			t.Fatalf("%s: name not NUL-terminated", name)
		}
		off += headerSize + int(namesize)
		off += pad4(int64(off))
		data := string(b[off : off+int(size)])
		off += int(size)
		off += pad4(int64(off))
		if name == trailer {
			if off != len(b) {
				t.Fatalf("%d bytes after trailer", len(b)-off)
			}
			return out
		}
		out = append(out, entry{name, mode, nlink, rmaj, rmin, data})
	}
}

func build(t *testing.T) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.WriteDir("/bin", 0o755))
	must(w.WriteDir("dev", 0o755))
	must(w.WriteCharDev("dev/console", 0o600, 5, 1))
	must(w.WriteFile("bin/a", 0o755, []byte("x")))
	must(w.WriteFile("bin/empty", 0o644, nil))
	must(w.WriteFile("bin/four", 0o600, []byte("abcd")))
	must(w.WriteSymlink("bin/sh", "a"))
	must(w.Close())
	must(w.Close()) // idempotent
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	got := readAll(t, build(t))
	want := []entry{
		{"bin", TypeDir | 0o755, 2, 0, 0, ""},
		{"dev", TypeDir | 0o755, 2, 0, 0, ""},
		{"dev/console", TypeChar | 0o600, 1, 5, 1, ""},
		{"bin/a", TypeReg | 0o755, 1, 0, 0, "x"},
		{"bin/empty", TypeReg | 0o644, 1, 0, 0, ""},
		{"bin/four", TypeReg | 0o600, 1, 0, 0, "abcd"},
		{"bin/sh", TypeSymlink | 0o777, 1, 0, 0, "a"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestErrors(t *testing.T) {
	w := NewWriter(io.Discard)
	if err := w.WriteHeader(&Header{Name: "f", Mode: TypeReg, Size: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("abcd")); !errors.Is(err, ErrWriteTooLong) {
		t.Fatalf("long write: %v", err)
	}
	if _, err := w.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteDir("d", 0o755); err == nil {
		t.Fatal("header after short data: no error")
	}
	if err := w.WriteHeader(&Header{Name: "x", Mode: 0o644}); err == nil {
		t.Fatal("mode without type: no error")
	}
	if err := w.WriteHeader(&Header{Name: "x", Mode: TypeDir, Size: 1}); err == nil {
		t.Fatal("directory with data: no error")
	}
}

// TestBusyboxExtracts checks the archive against an independent implementation.
func TestBusyboxExtracts(t *testing.T) {
	bb := harness.NeedCommand(t, "busybox", "busybox")
	dir := t.TempDir()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.WriteDir("d", 0o750)
	w.WriteFile("d/f", 0o640, []byte("hello\n"))
	w.WriteSymlink("d/l", "f")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bb, "cpio", "-i", "-d")
	cmd.Dir = dir
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("busybox cpio: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "d/l"))
	if err != nil || string(b) != "hello\n" {
		t.Fatalf("d/l: %q %v", b, err)
	}
	st, err := os.Stat(filepath.Join(dir, "d/f"))
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("d/f: %v %v", st.Mode(), err)
	}
}
