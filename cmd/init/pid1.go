package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	steadlog "github.com/stead-os/stead/lib/log"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/stead-os/stead/services/pid1"
	"golang.org/x/sys/unix"
)

// deserializeArg is N of --deserialize=N, or -1.
func deserializeArg(args []string) int {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--deserialize="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return -1
}

func hasArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

// runPID1 is init as the system's first process. It never returns normally
// and never exits: on a panic in this goroutine, or when the manager cannot
// run, it drops to an emergency shell; at the end it reboots or powers off.
// (A panic in another goroutine still ends the process — and the kernel.)
func runPID1() {
	defer func() {
		if r := recover(); r != nil {
			pid1.Emergency(fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	unix.Umask(0o022)
	if os.Getenv("PATH") == "" {
		os.Setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	mountErr := pid1.MountAPI()
	cmdline := pid1.KernelCmdline()
	for _, k := range []string{"systemd.log_level", "stead.log_level"} {
		if v, ok := cmdline[k]; ok {
			_ = steadlog.SetLevel(v)
		}
	}
	// The console keeps slog's text format (msg="…" key=value, which the VM tests read), at
	// lib/log's live level, so that io.systemd.service.SetLogLevel works; as the default
	// logger it is lib/varlinkd's too.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: steadlog.LevelVar()}))
	slog.SetDefault(logger)
	logger.Info("stead init starting as PID 1", "version", version, "uptime", pid1.Uptime().Round(time.Millisecond).String())
	if mountErr != nil {
		logger.Warn("mounting API filesystems", "err", mountErr)
	}
	if ok, err := pid1.ProvideBootSecret("/"); err != nil {
		logger.Warn("providing the boot secret", "err", err)
	} else if ok {
		logger.Info("boot secret provided", "path", pid1.BootSecret)
	}
	if _, ok := cmdline["stead.debug_panic"]; ok { // tests the emergency path
		panic("stead.debug_panic on the kernel command line")
	}
	ctx, action, request := pid1.ShutdownSignals(context.Background())
	m, err := pid1.New(pid1.Config{Root: "/", PID1: true, Logger: logger, Version: version, Shutdown: request,
		Deserialize: deserializeFile(deserializeArg(os.Args[1:]))})
	if err != nil {
		pid1.Emergency(err.Error())
	}
	defer m.ReexecOnSIGTERM()()
	stopProfiles := startProfiles() // STEAD_INIT_PPROF= on the kernel command line: up to default.target
	go func() {
		if m.WaitActive(ctx, pid1.DefaultTarget) {
			stopProfiles()
			logger.Info("reached "+pid1.DefaultTarget, "uptime", pid1.Uptime().Round(time.Millisecond).String())
		} else if ctx.Err() == nil {
			logger.Error(pid1.DefaultTarget + " failed to start")
		}
	}()
	if err := m.Run(ctx, nil); err != nil {
		pid1.Emergency("manager: " + err.Error())
	}
	a := action()
	logger.Info("all units stopped", "action", a)
	switch a {
	case pid1.ActionSoftReboot:
		err := m.SoftReboot(logger) // returns only on failure
		logger.Error("soft-reboot failed, rebooting", "err", err)
		a = pid1.ActionReboot
	case pid1.ActionKexec:
		m.KexecHandover(logger)
	}
	err = pid1.Finish(logger, a, 5*time.Second)
	pid1.Emergency(fmt.Sprintf("reboot(%s): %v", a, err))
}

// call is `init --call METHOD [JSON] [--more] [--address=ADDR]`, a debugging
// aid for systems without varlinkctl: it prints each reply as one JSON line.
func call(args []string) int {
	addr := "unix:" + pid1.SocketPath
	more := false
	var pos []string
	for _, a := range args {
		switch {
		case a == "--more":
			more = true
		case strings.HasPrefix(a, "--address="):
			addr = strings.TrimPrefix(a, "--address=")
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprint(os.Stderr, usage)
		return 1
	}
	in := json.RawMessage("{}")
	if len(pos) == 2 {
		if !json.Valid([]byte(pos[1])) {
			fmt.Fprintln(os.Stderr, "init --call: parameters are not valid JSON")
			return 1
		}
		in = json.RawMessage(pos[1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := varlinkd.Dial(ctx, addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "init --call:", err)
		return 1
	}
	defer c.Close()
	if more {
		err = c.Stream(ctx, pos[0], in, func(r json.RawMessage) error {
			fmt.Println(string(r))
			return nil
		})
	} else {
		var out json.RawMessage
		if err = c.Call(ctx, pos[0], in, &out); err == nil {
			fmt.Println(string(out))
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "init --call:", err)
		return 1
	}
	return 0
}
