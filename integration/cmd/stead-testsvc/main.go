// Command stead-testsvc is a test-only service for init's integration
// tests: it speaks sd_notify through lib/notify as a service's main process
// must (NotifyAccess=main), which a shell cannot.
//
//	stead-testsvc watchdog -report FILE [-pings N] [-trigger]
//
// writes "pid=P watchdog=DURATION" to FILE, sends READY=1, then N
// WATCHDOG=1 pings at a third of the interval (forever with -pings -1),
// then WATCHDOG=trigger if asked, and waits for SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/notify"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "watchdog" {
		fmt.Fprintln(os.Stderr, "usage: stead-testsvc watchdog -report FILE [-pings N] [-trigger]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("watchdog", flag.ExitOnError)
	report := fs.String("report", "", "file to write what the manager passed")
	pings := fs.Int("pings", -1, "WATCHDOG=1 pings to send (-1: forever)")
	trigger := fs.Bool("trigger", false, "send WATCHDOG=trigger after the pings")
	_ = fs.Parse(os.Args[2:])
	ctx, stop := daemon.StopContext(context.Background())
	defer stop()

	wd, err := notify.WatchdogEnabled()
	line := fmt.Sprintf("pid=%d watchdog=%s err=%v\n", os.Getpid(), wd, err)
	if err := os.WriteFile(*report, []byte(line), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := notify.Ready(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready, watchdog", wd)
	every := wd / 3
	if every <= 0 {
		every = time.Second
	}
	for i := 0; *pings < 0 || i < *pings; i++ {
		select {
		case <-ctx.Done():
			os.Exit(0)
		case <-time.After(every):
		}
		_, _ = notify.Watchdog()
	}
	if *trigger {
		fmt.Println("triggering the watchdog")
		_, _ = notify.WatchdogTrigger()
	} else {
		fmt.Println("no more pings")
	}
	<-ctx.Done()
	os.Exit(0)
}
