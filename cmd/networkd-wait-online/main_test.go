package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
)

// TestRunCommandLine: --help and --version print to standard output and exit 0, usage errors
// exit 1 with "networkd-wait-online: …" on standard error; without networkd it times out.
func TestRunCommandLine(t *testing.T) {
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"--help"}, 0, "Usage: networkd-wait-online", ""},
		{[]string{"--version"}, 0, "networkd-wait-online (stead) dev\n", ""},
		{[]string{"--bogus"}, 1, "", "networkd-wait-online: unrecognized option '--bogus'"},
		{[]string{"extra"}, 1, "", "networkd-wait-online: unexpected arguments"},
		{[]string{"--timeout=soon"}, 1, "", `networkd-wait-online: invalid --timeout="soon"`},
		{[]string{"-o", "routable:off"}, 1, "", "networkd-wait-online: "},
		{[]string{"-i", "c0:bogus"}, 1, "", "networkd-wait-online: "},
		{[]string{"-q", "--root=" + t.TempDir(), "--timeout=300ms"}, 1, "",
			"networkd-wait-online: timeout waiting for the network to come online (waiting for networkd: "},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), c.args, &out, &errOut)
		if code != c.code || !strings.HasPrefix(out.String(), c.stdout) || !strings.HasPrefix(errOut.String(), c.stderr) ||
			(c.stdout == "" && out.Len() > 0) || (c.stderr == "" && errOut.Len() > 0) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", c.args, code, out.String(), errOut.String())
		}
	}
}

func TestParse(t *testing.T) {
	o, quiet, _, code := parse([]string{"-i", "c0", "--interface=c1:carrier", "-i", "c2:dormant:degraded", "--ignore=x",
		"-o", "degraded", "-46q", "--any", "--timeout=1min 30s", "--root=/r"}, &bytes.Buffer{}, &bytes.Buffer{})
	want := map[string]api.OperRange{"c0": {}, "c1": {Min: "carrier", Max: "routable"}, "c2": {Min: "dormant", Max: "degraded"}}
	if code != -1 || !quiet || !reflect.DeepEqual(o.Interfaces, want) || !o.Ignore["x"] || o.Oper != (api.OperRange{Min: "degraded", Max: "routable"}) ||
		!o.IPv4 || !o.IPv6 || !o.Any || o.Timeout != 90*time.Second || o.Root != "/r" {
		t.Errorf("%d %v %+v", code, quiet, o)
	}
	if o, _, _, _ := parse([]string{"--timeout=infinity"}, &bytes.Buffer{}, &bytes.Buffer{}); o.Timeout != 0 {
		t.Errorf("infinity: %v", o.Timeout)
	}
}
