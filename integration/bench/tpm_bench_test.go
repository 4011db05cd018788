//go:build integration

package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/api/iosystemdpcrextend"
	"github.com/stead-os/stead/lib/varlinkd"
)

// TestTPMBench measures PCR extensions per second against one swtpm (unix socket): our
// pcrextend through Varlink (one client in sequence, and 10 clients at once) beside
// tpm2-tools' tpm2_pcrextend, one process per extension as a shell script would use it.
// Reported, never asserted. Only with STEAD_BENCH=1:
//
//	STEAD_BENCH=1 go test -tags integration -run TestTPMBench -v ./integration/bench/
func TestTPMBench(t *testing.T) {
	if os.Getenv("STEAD_BENCH") == "" {
		t.Skip("a measurement: run with STEAD_BENCH=1")
	}
	tools := harness.NeedCommand(t, "tpm2_pcrextend", "tpm2-tools")
	sw := harness.StartSwtpm(t)
	root := t.TempDir()
	cmd := exec.Command(harness.Binary(t, "cmd/pcrextend"), "--root="+root, "--tpm2-device="+sw.Socket)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=warning")
	harness.StartDaemon(t, cmd, harness.StopSignal(os.Interrupt), harness.WaitReadyWithin(10*time.Second))
	addr := iosystemdpcrextend.SocketAddress(root)
	ctx := context.Background()

	extend := func(c *varlinkd.Client, i int) {
		pcr, text := int64(16), fmt.Sprint("bench ", i)
		if err := iosystemdpcrextend.NewClient(c).Extend(ctx, iosystemdpcrextend.ExtendParameters{PCR: &pcr, Text: &text}); err != nil {
			t.Fatal(err)
		}
	}
	const n = 1000
	c, err := varlinkd.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range n {
		extend(c, i)
	}
	seq := float64(n) / time.Since(start).Seconds()
	c.Close()

	start = time.Now()
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := varlinkd.Dial(ctx, addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for i := range n / 10 {
				extend(c, w*n+i)
			}
		}()
	}
	wg.Wait()
	par := float64(n) / time.Since(start).Seconds()

	const m = 200
	d := sha256.Sum256([]byte("bench"))
	start = time.Now()
	for range m {
		out, err := exec.Command(tools, "-T", sw.TCTI(), fmt.Sprintf("16:sha256=%x", d)).CombinedOutput()
		if err != nil {
			t.Fatalf("tpm2_pcrextend: %v\n%s", err, out)
		}
	}
	tools2 := float64(m) / time.Since(start).Seconds()

	t.Logf("PCR extensions/s against swtpm (all active banks for pcrextend, sha256 only for tpm2_pcrextend):")
	t.Logf("  pcrextend via Varlink, 1 client:    %8.0f/s", seq)
	t.Logf("  pcrextend via Varlink, 10 clients:  %8.0f/s", par)
	t.Logf("  tpm2_pcrextend, a process each:     %8.0f/s", tools2)
	t.Logf("  ratio (1 client / tpm2_pcrextend):  %8.1f×", seq/tools2)
}
