package imds

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stead-os/stead/lib/api/apitest"
	metrics "github.com/stead-os/stead/lib/api/iosystemdmetrics"
	"github.com/stead-os/stead/lib/varlinkd"
)

// metricsCall serves io.systemd.Metrics for o on a socket and calls method with `more`,
// returning the replies as JSON lines and the error name.
func metricsCall(t *testing.T, o Options, method string) ([]string, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "metrics")
	apitest.Serve(t, sock, metrics.VarlinkNew(metricsService{o: &o}))
	c, err := varlinkd.Dial(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []string
	err = c.Stream(context.Background(), metrics.Name+"."+method, nil, func(raw json.RawMessage) error {
		out = append(out, string(raw))
		return nil
	})
	return out, varlinkd.ErrorName(err)
}

func TestMetricsDescribe(t *testing.T) {
	got, errName := metricsCall(t, Options{Root: t.TempDir(), ImdsdPath: "/nonexistent"}, "Describe")
	if errName != "" || len(got) != 6 {
		t.Fatalf("Describe: %q %v", errName, got)
	}
	want := `{"name":"io.systemd.InstanceMetadata.Hostname","description":"Instance hostname reported by IMDS","type":"string"}`
	if got[0] != want || !strings.Contains(got[4], `"io.systemd.InstanceMetadata.Vendor"`) {
		t.Errorf("Describe:\n%s", strings.Join(got, "\n"))
	}
}

func TestMetricsList(t *testing.T) {
	f := &fakeIMDS{vendor: "amazon-ec2", values: map[string]string{"hostname": "h1", "zone": "z1", "ipv4_public": "192.0.2.1"}}
	root := startFake(t, f)
	got, errName := metricsCall(t, Options{Root: root, ImdsdPath: "/nonexistent"}, "List")
	want := []string{
		`{"name":"io.systemd.InstanceMetadata.Hostname","value":"h1"}`,
		`{"name":"io.systemd.InstanceMetadata.IPv4Public","value":"192.0.2.1"}`,
		`{"name":"io.systemd.InstanceMetadata.Vendor","value":"amazon-ec2"}`,
		`{"name":"io.systemd.InstanceMetadata.Zone","value":"z1"}`,
	}
	if errName != "" || !reflect.DeepEqual(got, want) {
		t.Errorf("List: %q\n%s", errName, strings.Join(got, "\n"))
	}
	// No metadata service known: nothing to report.
	root = startFake(t, &fakeIMDS{notSupported: true})
	if got, errName := metricsCall(t, Options{Root: root, ImdsdPath: "/nonexistent"}, "List"); errName != metrics.ErrorNoSuchMetric {
		t.Errorf("List without a metadata service: %q %v", errName, got)
	}
}
