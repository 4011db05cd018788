package tpm

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/stead-os/stead/integration/harness"
)

func TestParseDevice(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Device
	}{
		{"", Device{Kind: "device", Path: "/dev/tpmrm0"}},
		{"auto", Device{Kind: "device", Path: "/dev/tpmrm0"}},
		{"/dev/tpm0", Device{Kind: "device", Path: "/dev/tpm0"}},
		{"device:/dev/tpm0", Device{Kind: "device", Path: "/dev/tpm0"}},
		{"device:", Device{Kind: "device", Path: "/dev/tpmrm0"}},
		{"swtpm:path=/run/tpm/sock", Device{Kind: "device", Path: "/run/tpm/sock"}},
		{"swtpm:", Device{Kind: "swtpm", Address: "localhost:2321"}},
		{"swtpm:host=127.0.0.1,port=4000", Device{Kind: "swtpm", Address: "127.0.0.1:4000"}},
		{"swtpm:port=4000,host=::1", Device{Kind: "swtpm", Address: "[::1]:4000"}},
		{"mssim:host=h,port=2323", Device{Kind: "mssim", Address: "h:2323"}},
		{"mssim", Device{Kind: "mssim", Address: "localhost:2321"}},
		{"libtss2-tcti-mssim.so.0:port=9", Device{Kind: "mssim", Address: "localhost:9"}},
	} {
		got, err := ParseDevice(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDevice(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"tabrmd:", "swtpm:port=x", "swtpm:port=0", "swtpm:bogus=1", "swtpm:host", "mssim:path=/x", "mssim:port=65535"} {
		if d, err := ParseDevice(bad); err == nil {
			t.Errorf("ParseDevice(%q) = %+v, want an error", bad, d)
		}
	}
}

func TestBanks(t *testing.T) {
	for _, n := range []string{"sha1", "SHA256", "Sha384", "sha512"} {
		b, err := ParseBank(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := b.Hash(); !ok {
			t.Errorf("%s: no hash", b)
		}
	}
	if _, err := ParseBank("md5"); err == nil {
		t.Error("md5 accepted")
	}
	d, _ := SHA256.Digest([]byte("foo"), nil)
	if want := sha256.Sum256([]byte("foo")); !bytes.Equal(d, want[:]) {
		t.Errorf("sha256 digest %x", d)
	}
	d, _ = SHA1.Digest([]byte("foo"), []byte("key"))
	m := hmac.New(sha1.New, []byte("key"))
	m.Write([]byte("foo"))
	if !bytes.Equal(d, m.Sum(nil)) {
		t.Errorf("sha1 hmac %x", d)
	}
}

func TestOpenAbsent(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{filepath.Join(dir, "nothing"), "device:" + filepath.Join(dir, "nothing")} {
		if _, err := Open(name); !errors.Is(err, ErrNoTPM) {
			t.Errorf("Open(%s): %v, want ErrNoTPM", name, err)
		}
	}
	// A socket nobody listens on any more.
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := Open(sock); !errors.Is(err, ErrNoTPM) {
		t.Errorf("Open(stale socket): %v, want ErrNoTPM", err)
	}
	l, _ = net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	if _, err := Open("swtpm:host=127.0.0.1,port=" + itoa(addr.Port)); !errors.Is(err, ErrNoTPM) {
		t.Errorf("Open(swtpm TCP, closed port): %v, want ErrNoTPM", err)
	}
	if _, err := Open("mssim:host=127.0.0.1,port=" + itoa(addr.Port)); !errors.Is(err, ErrNoTPM) {
		t.Errorf("Open(mssim, closed port): %v, want ErrNoTPM", err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := Open(f); err == nil || errors.Is(err, ErrNoTPM) {
		t.Errorf("Open(regular file): %v", err)
	}
}

func itoa(n int) string {
	var b []byte
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// extendOf is what a PCR holds after extending old with d: H(old ‖ d).
func extendOf(b Bank, old, d []byte) []byte {
	h, _ := b.Hash()
	x := h.New()
	x.Write(old)
	x.Write(d)
	return x.Sum(nil)
}

// checkExtend extends PCR 16 (debug, resettable) and 12 in every active bank and checks the
// values against the computation.
func checkExtend(t *testing.T, tp *TPM) {
	t.Helper()
	bs, err := tp.Banks()
	if err != nil {
		t.Fatal(err)
	}
	hasSHA256 := false
	for _, b := range bs {
		hasSHA256 = hasSHA256 || b == SHA256
	}
	if !hasSHA256 {
		t.Fatalf("banks %v lack sha256", bs)
	}
	for _, pcr := range []int{12, 16} {
		old := map[Bank][]byte{}
		for _, b := range bs {
			if old[b], err = tp.Read(pcr, b); err != nil {
				t.Fatal(err)
			}
		}
		ms, err := Measure([]byte("hello"), nil, bs)
		if err != nil {
			t.Fatal(err)
		}
		if err := tp.Extend(pcr, ms); err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			got, err := tp.Read(pcr, m.Bank)
			if err != nil {
				t.Fatal(err)
			}
			if want := extendOf(m.Bank, old[m.Bank], m.Digest); !bytes.Equal(got, want) {
				t.Errorf("PCR %d %s = %x, want %x", pcr, m.Bank, got, want)
			}
		}
	}
	if err := tp.Extend(24, nil); err == nil {
		t.Error("PCR 24 extended")
	}
	if _, err := tp.Read(-1, SHA256); err == nil {
		t.Error("PCR -1 read")
	}
}

func TestSwtpmUnix(t *testing.T) {
	sw := harness.StartSwtpm(t)
	for _, name := range []string{sw.Socket, "device:" + sw.Socket, "swtpm:path=" + sw.Socket} {
		tp, err := Open(name)
		if err != nil {
			t.Fatal(err)
		}
		checkExtend(t, tp)
		tp.Close()
	}
}

func TestSwtpmTCP(t *testing.T) {
	sw := harness.StartSwtpmTCP(t)
	for _, name := range []string{sw.Device(), "mssim:host=127.0.0.1,port=" + itoa(sw.Port)} {
		tp, err := Open(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkExtend(t, tp)
		tp.Close()
	}
}

// TestSwtpmConcurrent extends from several goroutines through one TPM and through separate
// connections; nothing is lost.
func TestSwtpmConcurrent(t *testing.T) {
	sw := harness.StartSwtpm(t)
	tp, err := Open(sw.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	d := sha256.Sum256([]byte("x"))
	ms := []Measurement{{SHA256, d[:]}}
	old, _ := tp.Read(16, SHA256)
	var wg sync.WaitGroup
	const n = 50
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 5 {
				if err := tp.Extend(16, ms); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	want := old
	for range n {
		want = extendOf(SHA256, want, d[:])
	}
	if got, _ := tp.Read(16, SHA256); !bytes.Equal(got, want) {
		t.Errorf("PCR 16 after %d extends = %x, want %x", n, got, want)
	}
}

// notStarted answers TPM_RC_INITIALIZE until it gets TPM2_Startup, as a TPM fresh from reset.
type notStarted struct {
	transport.TPM
	started bool
	startup int
}

func (n *notStarted) Send(cmd []byte) ([]byte, error) {
	cc := uint32(cmd[6])<<24 | uint32(cmd[7])<<16 | uint32(cmd[8])<<8 | uint32(cmd[9])
	if cc == 0x144 { // TPM2_Startup
		n.startup++
		n.started = true
		return []byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0}, nil
	}
	if !n.started {
		return []byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 1, 0}, nil
	}
	return n.TPM.Send(cmd)
}

func TestStartup(t *testing.T) {
	sw := harness.StartSwtpm(t)
	ns := &notStarted{TPM: &streamTPM{network: "unix", addr: sw.Socket}}
	tp := New(ns, nil)
	if err := tp.startup(); err != nil {
		t.Fatal(err)
	}
	if ns.startup != 1 {
		t.Errorf("%d TPM2_Startup sent", ns.startup)
	}
	if err := tp.startup(); err != nil || ns.startup != 1 {
		t.Errorf("second startup: %v, %d sent", err, ns.startup)
	}
}
