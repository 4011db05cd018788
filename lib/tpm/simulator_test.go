//go:build tpmsimulator

// The Microsoft reference TPM through go-tpm-tools' simulator, which needs cgo and libcrypto:
// test code only (production binaries stay CGO_ENABLED=0). Run with
//
//	CGO_ENABLED=1 go test -tags tpmsimulator ./lib/tpm/
package tpm

import (
	"testing"

	"github.com/google/go-tpm/tpm2/transport/simulator"
)

func TestSimulator(t *testing.T) {
	sim, err := simulator.OpenSimulator()
	if err != nil {
		t.Fatal(err)
	}
	tp := New(sim, sim.Close)
	defer tp.Close()
	if err := tp.startup(); err != nil {
		t.Fatal(err)
	}
	checkExtend(t, tp)
}
