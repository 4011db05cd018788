// Command tpm2-generator is the part of stead's systemd-tpm2-generator that pulls in the
// software TPM fallback (systemd-tpm2-swtpm.service) when the kernel command line asks for
// it and the machine has no TPM. See docs/tpm2-swtpm.md. This file only maps arguments to
// services/tpm2swtpm.Generate.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/stead-os/stead/lib/cli"
	steadlog "github.com/stead-os/stead/lib/log"
	"github.com/stead-os/stead/services/tpm2swtpm"
)

var version = "dev"

const usage = `Usage: tpm2-generator [--root=DIR] NORMAL-DIR [EARLY-DIR LATE-DIR]

systemd generator: pulls in systemd-tpm2-swtpm.service (sysinit.target.wants/ in
NORMAL-DIR) when systemd.tpm2_software_fallback= is on and there is no TPM.
See docs/tpm2-swtpm.md.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	log := steadlog.NewTool(stderr, "tpm2-generator")
	root := "/"
	c := cli.New("tpm2-generator", usage, version)
	c.SetOutput(stdout, stderr)
	c.String(&root, "root", 0)
	dirs, code, ok := c.Args(args)
	if !ok {
		return code
	}
	if len(dirs) != 1 && len(dirs) != 3 {
		fmt.Fprint(stderr, usage)
		return cli.ExitFailure
	}
	done, why, err := tpm2swtpm.Generate(root, dirs[0])
	if err != nil {
		log.Error("generator failed", "err", err)
		return cli.ExitFailure
	}
	if !done {
		log.Debug("software TPM not wanted", "why", why)
	}
	return cli.ExitSuccess
}
