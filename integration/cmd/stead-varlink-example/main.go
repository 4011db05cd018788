// Command stead-varlink-example serves io.stead.Example through lib/varlinkd. stead's tests
// start it (directly, socket-activated, or through exec: addresses) to check the Varlink
// plumbing every daemon shares.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/stead-os/stead/integration/varlinkexample"
	steadlog "github.com/stead-os/stead/lib/log"
	"github.com/stead-os/stead/lib/varlinkd"
)

func main() {
	root := flag.String("root", "/", "resolve every path under this directory")
	socket := flag.String("socket", "/run/stead/io.stead.Example", "socket to bind when not socket-activated")
	idle := flag.Duration("exit-idle", 0, "when socket-activated, exit after this long without connections")
	flag.Parse()

	steadlog.Setup("stead-varlink-example")
	srv, err := varlinkd.New(varlinkd.Info{
		Vendor: "stead", Product: "stead-varlink-example", Version: "1", URL: "https://github.com/stead-os/stead",
	}, varlinkd.Hooks{Level: steadlog.LevelVar(), Reload: func(context.Context) error {
		slog.Info("reloaded")
		return nil
	}})
	if err == nil {
		err = srv.Register((&iosteadexample.Service{SecretText: "swordfish"}).Dispatcher())
	}
	if err == nil {
		err = srv.Run(context.Background(), varlinkd.Options{Root: *root, Socket: *socket, IdleExit: *idle})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stead-varlink-example:", err)
		os.Exit(1)
	}
}
