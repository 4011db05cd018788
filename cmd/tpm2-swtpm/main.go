// Command tpm2-swtpm is stead's systemd-tpm2-swtpm: the software TPM fallback. It derives the
// key of the TPM's state from the boot secret, manufactures the TPM once and runs swtpm on
// the kernel's vtpm proxy. See docs/tpm2-swtpm.md. This file only maps flags (lib/cli) to
// services/tpm2swtpm.Options.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/services/tpm2swtpm"
)

var version = "dev"

const usage = `Usage: tpm2-swtpm [OPTION…]

Provide a software TPM (swtpm on the kernel's vtpm proxy) when the machine has none.
Its state is encrypted with a key derived from the boot secret.

Options:
  -h --help              Show this help and exit
     --version           Show the version and exit

stead additions:
     --root=DIR          Resolve every path under DIR
     --state-dir=DIR     The TPM's state (default /var/lib/systemd/swtpm)
     --test-server=PATH  Serve the TPM on a unix socket (swtpm socket), not through
                         the vtpm proxy: for tests on machines without /dev/vtpmx

See docs/tpm2-swtpm.md.
`

func main() {
	o := tpm2swtpm.Options{Root: "/", Version: version}
	c := cli.New("tpm2-swtpm", usage, version)
	c.String(&o.Root, "root", 0)
	c.String(&o.StateDir, "state-dir", 0)
	c.String(&o.TestServer, "test-server", 0)
	if args := c.ParseOrExit(os.Args[1:]); len(args) > 0 {
		c.Fail(errors.New("no arguments expected"))
	}
	os.Exit(tpm2swtpm.Main(context.Background(), o))
}
