// Command stead-varlink-example serves io.stead.Example through lib/daemon and lib/varlinkd.
// stead's tests start it (directly, socket-activated, or through exec: addresses) to check the
// Varlink plumbing and the start-up path every daemon shares.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	iosteadexample "github.com/stead-os/stead/integration/varlinkexample"
	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/varlinkd"
)

const usage = `Usage: stead-varlink-example [OPTION…]

Serve io.stead.Example (a test service) over Varlink.

Options:
  -h --help            Show this help and exit
     --version         Show the version and exit
     --root=DIR        Resolve every path under DIR
     --socket=PATH     Socket to bind when not socket-activated (/run/stead/io.stead.Example)
     --exit-idle=TIME  Socket-activated: exit after this long without connections (Go duration)
`

func main() {
	root, socket := "/", "/run/stead/io.stead.Example"
	var idle time.Duration
	c := cli.New("stead-varlink-example", usage, "1")
	c.String(&root, "root", 0)
	c.String(&socket, "socket", 0)
	c.Func("exit-idle", 0, func(v string) (err error) { idle, err = time.ParseDuration(v); return err })
	if args := c.ParseOrExit(os.Args[1:]); len(args) > 0 {
		c.Fail(errors.New("unexpected arguments"))
	}

	d := daemon.New(daemon.Spec{Name: "stead-varlink-example", Version: "1", Root: root})
	reload := func(context.Context) error { d.Log().Info("reloaded"); return nil }
	ex := &iosteadexample.Service{SecretText: "swordfish"}
	os.Exit(d.Main(daemon.Passive{OnReload: reload},
		daemon.Socket{Path: socket, IdleExit: idle, Interfaces: []varlinkd.Dispatcher{ex.Dispatcher()}}))
}
