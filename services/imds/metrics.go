package imds

import (
	"context"
	"errors"
	"sort"

	api "github.com/stead-os/stead/lib/api/iosystemdinstancemetadata"
	metrics "github.com/stead-os/stead/lib/api/iosystemdmetrics"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/varlink/go/varlink"
)

// MetricsSocketPath is where systemd-imds-metrics.socket listens (upstream's path); every
// connection gets an imds process of its own (Accept=yes).
const MetricsSocketPath = "/run/systemd/report/io.systemd.InstanceMetadata"

// metricFamily is one of the families imds reports: upstream 262's names, descriptions and
// types, and where the value comes from (a well-known key; "" for the vendor, which
// GetVendorInfo names).
type metricFamily struct {
	metrics.Family
	wellKnown string
}

// metricFamilies are sorted by name, the order upstream describes and lists them in.
var metricFamilies = []metricFamily{
	{metrics.Family{Name: "io.systemd.InstanceMetadata.Hostname", Description: "Instance hostname reported by IMDS", Type: metrics.String}, "hostname"},
	{metrics.Family{Name: "io.systemd.InstanceMetadata.IPv4Public", Description: "Public IPv4 address reported by IMDS", Type: metrics.String}, "ipv4_public"},
	{metrics.Family{Name: "io.systemd.InstanceMetadata.IPv6Public", Description: "Public IPv6 address reported by IMDS", Type: metrics.String}, "ipv6_public"},
	{metrics.Family{Name: "io.systemd.InstanceMetadata.Region", Description: "Cloud region reported by IMDS", Type: metrics.String}, "region"},
	{metrics.Family{Name: "io.systemd.InstanceMetadata.Vendor", Description: "Detected cloud vendor", Type: metrics.String}, ""},
	{metrics.Family{Name: "io.systemd.InstanceMetadata.Zone", Description: "Cloud availability zone reported by IMDS", Type: metrics.String}, "zone"},
}

func init() {
	sort.Slice(metricFamilies, func(i, j int) bool { return metricFamilies[i].Name < metricFamilies[j].Name })
}

// metricsService implements io.systemd.Metrics by asking imdsd (or running it, as the other
// actions do) on every List.
type metricsService struct{ o *Options }

// Describe lists the families, whatever imdsd knows.
func (s metricsService) Describe(ctx context.Context, c *varlink.Call) error {
	fams := make([]metrics.Family, len(metricFamilies))
	for i, f := range metricFamilies {
		fams[i] = f.Family
	}
	return varlinkd.ReplyList(ctx, c, fams)
}

// List reports the values imdsd has; absent ones are left out, failures logged and left out
// (as upstream); with none at all the answer is NoSuchMetric.
func (s metricsService) List(ctx context.Context, c *varlink.Call) error {
	var out []metrics.Metric
	cn, err := connect(ctx, s.o)
	if err != nil {
		s.o.log().Warn("cannot reach imdsd", "err", err)
	} else {
		defer cn.close()
		for _, f := range metricFamilies {
			var v string
			if f.wellKnown == "" {
				v, err = cn.vendor(ctx)
			} else {
				var b []byte
				b, err = cn.get(ctx, f.wellKnown, "")
				v = string(b)
			}
			var notSupported *api.NotSupported
			switch {
			case errors.Is(err, ErrAbsent) || errors.As(err, &notSupported):
				continue
			case err != nil:
				s.o.log().Warn("cannot get metric", "metric", f.Name, "err", err)
				continue
			case v == "":
				continue
			}
			out = append(out, metrics.Metric{Name: f.Name, Value: v})
		}
	}
	if len(out) == 0 {
		return varlinkd.ReplyError(ctx, *c, metrics.ErrorNoSuchMetric, nil)
	}
	return varlinkd.ReplyList(ctx, c, out)
}

// ServeMetrics serves io.systemd.Metrics on the socket the service manager passed (a
// connection accepted by systemd-imds-metrics.socket, or varlinkctl's exec: pair), or on
// MetricsSocketPath under the root, until the peer hangs up or ctx ends.
func ServeMetrics(ctx context.Context, o Options, version string) int {
	d := daemon.New(daemon.Spec{Name: "imds", Version: version, Root: o.Root, Log: o.Log})
	return d.ExitCode(d.Run(ctx, daemon.Passive{}, daemon.Socket{
		Path: MetricsSocketPath, Mode: 0o666,
		Interfaces: []varlinkd.Dispatcher{metrics.VarlinkNew(metricsService{o: &o})},
	}))
}
