package pcrextend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/api/apitest"
	"github.com/stead-os/stead/lib/api/iosystemdpcrextend"
	"github.com/stead-os/stead/lib/tpm"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
	"golang.org/x/sys/unix"
)

func TestEscape(t *testing.T) {
	// The same bytes upstream's systemd-pcrextend 262 logged as shown.
	in := []byte("a\n\t\"\\\x7f\xff\xc3\xa9\x01 z")
	want := `a\n\t\"\\\177\377\303\251\001 z`
	if got := Escape(in); got != want {
		t.Errorf("Escape = %s, want %s", got, want)
	}
	if got := Escape([]byte("\x00\x01\x02")); got != `\000\001\002` {
		t.Errorf("Escape(NULs) = %s", got)
	}
	if got := Escape([]byte("it's\a\b\f\r\v")); got != `it\'s\a\b\f\r\v` {
		t.Errorf("Escape = %s", got)
	}
}

func TestRecordFormat(t *testing.T) {
	r := Record{PCR: 11, ContentType: "systemd",
		Digests: []Digest{{"sha1", "fbb9"}, {"sha256", "afa2"}},
		Content: Content{String: `a<b>&\"`, BootID: "9d19", Timestamp: 3827720206, EventType: "phase"}}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Field names and order as upstream's log (systemd 262).
	want := "\x1e" + `{"pcr":11,"digests":[{"hashAlg":"sha1","digest":"fbb9"},{"hashAlg":"sha256","digest":"afa2"}],"content_type":"systemd","content":{"string":"a<b>&\\\"","bootId":"9d19","timestamp":3827720206,"eventType":"phase"}}` + "\n"
	if string(b) != want {
		t.Errorf("record\n%q\nwant\n%q", b, want)
	}
	r.Content.EventType = ""
	b, _ = r.Marshal()
	if bytes.Contains(b, []byte("eventType")) {
		t.Errorf("eventType without one: %s", b)
	}
	recs, err := ReadLog(strings.NewReader(want + string(b)))
	if err != nil || len(recs) != 2 || recs[0].Content.EventType != "phase" || recs[1].PCR != 11 {
		t.Errorf("ReadLog: %+v, %v", recs, err)
	}
	if _, err := ReadLog(strings.NewReader("\x1e{bad")); err == nil {
		t.Error("ReadLog accepted bad JSON")
	}
}

// TestMeasured: the command line's rule is lib/tpm's MeasuredOS (tested there).
func TestMeasured(t *testing.T) {
	root := t.TempDir()
	t.Setenv("SYSTEMD_FORCE_MEASURE", "1")
	if ok, _ := Measured(root); !ok {
		t.Error("forced: not measured")
	}
	os.Unsetenv("SYSTEMD_FORCE_MEASURE")
	harness.WriteFile(t, filepath.Join(root, MeasuredMarker), "", 0o644)
	if ok, _ := Measured(root); ok {
		t.Error("marker without a TPM: measured")
	}
	harness.WriteFile(t, filepath.Join(root, tpm.KernelTPMClass, "tpmrm0/dev"), "253:65536\n", 0o644)
	if ok, why := Measured(root); !ok {
		t.Errorf("marker and a TPM: not measured: %s", why)
	}
}

// replay computes a PCR's value in bank alg from the log's entries for it.
func replay(t *testing.T, recs []Record, pcr int, alg tpm.Bank) []byte {
	h, _ := alg.Hash()
	v := make([]byte, h.Size())
	for _, r := range recs {
		if r.PCR != pcr {
			continue
		}
		for _, d := range r.Digests {
			if d.HashAlg == alg.String() {
				b, err := hex.DecodeString(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				x := h.New()
				x.Write(v)
				x.Write(b)
				v = x.Sum(nil)
			}
		}
	}
	return v
}

func TestExtendConcurrent(t *testing.T) {
	sw := harness.StartSwtpm(t)
	root := t.TempDir()
	x := &Extender{Root: root, Device: sw.Socket}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				if _, err := x.Extend(Request{PCR: 12 + (i+j)%2, Data: []byte{byte(i), byte(j)}, EventType: "phase"}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	recs, err := ReadLogFile(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 80 {
		t.Fatalf("%d log records, want 80", len(recs))
	}
	if fi, _ := os.Stat(filepath.Join(root, LogPath)); fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v", fi.Mode())
	}
	tp, err := tpm.Open(sw.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	bs, _ := tp.Banks()
	for _, pcr := range []int{12, 13} {
		for _, b := range bs {
			got, _ := tp.Read(pcr, b)
			if want := replay(t, recs, pcr, b); !bytes.Equal(got, want) {
				t.Errorf("PCR %d %s = %x, log replayed %x", pcr, b, got, want)
			}
		}
	}
	// --bank: only the banks asked for.
	x.Banks = []tpm.Bank{tpm.SHA1}
	if ms, err := x.Extend(Request{PCR: 14, Data: []byte("one")}); err != nil || len(ms) != 1 {
		t.Errorf("sha1 only: %v %v", ms, err)
	}
}

func TestExtendNoTPM(t *testing.T) {
	x := &Extender{Root: t.TempDir(), Device: filepath.Join(t.TempDir(), "none")}
	if _, err := x.Extend(Request{PCR: 1, Data: []byte("x")}); !errors.Is(err, ErrTPM) || !errors.Is(err, tpm.ErrNoTPM) {
		t.Errorf("no TPM: %v", err)
	}
	if _, err := x.Extend(Request{PCR: 24, Data: []byte("x")}); err == nil {
		t.Error("PCR 24 accepted")
	}
}

// TestVarlinkParameters checks the parameter rules (as upstream 262 answers them) and that a
// valid call measures SHA-256(text).
func TestVarlinkParameters(t *testing.T) {
	sw := harness.StartSwtpm(t)
	root := t.TempDir()
	x := &Extender{Root: root, Device: sw.Socket}
	addr := apitest.Serve(t, filepath.Join(t.TempDir(), "s"), Dispatcher(x))
	c := apitest.Dial(t, addr)
	ctx := context.Background()
	call := func(p map[string]any) error { return c.Call(ctx, iosystemdpcrextend.Name+".Extend", p, nil) }
	for _, tc := range []struct {
		p    map[string]any
		want string
	}{
		{map[string]any{"text": "a"}, "pcr"},
		{map[string]any{"pcr": 24, "text": "a"}, "pcr"},
		{map[string]any{"pcr": -1, "text": "a"}, "pcr"},
		{map[string]any{"pcr": 1, "nvpcr": "x", "text": "a"}, "nvpcr"},
		{map[string]any{"pcr": 1, "text": "a", "data": "AA=="}, "data"},
		{map[string]any{"pcr": 1}, "text"},
		{map[string]any{"pcr": 1, "text": ""}, "text"},
		{map[string]any{"pcr": 1, "data": "!!"}, "data"},
		{map[string]any{"pcr": 1, "text": "a", "secret": "!!"}, "secret"},
	} {
		err := call(tc.p)
		var ip *varlink.InvalidParameter
		if !errors.As(err, &ip) || ip.Parameter != tc.want {
			t.Errorf("%v: %v, want InvalidParameter %s", tc.p, err, tc.want)
		}
	}
	var nv *iosystemdpcrextend.NoSuchNvPCR
	if err := call(map[string]any{"nvpcr": "hardware", "text": "a"}); varlinkd.ErrorName(err) != "io.systemd.PCRExtend.NoSuchNvPCR" && !errors.As(err, &nv) {
		t.Errorf("nvpcr: %v", err)
	}
	tp, err := tpm.Open(sw.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	old, _ := tp.Read(9, tpm.SHA256)
	if err := call(map[string]any{"pcr": 9, "text": "hello", "eventType": "imds_userdata"}); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("hello"))
	want := sha256.Sum256(append(old, d[:]...))
	if got, _ := tp.Read(9, tpm.SHA256); !bytes.Equal(got, want[:]) {
		t.Errorf("PCR 9 = %x, want %x", got, want)
	}
	if err := call(map[string]any{"pcr": 9, "data": "AAEC"}); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadLogFile(root)
	if err != nil || len(recs) != 2 {
		t.Fatalf("log: %+v %v", recs, err)
	}
	if recs[0].Content.EventType != "imds-userdata" || recs[0].Content.String != "hello" || recs[1].Content.String != `\000\001\002` || recs[1].Content.EventType != "" {
		t.Errorf("log contents: %+v", recs)
	}

	// No TPM: io.systemd.System ENOTRECOVERABLE, as upstream.
	x.mu.Lock()
	x.Device = filepath.Join(t.TempDir(), "gone")
	x.mu.Unlock()
	err = call(map[string]any{"pcr": 9, "text": "x"})
	if !errors.Is(err, unix.ENOTRECOVERABLE) {
		t.Errorf("no TPM: %v", err)
	}
}
