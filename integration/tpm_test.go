//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/fakecloud"
	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/lib/api/iosystemdpcrextend"
	"github.com/stead-os/stead/lib/tpm"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/stead-os/stead/services/imds"
	"github.com/stead-os/stead/services/pcrextend"
)

// The TPM tests run our pcrextend against a swtpm started per test (harness.StartSwtpm, by
// pid, stopped at the end) and check the PCRs by reading them back with lib/tpm: every change
// must be exactly H(old ‖ H(data)) in every active bank, and the measurement log must replay
// to the PCRs' values.

const pcrextendPkg = "cmd/pcrextend"

// startPCRExtend runs our pcrextend as a daemon under root with the TPM device and waits for
// READY=1; it returns the socket's address.
func startPCRExtend(t *testing.T, root, device string) string {
	t.Helper()
	cmd := exec.Command(harness.Binary(t, pcrextendPkg), "--root="+root, "--tpm2-device="+device)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=info")
	harness.StartDaemon(t, cmd, harness.StopSignal(os.Interrupt), harness.WaitReadyWithin(10*time.Second))
	return iosystemdpcrextend.SocketAddress(root)
}

// pcrValues reads PCR pcr in every active bank.
func pcrValues(t testing.TB, device string, pcr int) map[tpm.Bank][]byte {
	t.Helper()
	tp, err := tpm.Open(device)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	bs, err := tp.Banks()
	if err != nil {
		t.Fatal(err)
	}
	out := map[tpm.Bank][]byte{}
	for _, b := range bs {
		if out[b], err = tp.Read(pcr, b); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// expectExtended checks that each bank in now is old extended once with data's digest.
func expectExtended(t testing.TB, what string, old, now map[tpm.Bank][]byte, data []byte) {
	t.Helper()
	if _, ok := now[tpm.SHA256]; !ok {
		t.Errorf("%s: no sha256 bank among %v", what, now)
	}
	for b, v := range now {
		h, _ := b.Hash()
		d := h.New()
		d.Write(data)
		x := h.New()
		x.Write(old[b])
		x.Write(d.Sum(nil))
		if want := x.Sum(nil); !bytes.Equal(v, want) {
			t.Errorf("%s: %s bank = %x, want H(old ‖ H(data)) = %x", what, b, v, want)
		}
	}
}

// replayLog is the value the log's entries give PCR pcr in bank b, starting from zeros.
func replayLog(t testing.TB, recs []pcrextend.Record, pcr int, b tpm.Bank) []byte {
	t.Helper()
	h, _ := b.Hash()
	v := make([]byte, h.Size())
	for _, r := range recs {
		if r.PCR != pcr {
			continue
		}
		found := false
		for _, d := range r.Digests {
			if d.HashAlg != b.String() {
				continue
			}
			var raw []byte
			if _, err := fmt.Sscanf(d.Digest, "%x", &raw); err != nil {
				t.Fatal(err)
			}
			x := h.New()
			x.Write(v)
			x.Write(raw)
			v, found = x.Sum(nil), true
		}
		if !found {
			t.Errorf("log entry for PCR %d lacks bank %s: %+v", pcr, b, r)
		}
	}
	return v
}

func lastRecord(t testing.TB, root string) pcrextend.Record {
	t.Helper()
	recs, err := pcrextend.ReadLogFile(root)
	if err != nil || len(recs) == 0 {
		t.Fatalf("measurement log: %v (%d entries)", err, len(recs))
	}
	return recs[len(recs)-1]
}

// checkRecord compares a log entry with what upstream writes for the measurement.
func checkRecord(t testing.TB, r pcrextend.Record, pcr int, text, eventType string, banks map[tpm.Bank][]byte) {
	t.Helper()
	if r.PCR != pcr || r.ContentType != "systemd" || r.Content.String != text || r.Content.EventType != eventType ||
		len(r.Content.BootID) != 32 || r.Content.Timestamp == 0 || len(r.Digests) != len(banks) {
		t.Errorf("log entry %+v; want pcr %d string %q eventType %q, %d digests", r, pcr, text, eventType, len(banks))
	}
	for _, d := range r.Digests {
		b, err := tpm.ParseBank(d.HashAlg)
		if err != nil {
			t.Error(err)
			continue
		}
		want, _ := b.Digest([]byte(text), nil)
		if d.Digest != fmt.Sprintf("%x", want) {
			t.Errorf("log digest %s = %s, want %x", d.HashAlg, d.Digest, want)
		}
	}
}

// TestTPMPCRExtendVarlink: Extend through our client, on the daemon's socket and through an
// exec: address, changes PCR 12 by exactly the text's digest in every bank and logs it.
func TestTPMPCRExtendVarlink(t *testing.T) {
	sw := harness.StartSwtpm(t)
	root := t.TempDir()
	addr := startPCRExtend(t, root, sw.Socket)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	for i, a := range []string{addr, "exec:" + harness.Binary(t, pcrextendPkg) + " --root=" + root + " --tpm2-device=" + sw.Socket} {
		old := pcrValues(t, sw.Socket, 12)
		c, err := varlinkd.Dial(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		pcr, text, et := int64(12), fmt.Sprintf("stead-test-%d", i), iosystemdpcrextend.EventType("imds_userdata")
		err = iosystemdpcrextend.NewClient(c).Extend(ctx, iosystemdpcrextend.ExtendParameters{PCR: &pcr, Text: &text, EventType: &et})
		c.Close()
		if err != nil {
			t.Fatalf("%s: Extend: %v", a, err)
		}
		now := pcrValues(t, sw.Socket, 12)
		expectExtended(t, a, old, now, []byte(text))
		checkRecord(t, lastRecord(t, root), 12, text, "imds-userdata", now)
	}
	if _, ok := pcrValues(t, sw.Socket, 12)[tpm.SHA1]; !ok {
		t.Log("sha1 bank not active on this swtpm")
	}
}

// TestTPMPCRExtendUpstreamVarlinkctl drives our pcrextend with upstream's varlinkctl: on its
// socket, through exec:, and compares its interface with upstream's systemd-pcrextend's.
func TestTPMPCRExtendUpstreamVarlinkctl(t *testing.T) {
	up := harness.NeedUpstream(t)
	host, inside := up.Stage(t)
	os.MkdirAll(filepath.Join(host, "tpm"), 0o755)
	sw := harness.StartSwtpmIn(t, filepath.Join(host, "tpm"))
	insideSock := filepath.Join(inside, "tpm", "sock")
	addr := startPCRExtend(t, host, sw.Socket)
	insideAddr := "unix:" + filepath.Join(inside, strings.TrimPrefix(addr, "unix:"+host))

	// The interface, comments aside, is upstream's.
	ours, errOut, code := up.Run(t, "varlinkctl", "introspect", insideAddr, "io.systemd.PCRExtend")
	if code != 0 {
		t.Fatalf("varlinkctl introspect: %d %s", code, errOut)
	}
	theirs, errOut, code := up.Run(t, "varlinkctl", "introspect", "exec:/usr/lib/systemd/systemd-pcrextend", "io.systemd.PCRExtend")
	if code != 0 {
		t.Fatalf("varlinkctl introspect upstream: %d %s", code, errOut)
	}
	if a, b := idlShape(ours), idlShape(theirs); a != b {
		t.Errorf("io.systemd.PCRExtend differs from upstream's:\nours:\n%s\nupstream:\n%s", a, b)
	}

	old := pcrValues(t, sw.Socket, 12)
	_, errOut, code = up.Run(t, "varlinkctl", "call", insideAddr, "io.systemd.PCRExtend.Extend", `{"pcr":12,"text":"via-varlinkctl"}`)
	if code != 0 {
		t.Fatalf("varlinkctl call: %d %s", code, errOut)
	}
	now := pcrValues(t, sw.Socket, 12)
	expectExtended(t, "varlinkctl unix:", old, now, []byte("via-varlinkctl"))
	checkRecord(t, lastRecord(t, host), 12, "via-varlinkctl", "", now)

	// exec: starts our binary with a connected socket. It writes the log to the chroot's /run,
	// which a private tmpfs stands in for.
	bin := harness.CopyIn(t, harness.Binary(t, pcrextendPkg), host)
	old = now
	script := `mount -t tmpfs tmpfs "$1/run" && mount --rbind /proc "$1/proc" &&
chroot "$1" env SYSTEMD_TPM2_DEVICE="$2" varlinkctl call "exec:$3" io.systemd.PCRExtend.Extend '{"pcr":12,"data":"AAEC","eventType":"phase"}' &&
cat "$1/run/log/systemd/tpm2-measure.log"`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", up.Dir, insideSock, strings.TrimPrefix(bin, up.Dir))
	out, errOut, code := harness.Run(t, cmd)
	if code != 0 {
		t.Fatalf("varlinkctl call exec: %d\n%s", code, errOut)
	}
	now = pcrValues(t, sw.Socket, 12)
	expectExtended(t, "varlinkctl exec:", old, now, []byte{0, 1, 2})
	_, logText, _ := strings.Cut(out, "\x1e") // varlinkctl printed the (empty) reply first
	recs, err := pcrextend.ReadLog(strings.NewReader("\x1e" + logText))
	if err != nil || len(recs) != 1 || recs[0].Content.String != `\000\001\002` || recs[0].Content.EventType != "phase" {
		t.Errorf("exec: log %q: %+v %v", out, recs, err)
	}
}

// idlShape is an interface description without comments and blank lines.
func idlShape(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestTPMPCRExtendConcurrent: 1,000 Extend calls from 10 clients give 1,000 log entries, and
// replaying the log gives the PCR's value in every bank.
func TestTPMPCRExtendConcurrent(t *testing.T) {
	sw := harness.StartSwtpm(t)
	root := t.TempDir()
	addr := startPCRExtend(t, root, sw.Socket)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const clients, calls = 10, 100
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := varlinkd.Dial(ctx, addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			cl := iosystemdpcrextend.NewClient(c)
			for j := range calls {
				pcr, text := int64(12), fmt.Sprintf("client %d call %d", i, j)
				if err := cl.Extend(ctx, iosystemdpcrextend.ExtendParameters{PCR: &pcr, Text: &text}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	recs, err := pcrextend.ReadLogFile(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != clients*calls {
		t.Fatalf("%d log entries, want %d", len(recs), clients*calls)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Content.String] = true
	}
	if len(seen) != clients*calls {
		t.Errorf("%d distinct entries, want %d", len(seen), clients*calls)
	}
	for b, v := range pcrValues(t, sw.Socket, 12) {
		if want := replayLog(t, recs, 12, b); !bytes.Equal(v, want) {
			t.Errorf("PCR 12 %s = %x, log replayed %x", b, v, want)
		}
	}
}

// TestTPMPCRExtendCommandLine: upstream's command line: a word into PCR 11 (event type
// phase) when the boot is measured, nothing otherwise; --bank, --graceful.
func TestTPMPCRExtendCommandLine(t *testing.T) {
	sw := harness.StartSwtpm(t)
	root := t.TempDir()
	bin := harness.Binary(t, pcrextendPkg)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "SYSTEMD_FORCE_MEASURE=") && !strings.HasPrefix(e, "SYSTEMD_TPM2_DEVICE=") {
			env = append(env, e)
		}
	}
	run := func(extra []string, args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"--root=" + root}, args...)...)
		cmd.Env = append(env[:len(env):len(env)], extra...)
		_, errOut, code := harness.Run(t, cmd)
		return errOut, code
	}
	force := []string{"SYSTEMD_FORCE_MEASURE=1"}

	old := pcrValues(t, sw.Socket, 11)
	if out, code := run(force, "--tpm2-device="+sw.Socket, "foo"); code != 0 {
		t.Fatalf("pcrextend foo: %d %s", code, out)
	}
	now := pcrValues(t, sw.Socket, 11)
	expectExtended(t, "pcrextend foo", old, now, []byte("foo"))
	checkRecord(t, lastRecord(t, root), 11, "foo", "phase", now)

	// The device from the environment, a TCTI name, another PCR and event type.
	old12 := pcrValues(t, sw.Socket, 12)
	if out, code := run(append(force, "SYSTEMD_TPM2_DEVICE=swtpm:path="+sw.Socket), "--pcr=12", "--event-type=imds-userdata", "bar"); code != 0 {
		t.Fatalf("pcrextend --pcr=12: %d %s", code, out)
	}
	now12 := pcrValues(t, sw.Socket, 12)
	expectExtended(t, "pcrextend --pcr=12", old12, now12, []byte("bar"))
	checkRecord(t, lastRecord(t, root), 12, "bar", "imds-userdata", now12)

	// Not measured: success, nothing extended.
	if out, code := run(nil, "--tpm2-device="+sw.Socket, "foo"); code != 0 || !bytes.Equal(pcrValues(t, sw.Socket, 11)[tpm.SHA256], now[tpm.SHA256]) {
		t.Errorf("unmeasured boot: exit %d, PCR changed? %s", code, out)
	}
	// stead's marker counts as measured, with a TPM in use (lib/tpm.MeasuredOS).
	harness.WriteFile(t, filepath.Join(root, pcrextend.MeasuredMarker), "", 0o644)
	harness.WriteFile(t, filepath.Join(root, tpm.KernelTPMClass, "tpmrm0/dev"), "253:65536\n", 0o644)
	if out, code := run(nil, "--tpm2-device="+sw.Socket, "foo"); code != 0 || bytes.Equal(pcrValues(t, sw.Socket, 11)[tpm.SHA256], now[tpm.SHA256]) {
		t.Errorf("marker: exit %d, PCR unchanged? %s", code, out)
	}
	// --bank=sha256: the sha256 bank only.
	before := pcrValues(t, sw.Socket, 13)
	if out, code := run(force, "--tpm2-device="+sw.Socket, "--pcr=13", "--bank=SHA256", "x"); code != 0 {
		t.Fatalf("--bank: %d %s", code, out)
	}
	after := pcrValues(t, sw.Socket, 13)
	for b, v := range after {
		if changed := !bytes.Equal(v, before[b]); changed != (b == tpm.SHA256) {
			t.Errorf("--bank=SHA256: bank %s changed=%v", b, changed)
		}
	}
	if r := lastRecord(t, root); len(r.Digests) != 1 || r.Digests[0].HashAlg != "sha256" {
		t.Errorf("--bank=SHA256 log entry %+v", r)
	}
	// No TPM: failure, or success with --graceful.
	gone := filepath.Join(t.TempDir(), "no-tpm")
	if _, code := run(force, "--tpm2-device="+gone, "foo"); code != 1 {
		t.Errorf("no TPM: exit %d, want 1", code)
	}
	if out, code := run(force, "--tpm2-device="+gone, "--graceful", "foo"); code != 0 {
		t.Errorf("no TPM, --graceful: exit %d %s", code, out)
	}
	if _, code := run(force, "--tpm2-device="+sw.Socket, "--nvpcr=hardware", "foo"); code != 1 {
		t.Errorf("--nvpcr: exit %d, want 1", code)
	}
}

// TestTPMIMDSImport: imds --import against the fake cloud measures the user data into PCR 12
// through our pcrextend: the text MeasureText defines, event type imds-userdata.
func TestTPMIMDSImport(t *testing.T) {
	bin := ourIMDS(t)
	if bin == "" {
		t.Fatal("cmd/imds missing")
	}
	prov := fakecloud.Providers()[0]
	for _, p := range fakecloud.Providers() {
		if p.Vendor == "amazon-ec2" {
			prov = p
		}
	}
	tp := newIMDSTopo(t, prov.Vendor)
	root := imdsRoot(t, t.TempDir(), prov)
	tp.startOurIMDSD(t, root, nil)
	sw := harness.StartSwtpm(t)
	startPCRExtend(t, root, sw.Socket)

	old := pcrValues(t, sw.Socket, 12)
	cmd := tp.Inst.Command(bin, "--root="+root, "--import")
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug")
	if _, errOut, code := harness.Run(t, cmd); code != 0 {
		t.Fatalf("imds --import: %d\n%s", code, errOut)
	}
	ud := fakecloud.DefaultUserData(prov.Vendor)
	text := imds.MeasureText(ud)
	now := pcrValues(t, sw.Socket, 12)
	expectExtended(t, "imds --import", old, now, []byte(text))
	checkRecord(t, lastRecord(t, root), 12, text, "imds-userdata", now)
	sum := sha256.Sum256(ud)
	if !strings.HasPrefix(text, fmt.Sprintf("imds-userdata:%x:", sum)) {
		t.Errorf("measured text %q", text)
	}
	if b, _ := json.Marshal(lastRecord(t, root)); testing.Verbose() {
		t.Logf("log entry: %s", b)
	}
}
