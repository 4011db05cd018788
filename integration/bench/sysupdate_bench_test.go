//go:build integration

package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/services/sysupdate/fetch/fetchtest"
)

// TestSysupdateBench measures one update of a large payload (1 GiB unless
// $STEAD_BENCH_SYSUPDATE_MIB) from a loopback HTTP server into a regular-file target: our
// sysupdate, upstream's systemd-sysupdate 262 on the same job, and the bound of the machine —
// sha256sum of the payload plus writing the same bytes with dd conv=fsync. Reported, never
// asserted. Only with STEAD_BENCH=1:
//
//	STEAD_BENCH=1 go test -tags integration -run TestSysupdateBench -v ./integration/bench/
func TestSysupdateBench(t *testing.T) {
	if os.Getenv("STEAD_BENCH") == "" {
		t.Skip("a measurement: run with STEAD_BENCH=1")
	}
	mib := 1024
	if v, err := strconv.Atoi(os.Getenv("STEAD_BENCH_SYSUPDATE_MIB")); err == nil && v > 0 {
		mib = v
	}
	up := harness.NeedUpstream(t)
	host, inside := up.Stage(t)
	web := filepath.Join(host, "web")
	os.MkdirAll(web, 0o755)
	payload := filepath.Join(web, "os_2.raw")
	writePayload(t, payload, mib)
	sum := sha256File(t, payload)
	os.WriteFile(filepath.Join(web, "SHA256SUMS"), []byte(sum+" *os_2.raw\n"), 0o644)
	srv := fetchtest.New(t, web)
	size := float64(mib) * (1 << 20)
	rate := func(d time.Duration) string { return fmt.Sprintf("%.0f MiB/s", size/(1<<20)/d.Seconds()) }

	// The bound: hash the bytes once and write them once, durably.
	start := time.Now()
	harness.Run(t, exec.Command("sha256sum", payload))
	hashT := time.Since(start)
	start = time.Now()
	if _, errOut, code := harness.Run(t, exec.Command("dd", "if="+payload, "of="+filepath.Join(host, "bound.raw"), "bs=1M", "conv=fsync")); code != 0 {
		t.Fatalf("dd: %s", errOut)
	}
	writeT := time.Since(start)
	os.Remove(filepath.Join(host, "bound.raw"))
	bound := hashT + writeT

	def := `[Transfer]
Verify=no
[Source]
Type=url-file
Path=` + srv.URL() + `
MatchPattern=os_@v.raw
[Target]
Type=regular-file
Path=/target
MatchPattern=os_@v.raw
`
	setup := func(root string) {
		harness.WriteFile(t, filepath.Join(root, "etc/sysupdate.d/os.transfer"), def, 0o644)
		harness.WriteFile(t, filepath.Join(root, "target/os_1.raw"), "1", 0o644)
	}

	ours := filepath.Join(host, "ours")
	setup(ours)
	bin := harness.Binary(t, "./cmd/sysupdate")
	start = time.Now()
	out, errOut, code := harness.Run(t, exec.Command(bin, "--root="+ours, "update"))
	if code != 0 {
		t.Fatalf("our update: exit %d: %s%s", code, out, errOut)
	}
	oursT := time.Since(start)
	for _, l := range strings.Split(errOut, "\n") {
		if strings.Contains(l, "Acquired") {
			t.Logf("ours: %s", l)
		}
	}
	if got := sha256File(t, filepath.Join(ours, "target/os_2.raw")); got != sum {
		t.Fatalf("our update installed the wrong bytes")
	}
	os.RemoveAll(ours)

	theirs := filepath.Join(host, "theirs")
	setup(theirs)
	script := "mount -t proc proc '" + up.Dir + "/proc' && exec chroot '" + up.Dir + "' /usr/lib/systemd/systemd-sysupdate --root=" + filepath.Join(inside, "theirs") + " update"
	cmd := exec.Command("unshare", "-m", "sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_LOG_LEVEL=err"}
	start = time.Now()
	out, errOut, code = harness.Run(t, cmd)
	theirsT := time.Since(start)
	if code != 0 {
		t.Fatalf("upstream update: exit %d: %s%s", code, out, errOut)
	}
	if got := sha256File(t, filepath.Join(theirs, "target/os_2.raw")); got != sum {
		t.Fatalf("upstream's update installed the wrong bytes")
	}

	t.Logf("update of %d MiB over loopback HTTP into a regular file:", mib)
	t.Logf("  bound (sha256sum %v + dd conv=fsync %v): %v, %s", hashT.Round(time.Millisecond), writeT.Round(time.Millisecond), bound.Round(time.Millisecond), rate(bound))
	t.Logf("  stead sysupdate:          %v, %s (%.2f× the bound's time)", oursT.Round(time.Millisecond), rate(oursT), oursT.Seconds()/bound.Seconds())
	t.Logf("  upstream systemd-sysupdate: %v, %s (%.2f× the bound's time; ours/upstream %.2f)", theirsT.Round(time.Millisecond), rate(theirsT), theirsT.Seconds()/bound.Seconds(), oursT.Seconds()/theirsT.Seconds())
}

// writePayload writes mib MiB of incompressible bytes (one random MiB, varied per MiB).
func writePayload(t *testing.T, p string, mib int) {
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(rng.Uint32())
	}
	for i := 0; i < mib; i++ {
		block[0], block[1], block[2], block[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		if _, err := f.Write(block); err != nil {
			t.Fatal(err)
		}
	}
}

func sha256File(t *testing.T, p string) string {
	out, errOut, code := harness.Run(t, exec.Command("sha256sum", p))
	if code != 0 {
		t.Fatalf("sha256sum: %s", errOut)
	}
	return strings.Fields(out)[0]
}
