// Command init is stead's service manager. For now only host mode exists:
// `init --host --root=DIR` runs as an ordinary process, loads units from DIR
// and serves io.systemd.Manager on DIR/run/systemd/io.systemd.Manager. See
// docs/init.md. This file only maps flags to services/pid1.Config.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/stead-os/stead/services/pid1"
)

// Set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Usage: init --host [--root=DIR]

Run the service manager.

Options:
  -h --help         Show this help and exit
     --version      Show the version and exit
     --host         Run as an ordinary process: no mounts, units from --root
     --root=DIR     Load units from and resolve every path under DIR (default /)
     --log-level=L  debug, info, warn or error (default info)

Internal:
     --exec-shim PATH ARGV0 [ARG…]  Set LISTEN_PID to our pid and execute PATH
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--exec-shim" {
		err := pid1.ExecShim(os.Args[2:])
		fmt.Fprintln(os.Stderr, "init --exec-shim:", err)
		os.Exit(203) // systemd's EXIT_EXEC
	}
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	root := fs.String("root", "/", "")
	host := fs.Bool("host", false, "")
	showVersion := fs.Bool("version", false, "")
	level := fs.String("log-level", "info", "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println("stead init", version)
		return
	}
	if fs.NArg() > 0 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var lv slog.LevelVar
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintln(os.Stderr, "init: invalid --log-level:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: &lv}))
	if !*host || os.Getpid() == 1 {
		fmt.Fprintln(os.Stderr, "init: only host mode (--host, not as PID 1) is implemented")
		os.Exit(1)
	}
	m, err := pid1.New(pid1.Config{Root: *root, Host: true, Logger: logger, Version: version})
	if err != nil {
		fmt.Fprintln(os.Stderr, "init:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := m.Run(ctx, nil); err != nil {
		fmt.Fprintln(os.Stderr, "init:", err)
		os.Exit(1)
	}
}
