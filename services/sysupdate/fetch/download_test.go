package fetch

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stead-os/stead/services/sysupdate/fetch/fetchtest"
)

// payload writes n random bytes to dir/name and returns them.
func payload(t testing.TB, dir, name string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, differ from the %d served", path, len(got), len(want))
	}
}

func TestDownloadResumeAfterDrop(t *testing.T) {
	for _, etags := range []bool{true, false} {
		name := map[bool]string{true: "etag", false: "last-modified"}[etags]
		t.Run(name, func(t *testing.T) {
			srvDir, dst := t.TempDir(), t.TempDir()
			data := payload(t, srvDir, "img.raw", 3<<20+123)
			srv := fetchtest.New(t, srvDir)
			srv.SetETags(etags)
			partial := filepath.Join(dst, ".#img.raw.partial")
			const dropAt = 1<<20 + 4567

			srv.DropAfter("img.raw", dropAt)
			n, _, err := Download(context.Background(), nil, srv.URL()+"/img.raw", partial, nil)
			if err == nil {
				t.Fatal("a dropped connection was reported as a complete download")
			}
			if n != dropAt {
				t.Fatalf("after the drop: %d bytes, want %d (%v)", n, dropAt, err)
			}
			if st, _ := os.Stat(partial); st.Size() != dropAt {
				t.Fatalf("partial file has %d bytes", st.Size())
			}

			var last [2]int64
			n, sum, err := Download(context.Background(), nil, srv.URL()+"/img.raw", partial, func(done, total int64) { last = [2]int64{done, total} })
			if err != nil {
				t.Fatal(err)
			}
			if sum != sha256.Sum256(data) {
				t.Errorf("resumed download: SHA-256 %x is not that of the whole file (kept part and new part)", sum)
			}
			if n != int64(len(data)) || last != [2]int64{n, n} {
				t.Fatalf("resumed download: %d bytes, last progress %v", n, last)
			}
			checkFile(t, partial, data)
			if got := srv.BytesServed("img.raw"); got != int64(len(data)) {
				t.Errorf("served %d bytes in all for a %d-byte file: the resume did not continue at byte %d", got, len(data), dropAt)
			}
			if srv.Requests("img.raw") != 2 {
				t.Errorf("%d requests", srv.Requests("img.raw"))
			}

			// Complete already: one more call sends no body and keeps the file.
			if n, sum, err := Download(context.Background(), nil, srv.URL()+"/img.raw", partial, nil); err != nil || n != int64(len(data)) || sum != sha256.Sum256(data) {
				t.Fatalf("download of a complete file: %d, %x, %v", n, sum, err)
			}
			checkFile(t, partial, data)
			if got := srv.BytesServed("img.raw"); got != int64(len(data)) {
				t.Errorf("completed file re-downloaded: %d bytes served", got)
			}
		})
	}
}

func TestDownloadChangedFileRestarts(t *testing.T) {
	srvDir, dst := t.TempDir(), t.TempDir()
	payload(t, srvDir, "f", 2<<20)
	srv := fetchtest.New(t, srvDir)
	partial := filepath.Join(dst, "f.partial")
	srv.DropAfter("f", 500000)
	if _, _, err := Download(context.Background(), nil, srv.URL()+"/f", partial, nil); err == nil {
		t.Fatal("drop not reported")
	}
	newData := payload(t, srvDir, "f", 2<<20) // same size, new content and mtime
	os.Chtimes(filepath.Join(srvDir, "f"), time.Now(), time.Now().Add(time.Hour))
	n, sum, err := Download(context.Background(), nil, srv.URL()+"/f", partial, nil)
	if err != nil || n != int64(len(newData)) || sum != sha256.Sum256(newData) {
		t.Fatalf("%d, %x, %v", n, sum, err)
	}
	checkFile(t, partial, newData)
	if got := srv.BytesServed("f"); got != 500000+int64(len(newData)) {
		t.Errorf("served %d bytes, want the drop plus the whole new file", got)
	}
}

func TestDownloadNoRangeSupportRestarts(t *testing.T) {
	srvDir, dst := t.TempDir(), t.TempDir()
	data := payload(t, srvDir, "f", 1<<20)
	srv := fetchtest.New(t, srvDir)
	partial := filepath.Join(dst, "f.partial")
	srv.DropAfter("f", 300000)
	Download(context.Background(), nil, srv.URL()+"/f", partial, nil)
	srv.SetRanges(false)
	n, sum, err := Download(context.Background(), nil, srv.URL()+"/f", partial, nil)
	if err != nil || n != int64(len(data)) || sum != sha256.Sum256(data) {
		t.Fatalf("%d, %x, %v", n, sum, err)
	}
	checkFile(t, partial, data)
	if got := srv.BytesServed("f"); got != 300000+int64(len(data)) {
		t.Errorf("served %d bytes", got)
	}
}

func TestDownloadOtherURLNotResumed(t *testing.T) {
	srvDir, dst := t.TempDir(), t.TempDir()
	payload(t, srvDir, "a", 1<<20)
	b := payload(t, srvDir, "b", 1<<20)
	srv := fetchtest.New(t, srvDir)
	srv.SetETags(false) // the same Last-Modified second could otherwise match
	partial := filepath.Join(dst, "x.partial")
	srv.DropAfter("a", 1000)
	Download(context.Background(), nil, srv.URL()+"/a", partial, nil)
	if _, _, err := Download(context.Background(), nil, srv.URL()+"/b", partial, nil); err != nil {
		t.Fatal(err)
	}
	checkFile(t, partial, b)
}

func TestDownloadNoValidatorNotResumed(t *testing.T) {
	dst := t.TempDir()
	partial := filepath.Join(dst, "p")
	os.WriteFile(partial, []byte("stale bytes from somewhere"), 0o644)
	var sawRange bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawRange = sawRange || r.Header.Get("Range") != ""
		io.WriteString(w, "fresh")
	}))
	defer srv.Close()
	n, sum, err := Download(context.Background(), srv.Client(), srv.URL, partial, nil)
	if err != nil || n != 5 || sawRange || sum != sha256.Sum256([]byte("fresh")) {
		t.Fatalf("%d %v range=%v", n, err, sawRange)
	}
	checkFile(t, partial, []byte("fresh"))
}

// rangeServer answers every request with the given status and headers and body.
func rangeServer(t *testing.T, status int, contentRange, body string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if contentRange != "" {
			w.Header().Set("Content-Range", contentRange)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDownloadWrongContentRange(t *testing.T) {
	for _, cr := range []string{"bytes 0-9/20", "bytes 11-19/20", "bytes 10-18/20", "garbage", ""} {
		dst := t.TempDir()
		partial := filepath.Join(dst, "p")
		// A first download records validator "v1" for 10 bytes that are then cut short.
		first := rangeServer(t, http.StatusOK, "", "0123456789")
		if _, _, err := Download(context.Background(), nil, first.URL, partial, nil); err != nil {
			t.Fatal(err)
		}
		srv := rangeServer(t, http.StatusPartialContent, cr, "abcdefghij")
		// Same URL string is needed for a resume: point the partial's record at srv.
		f, _ := os.OpenFile(partial, os.O_RDWR, 0)
		writeValidator(f, partial, `"v1"`, srv.URL)
		f.Close()
		_, _, err := Download(context.Background(), nil, srv.URL, partial, nil)
		if !errors.Is(err, ErrContentRange) {
			t.Errorf("Content-Range %q: %v", cr, err)
		}
		checkFile(t, partial, []byte("0123456789"))
	}
}

func TestDownloadHTTPError(t *testing.T) {
	srv := fetchtest.New(t, t.TempDir())
	partial := filepath.Join(t.TempDir(), "p")
	if _, _, err := Download(context.Background(), nil, srv.URL()+"/missing", partial, nil); err == nil {
		t.Fatal("404 accepted")
	}
}

func TestDownloadCancel(t *testing.T) {
	srvDir := t.TempDir()
	payload(t, srvDir, "f", 1<<20)
	srv := fetchtest.New(t, srvDir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Download(ctx, nil, srv.URL()+"/f", filepath.Join(t.TempDir(), "p"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestValidatorSidecar(t *testing.T) {
	// /dev/shm is tmpfs; older kernels refuse user xattrs there, newer ones accept them.
	// Either way the state must round-trip, and Finish/Discard must clear it.
	for _, dir := range []string{t.TempDir(), shmDir(t)} {
		p := filepath.Join(dir, "p")
		os.WriteFile(p, []byte("x"), 0o644)
		f, _ := os.OpenFile(p, os.O_RDWR, 0)
		if err := writeValidator(f, p, `"e"`, "http://h/x"); err != nil {
			t.Fatal(err)
		}
		if v, u, ok := readValidator(f, p); !ok || v != `"e"` || u != "http://h/x" {
			t.Fatalf("%s: read back %q %q %v", dir, v, u, ok)
		}
		f.Close()
		if err := Finish(p); err != nil {
			t.Fatal(err)
		}
		f, _ = os.Open(p)
		if _, _, ok := readValidator(f, p); ok {
			t.Errorf("%s: validator survived Finish", dir)
		}
		f.Close()
		if err := Discard(p); err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%s: Discard left %v", dir, ents)
		}
	}
}

func shmDir(t *testing.T) string {
	d, err := os.MkdirTemp("/dev/shm", "fetch-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestParseContentRange(t *testing.T) {
	for s, want := range map[string][3]int64{
		"bytes 0-9/10":   {0, 9, 10},
		"bytes 5-9/*":    {5, 9, -1},
		"bytes */100":    {-1, -1, 100},
		"bytes 10-9/100": {},
		"bytes 1-2":      {},
		"items 1-2/3":    {},
	} {
		a, b, c, err := parseContentRange(s)
		if (want == [3]int64{}) != (err != nil) || (err == nil && [3]int64{a, b, c} != want) {
			t.Errorf("%q: %d %d %d %v", s, a, b, c, err)
		}
	}
}

// BenchmarkDownload measures Download over loopback against io.Copy of the same file
// between two local files, the bound for the disk side.
func BenchmarkDownload(b *testing.B) {
	srvDir, dst := b.TempDir(), b.TempDir()
	const size = 64 << 20
	payload(b, srvDir, "big", size)
	srv := fetchtest.New(b, srvDir)
	b.Run("Download", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			p := filepath.Join(dst, "p")
			if _, _, err := Download(context.Background(), nil, srv.URL()+"/big", p, nil); err != nil {
				b.Fatal(err)
			}
			Discard(p)
		}
	})
	b.Run("io.Copy", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			in, _ := os.Open(filepath.Join(srvDir, "big"))
			out, _ := os.Create(filepath.Join(dst, "c"))
			if _, err := io.Copy(out, in); err != nil {
				b.Fatal(err)
			}
			out.Sync()
			in.Close()
			out.Close()
		}
	})
}

func TestDownloadPartialLongerThanFile(t *testing.T) {
	srvDir, dst := t.TempDir(), t.TempDir()
	srv := fetchtest.New(t, srvDir)
	partial := filepath.Join(dst, "p")
	payload(t, srvDir, "f", 1<<20)
	if _, _, err := Download(context.Background(), nil, srv.URL()+"/f", partial, nil); err != nil {
		t.Fatal(err)
	}
	// Append garbage to the completed partial file: the same file on the server is shorter.
	fh, _ := os.OpenFile(partial, os.O_WRONLY|os.O_APPEND, 0)
	fh.Write([]byte("garbage"))
	fh.Close()
	data, _ := os.ReadFile(filepath.Join(srvDir, "f"))
	n, sum, err := Download(context.Background(), nil, srv.URL()+"/f", partial, nil)
	if err != nil || n != int64(len(data)) || sum != sha256.Sum256(data) {
		t.Fatalf("%d, %x, %v", n, sum, err)
	}
	checkFile(t, partial, data)
}

func FuzzParseContentRange(f *testing.F) {
	f.Add("bytes 0-9/10")
	f.Add("bytes */5")
	f.Add("bytes 5-9/*")
	f.Fuzz(func(t *testing.T, s string) {
		start, end, size, err := parseContentRange(s)
		if err != nil {
			return
		}
		if start == -1 && end == -1 {
			return
		}
		if start < 0 || end < start || size < -1 {
			t.Fatalf("%q: %d-%d/%d", s, start, end, size)
		}
	})
}

// TestDownloadHashesResumedChunks: a download interrupted several times, at offsets that are
// not multiples of the chunk size, is resumed each time; the SHA-256 returned at the end is
// that of the whole file, the earlier parts hashed from the file and the rest while written.
func TestDownloadHashesResumedChunks(t *testing.T) {
	srvDir, dst := t.TempDir(), t.TempDir()
	data := payload(t, srvDir, "f", 5<<20+77)
	srv := fetchtest.New(t, srvDir)
	partial := filepath.Join(dst, "p")
	for _, at := range []int64{1, copyBufferSize - 1, copyBufferSize + 1} {
		srv.DropAfter("f", at)
		if _, _, err := Download(context.Background(), nil, srv.URL()+"/f", partial, nil); err == nil {
			t.Fatal("drop not reported")
		}
	}
	n, sum, err := Download(context.Background(), nil, srv.URL()+"/f", partial, nil)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("%d, %v", n, err)
	}
	if sum != sha256.Sum256(data) {
		t.Fatalf("SHA-256 %x, want %x", sum, sha256.Sum256(data))
	}
	if got := srv.BytesServed("f"); got != int64(len(data)) {
		t.Errorf("served %d bytes for a %d-byte file", got, len(data))
	}
	// Bytes changed on disk behind the download's back: the hash of a resumed download
	// reads them back, so the corruption shows in the sum (and the caller refuses the file).
	os.Truncate(partial, 3<<20)
	f, _ := os.OpenFile(partial, os.O_WRONLY, 0)
	f.WriteAt([]byte("corrupt"), 1000)
	f.Close()
	_, sum, err = Download(context.Background(), nil, srv.URL()+"/f", partial, nil)
	if err != nil || sum == sha256.Sum256(data) {
		t.Fatalf("corrupted kept part: %x, %v; want a different SHA-256", sum, err)
	}
}
