package fetch

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"io"
	"os/exec"
	"testing"

	"github.com/stead-os/stead/integration/harness"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func TestDecompressor(t *testing.T) {
	data := make([]byte, 512<<10)
	rand.Read(data[:128<<10]) // part random, part zeros
	compress := map[string]func(w io.Writer) io.WriteCloser{
		".xz": func(w io.Writer) io.WriteCloser {
			zw, err := xz.NewWriter(w)
			if err != nil {
				t.Fatal(err)
			}
			return zw
		},
		".gz": func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) },
		".zst": func(w io.Writer) io.WriteCloser {
			zw, err := zstd.NewWriter(w)
			if err != nil {
				t.Fatal(err)
			}
			return zw
		},
		"": func(w io.Writer) io.WriteCloser { return nopWriteCloser{w} },
	}
	for suffix, mk := range compress {
		var buf bytes.Buffer
		zw := mk(&buf)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		stripped, open := Decompressor("usr_5.raw" + suffix)
		if stripped != "usr_5.raw" {
			t.Errorf("%q: stripped %q", suffix, stripped)
		}
		r, err := open(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("%q: %v", suffix, err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%q: %v", suffix, err)
		}
		r.Close()
		if !bytes.Equal(got, data) {
			t.Errorf("%q: round trip differs (%d bytes)", suffix, len(got))
		}
		if suffix != "" {
			// Corrupt input is an error, not silently short data.
			bad := bytes.Clone(buf.Bytes())
			bad[len(bad)/2] ^= 0xff
			if r, err := open(bytes.NewReader(bad[:len(bad)-8])); err == nil {
				if _, err := io.ReadAll(r); err == nil {
					t.Errorf("%q: corrupt input decoded without error", suffix)
				}
			}
		}
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// TestDecompressorBzip2 uses the bzip2 program: Go's standard library only decompresses.
func TestDecompressorBzip2(t *testing.T) {
	bz := harness.NeedCommand(t, "bzip2", "bzip2")
	data := bytes.Repeat([]byte("stead sysupdate payload\n"), 20000)
	cmd := exec.Command(bz, "-c")
	cmd.Stdin = bytes.NewReader(data)
	comp, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	stripped, open := Decompressor("x_1.raw.bz2")
	r, err := open(bytes.NewReader(comp))
	if err != nil || stripped != "x_1.raw" {
		t.Fatal(stripped, err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("bzip2 round trip: %d bytes, %v", len(got), err)
	}
}
