package main

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	api "github.com/stead-os/stead/lib/api/iosystemdnetwork"
	"github.com/stead-os/stead/lib/cli/clitest"
)

// TestRunCommandLine: --help and --version print to standard output and exit 0, usage errors
// exit 1 with "networkd-wait-online: …" on standard error; without networkd it times out.
func TestRunCommandLine(t *testing.T) {
	clitest.Run(t, run, []clitest.Case{
		{Args: []string{"--help"}, Stdout: "Usage: networkd-wait-online"},
		{Args: []string{"--version"}, Stdout: "networkd-wait-online (stead) dev\n"},
		{Args: []string{"--bogus"}, Code: 1, Stderr: "networkd-wait-online: unrecognized option '--bogus'"},
		{Args: []string{"extra"}, Code: 1, Stderr: "networkd-wait-online: unexpected arguments"},
		{Args: []string{"--timeout=soon"}, Code: 1, Stderr: `networkd-wait-online: invalid --timeout="soon"`},
		{Args: []string{"-o", "routable:off"}, Code: 1, Stderr: "networkd-wait-online: "},
		{Args: []string{"-i", "c0:bogus"}, Code: 1, Stderr: "networkd-wait-online: "},
		{Args: []string{"-q", "--root=" + t.TempDir(), "--timeout=300ms"}, Code: 1, Stderr: "networkd-wait-online: timeout waiting for the network to come online (waiting for networkd: "},
	})
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
