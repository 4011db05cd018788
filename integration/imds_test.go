//go:build integration

package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stead-os/stead/integration/fakecloud"
	"github.com/stead-os/stead/integration/harness"
	"github.com/stead-os/stead/integration/netns"
	"github.com/stead-os/stead/lib/api/iosystemd"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

// The IMDS acceptance tests run in netns.Cloud's topology (a cloud and an instance
// namespace; the fake cloud serves in this process, so the tests keep its Go API: faults,
// counters, token expiry), imdsd (ours or upstream's) and the clients in the instance's.

const (
	imdsdPkg     = "cmd/imdsd"
	imdsPkg      = "cmd/imds"
	imdsSocket   = "run/systemd/io.systemd.InstanceMetadata"
	imdsIface    = "io.systemd.InstanceMetadata"
	upstreamImds = "/usr/lib/systemd/systemd-imds"
	upstreamD    = "/usr/lib/systemd/systemd-imdsd"
)

// imdsTopo is one cloud/instance pair of namespaces with a fake cloud serving in it.
type imdsTopo struct{ *netns.Cloud }

func newIMDSTopo(t *testing.T, vendor string, opts ...fakecloud.Option) *imdsTopo {
	t.Helper()
	return &imdsTopo{netns.NewCloud(t, vendor, opts...)}
}

// imdsRoot makes a root for imdsd: the provider's DMI identity under /sys/class/dmi/id, the
// repository's hwdb under /usr/lib/udev/hwdb.d, an empty kernel command line.
func imdsRoot(t *testing.T, dir string, prov fakecloud.ProviderInfo) string {
	t.Helper()
	dmi := filepath.Join(dir, "sys/class/dmi/id")
	files := map[string]string{
		"sys_vendor": prov.DMI.SysVendor, "product_name": prov.DMI.ProductName,
		"bios_vendor": prov.DMI.BIOSVendor, "modalias": prov.DMI.Modalias(),
	}
	if prov.DMI.ChassisAssetTag != "" {
		files["chassis_asset_tag"] = prov.DMI.ChassisAssetTag
	}
	for name, v := range files {
		if v == "" {
			continue
		}
		harness.WriteFile(t, filepath.Join(dmi, name), v+"\n", 0o644)
	}
	hw, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "hwdb/40-imds.hwdb"))
	if err != nil {
		t.Fatal(err)
	}
	harness.WriteFile(t, filepath.Join(dir, "usr/lib/udev/hwdb.d/40-imds.hwdb"), string(hw), 0o644)
	harness.WriteFile(t, filepath.Join(dir, "proc/cmdline"), "quiet\n", 0o644)
	os.MkdirAll(filepath.Join(dir, "run"), 0o755)
	return dir
}

// startOurIMDSD runs our imdsd in the instance namespace with root and extra flags, and waits
// (10 s at most) for its READY=1, sent once its socket accepts connections; it returns the
// socket's path.
func (tp *imdsTopo) startOurIMDSD(t *testing.T, root string, env []string, flags ...string) (string, *harness.Daemon) {
	t.Helper()
	bin := imdsdBinary(t)
	cmd := tp.Inst.Command(bin, append([]string{"--root=" + root}, flags...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug")
	cmd.Env = append(cmd.Env, env...)
	d := harness.StartDaemon(t, cmd, harness.StopSignal(os.Interrupt), harness.WaitReadyWithin(10*time.Second))
	return filepath.Join(root, imdsSocket), d
}

// getResult is one Get's outcome: the decoded data or the Varlink error name.
type getResult struct {
	Data  string
	Iface int64
	Err   string
}

func (r getResult) String() string {
	if r.Err != "" {
		return "error " + r.Err
	}
	return fmt.Sprintf("%q", r.Data)
}

// imdsCall calls method and returns the Varlink error name ("io.systemd.System:ERRNO" for
// errno errors), "" on success, or a transport error.
func imdsCall(ctx context.Context, c *varlinkd.Client, method string, params any, out any) (string, error) {
	err := c.Call(ctx, method, params, out)
	if err == nil {
		return "", nil
	}
	var ve *varlink.Error
	if errors.As(err, &ve) {
		return ve.Name, nil
	}
	var sys iosystemd.System
	if errors.As(err, &sys) {
		name := "?"
		if sys.ErrnoName != nil {
			name = *sys.ErrnoName
		} else if sys.Errno != nil {
			name = fmt.Sprint(*sys.Errno)
		}
		return "io.systemd.System:" + name, nil
	}
	return "", err
}

func imdsGet(t testing.TB, ctx context.Context, c *varlinkd.Client, params map[string]any) getResult {
	t.Helper()
	var out struct {
		Data      string `json:"data"`
		Interface *int64 `json:"interface"`
	}
	name, err := imdsCall(ctx, c, imdsIface+".Get", params, &out)
	if err != nil {
		return getResult{Err: "transport: " + err.Error()}
	}
	if name != "" {
		return getResult{Err: name}
	}
	b, derr := base64.StdEncoding.DecodeString(out.Data)
	if derr != nil {
		t.Errorf("Get %v: data not base64: %v", params, derr)
	}
	r := getResult{Data: string(b)}
	if out.Interface != nil {
		r.Iface = *out.Interface
	}
	return r
}

func dialIMDS(t testing.TB, ctx context.Context, sock string) *varlinkd.Client {
	t.Helper()
	c, err := varlinkd.Dial(ctx, "unix:"+sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expectedCreds are the credentials imds --import writes for a provider's default instance.
func expectedCreds(prov fakecloud.ProviderInfo) map[string]string {
	m := map[string]string{}
	if h, ok := prov.Expected[fakecloud.KeyHostname]; ok {
		m["firstboot.hostname"] = h
	}
	if k, ok := prov.Expected[fakecloud.KeySSHKey]; ok {
		m["ssh.authorized_keys.root"] = k
	}
	m["fakecloud.test"] = "hello from " + prov.Vendor
	return m
}

// readCreds reads every file of a credstore directory.
func readCreds(t testing.TB, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}
	}
	if err != nil {
		t.Errorf("credstore: %v", err)
		return nil
	}
	m := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Errorf("credential %s: %v", e.Name(), err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

// ourIMDS returns the path of our imds client, or "" while cmd/imds does not exist.
func ourIMDS(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(harness.RepoRoot(), imdsPkg, "main.go")); err != nil {
		return ""
	}
	return harness.Binary(t, imdsPkg)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func imdsdBinary(t testing.TB) string { return harness.Binary(t, imdsdPkg) }
