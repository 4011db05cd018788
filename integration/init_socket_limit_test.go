//go:build integration

package integration

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitSocketServiceStartLimit: a socket whose service keeps failing stops retriggering once
// the service hits its start limit. The connection left in the backlog would otherwise start it
// again and again; the socket instead fails and closes its listener, as upstream's does.
func TestInitSocketServiceStartLimit(t *testing.T) {
	e := newCtlEnv(t, map[string]string{
		"flaky.socket":  "[Socket]\nListenStream=/run/flaky.sock\n",
		"flaky.service": "[Unit]\nStartLimitIntervalSec=1min\nStartLimitBurst=2\n[Service]\nExecStart=/bin/false\n",
	})
	e.must(0, "start", "flaky.socket")
	sock := filepath.Join(e.root, "run/flaky.sock")
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e.waitState("flaky.socket", "failed")
	// (io.systemd.Unit of 262 has no socket result to show; the log says why.)
	if !strings.Contains(e.log.String(), "service hit its start limit, socket fails") {
		t.Errorf("init did not log why the socket failed:\n%s", e.log.String())
	}
	if r := e.prop("flaky.service", "Result"); r != "start-limit-hit" {
		t.Errorf("flaky.service Result=%q, want start-limit-hit", r)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the failed socket's listener is still there: %v", err)
	}
	// Two starts within the burst, then the refused one: nothing more.
	if n := strings.Count(e.log.String(), "incoming connection, starting service"); n > 3 {
		t.Errorf("socket retriggered %d times; init log:\n%s", n, e.log.String())
	}
	// A restart of the socket listens again.
	e.must(0, "start", "flaky.socket")
	if _, err := os.Stat(sock); err != nil {
		t.Errorf("restarted socket does not listen: %v", err)
	}
}
