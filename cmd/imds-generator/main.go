// Command imds-generator is stead's systemd-imds-generator: a systemd generator that pulls in
// the cloud metadata units (imdsd socket, early network, optionally the import) when the
// machine is recognised as a cloud instance or the kernel command line asks for it. See
// docs/imds-generator.md. This file only maps arguments to services/imdsgen.Options.
package main

import (
	"fmt"
	"os"
	"strings"

	steadlog "github.com/stead-os/stead/lib/log"
	"github.com/stead-os/stead/services/imdsgen"
)

const usage = `Usage: imds-generator [--root=DIR] NORMAL-DIR [EARLY-DIR LATE-DIR]

systemd generator: pulls in the cloud instance metadata units. Links and drop-ins
are written to EARLY-DIR (NORMAL-DIR when only one directory is given).
See docs/imds-generator.md.
`

func main() {
	log := steadlog.New(os.Stderr, "imds-generator")
	if s := os.Getenv(steadlog.EnvLogLevel); s != "" {
		_ = steadlog.SetLevel(s)
	}
	o := imdsgen.Options{Root: "/", Log: log}
	var dirs []string
	for _, a := range os.Args[1:] {
		switch {
		case a == "-h" || a == "--help":
			fmt.Print(usage)
			return
		case strings.HasPrefix(a, "--root="):
			o.Root = strings.TrimPrefix(a, "--root=")
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(os.Stderr, "imds-generator: unknown option %s\n", a)
			os.Exit(1)
		default:
			dirs = append(dirs, a)
		}
	}
	switch len(dirs) {
	case 1:
		o.Dir = dirs[0]
	case 3:
		o.Dir = dirs[1]
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(1)
	}
	if _, err := imdsgen.Run(o); err != nil {
		log.Error("generator failed", "err", err)
		os.Exit(1)
	}
}
