//go:build integration

// Package integration holds tests that build stead's real binaries and drive them from
// outside: through their sockets, in temporary roots, network namespaces and VMs, and beside
// the real upstream systemd.
package integration

import (
	"os"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}
