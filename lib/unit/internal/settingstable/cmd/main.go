// Command settingstable rewrites the settings table of docs/systemd.unit.md
// (the file named by its argument) from what lib/unit's loader does with
// every upstream setting: `go generate ./lib/unit`.
package main

import (
	"fmt"
	"os"

	"github.com/stead-os/stead/lib/unit/internal/settingstable"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: settingstable DOC.md")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "settingstable:", err)
		os.Exit(1)
	}
}

func run(doc string) error {
	rows, err := settingstable.Generate()
	if err != nil {
		return err
	}
	old, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	out, err := settingstable.Splice(string(old), settingstable.Markdown(rows))
	if err != nil {
		return err
	}
	if out == string(old) {
		return nil // leave the file (and its time stamp) alone
	}
	return os.WriteFile(doc, []byte(out), 0o644)
}
