// Command init is stead's service manager. `init --host --root=DIR` runs as
// an ordinary process, loads units from DIR and serves io.systemd.Manager on
// DIR/run/systemd/io.systemd.Manager; started by the kernel as PID 1 it is
// the system's init (pid1.go). See docs/init.md. This file only maps flags
// (lib/cli) to services/pid1.Config and runs host mode on lib/daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/lib/daemon"
	steadlog "github.com/stead-os/stead/lib/log"
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
     --log-level=L  A systemd log level: debug, info, warning, err, … or 0–7
                    (default: $SYSTEMD_LOG_LEVEL, else info)

Debugging:
     --call METHOD [JSON]  Call a Varlink method of the running manager and print
                           the reply (one JSON object a line); --more streams,
                           --address=ADDR overrides unix:/run/systemd/io.systemd.Manager

Internal:
     --exec-shim [--sandbox-fd=N] PATH ARGV0 [ARG…]
                    Set LISTEN_PID to our pid, apply the sandbox settings
                    read from fd N, and execute PATH
     --deserialize=FD  Take over the state the previous incarnation wrote to FD
                       (daemon-reexec, soft-reboot)
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--exec-shim" {
		err := pid1.ExecShim(os.Args[2:])
		fmt.Fprintln(os.Stderr, "init --exec-shim:", err)
		os.Exit(pid1.ShimExitStatus(err)) // systemd's EXIT_EXEC, or the sandbox step that failed
	}
	if len(os.Args) > 1 && os.Args[1] == "--call" {
		os.Exit(call(os.Args[2:]))
	}
	if os.Getpid() == 1 && !hasArg(os.Args[1:], "--host") {
		runPID1()
		return
	}
	root, level := "/", ""
	var host bool
	deserialize := -1
	c := cli.New("init", usage, version)
	c.String(&root, "root", 0)
	c.Bool(&host, "host", 0)
	c.Func("deserialize", 0, func(v string) (err error) {
		deserialize, err = strconv.Atoi(v)
		return err
	})
	c.Func("log-level", 0, func(v string) error {
		_, err := steadlog.ParseLevel(v)
		level = v
		return err
	})
	if args := c.ParseOrExit(os.Args[1:]); len(args) > 0 {
		c.Fail(errors.New("unexpected arguments"))
	}
	if !host || os.Getpid() == 1 {
		c.Fail(errors.New("without --host only as PID 1; --host only as an ordinary process"))
	}
	os.Exit(runHost(root, level, deserialize))
}

// deserializeFile is the state handed over in fd (--deserialize=FD), or nil.
func deserializeFile(fd int) *os.File {
	if fd < 3 {
		return nil
	}
	return os.NewFile(uintptr(fd), "deserialize")
}

// runHost is host mode: the manager over root, run by lib/daemon (logging, signals, the
// Varlink sockets, READY=1/RELOADING=1/STOPPING=1 to a service manager above, exit code).
// level, if set, overrides $SYSTEMD_LOG_LEVEL.
func runHost(root, level string, deserialize int) int {
	d := daemon.New(daemon.Spec{Name: "init", Version: version, Root: root})
	if level != "" {
		steadlog.SetLevel(level) // checked when parsed
	}
	// PowerOff, Reboot and Halt over Varlink stop every unit and end host mode.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	m, err := pid1.New(pid1.Config{Root: root, Host: true, Logger: d.Log(), Version: version, Daemon: d,
		Shutdown: func(string) { stop() }, Deserialize: deserializeFile(deserialize)})
	if err != nil {
		return d.ExitCode(err)
	}
	stopProfiles := startProfiles()
	defer stopProfiles()
	return d.ExitCode(d.Run(ctx, m, m.VarlinkSockets()...))
}
