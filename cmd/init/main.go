// Command init is stead's service manager. `init --host --root=DIR` runs as
// an ordinary process, loads units from DIR and serves io.systemd.Manager on
// DIR/run/systemd/io.systemd.Manager; started by the kernel as PID 1 it is
// the system's init (pid1.go). See docs/init.md. This file only maps flags to
// services/pid1.Config.
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
       init                       (as PID 1, started by the kernel)
       init --call METHOD [JSON] [--more] [--address=ADDR]

Run the service manager.

Options:
  -h --help         Show this help and exit
     --version      Show the version and exit
     --host         Run as an ordinary process: no mounts, units from --root
     --root=DIR     Load units from and resolve every path under DIR (default /)
     --log-level=L  debug, info, warn or error (default info)

Debugging:
     --call METHOD [JSON]  Call a Varlink method of the running manager and print
                           the reply (one JSON object a line); --more streams,
                           --address=ADDR overrides unix:/run/systemd/io.systemd.Manager

Internal:
     --exec-shim PATH ARGV0 [ARG…]  Set LISTEN_PID to our pid and execute PATH
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--exec-shim" {
		err := pid1.ExecShim(os.Args[2:])
		fmt.Fprintln(os.Stderr, "init --exec-shim:", err)
		os.Exit(203) // systemd's EXIT_EXEC
	}
	if len(os.Args) > 1 && os.Args[1] == "--call" {
		os.Exit(call(os.Args[2:]))
	}
	if os.Getpid() == 1 && !hasArg(os.Args[1:], "--host") {
		runPID1()
		return
	}
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	// -h/--help are flags of their own, so that the asked-for help goes to standard output.
	var help bool
	fs.BoolVar(&help, "help", false, "")
	fs.BoolVar(&help, "h", false, "")
	root := fs.String("root", "/", "")
	host := fs.Bool("host", false, "")
	showVersion := fs.Bool("version", false, "")
	level := fs.String("log-level", "info", "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if help {
		fmt.Print(usage)
		return
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
		fmt.Fprintln(os.Stderr, "init: without --host only as PID 1; --host only as an ordinary process")
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// PowerOff, Reboot and Halt over Varlink stop every unit and end host mode.
	m, err := pid1.New(pid1.Config{Root: *root, Host: true, Logger: logger, Version: version,
		Shutdown: func(string) { stop() }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "init:", err)
		os.Exit(1)
	}
	stopProfiles := startProfiles()
	err = m.Run(ctx, nil)
	stopProfiles()
	if err != nil {
		fmt.Fprintln(os.Stderr, "init:", err)
		os.Exit(1)
	}
}
