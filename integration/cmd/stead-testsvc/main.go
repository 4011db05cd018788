// Command stead-testsvc is a test-only service for init's integration
// tests: it speaks sd_notify through lib/notify as a service's main process
// must (NotifyAccess=main), which a shell cannot.
//
//	stead-testsvc watchdog -report FILE [-pings N] [-trigger]
//
// writes "pid=P watchdog=DURATION" to FILE, sends READY=1, then N
// WATCHDOG=1 pings at a third of the interval (forever with -pings -1),
// then WATCHDOG=trigger if asked, and waits for SIGTERM.
//
//	stead-testsvc fdstore -report FILE [-name NAME] [-data DATA] [-count N] [-remove]
//
// appends "fds=N names=NAMES data=D1,D2,…" to FILE: the fds it was passed
// ($LISTEN_FDS, $LISTEN_FDNAMES) and what each holds, read from its start.
// Then, when it was passed none, it stores N memfds holding DATA under NAME
// (FDSTORE=1); with -remove, when it was passed some, it removes them by
// name instead (FDSTOREREMOVE=1). It then sends READY=1 and waits for
// SIGTERM.
//
//	stead-testsvc state -report FILE -listen PATH [-exit-code N -exit-after D]
//
// keeps three memfds and a listening socket in its fd store (state.go);
//
//	stead-testsvc probe -connect PATH -out FILE
//
// keeps connecting to PATH and counts the answers.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/notify"
)

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "fdstore" {
		fdStore()
		return
	}
	if len(os.Args) >= 2 && os.Args[1] == "state" {
		state()
		return
	}
	if len(os.Args) >= 2 && os.Args[1] == "probe" {
		probe()
		return
	}
	if len(os.Args) < 2 || os.Args[1] != "watchdog" {
		fmt.Fprintln(os.Stderr, "usage: stead-testsvc watchdog -report FILE [-pings N] [-trigger]\n       stead-testsvc fdstore -report FILE [-name NAME] [-data DATA] [-count N] [-remove]")
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

func fdStore() {
	fs := flag.NewFlagSet("fdstore", flag.ExitOnError)
	report := fs.String("report", "", "file to append what the manager passed to")
	name := fs.String("name", "stored", "FDNAME= of the fds stored")
	data := fs.String("data", "", "what the memfds stored hold")
	count := fs.Int("count", 1, "memfds to store")
	remove := fs.Bool("remove", false, "remove the fds passed from the store")
	_ = fs.Parse(os.Args[2:])
	ctx, stop := daemon.StopContext(context.Background())
	defer stop()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	n := 0
	if os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) {
		n, _ = strconv.Atoi(os.Getenv("LISTEN_FDS"))
	}
	names := os.Getenv("LISTEN_FDNAMES")
	var contents []string
	for fd := 3; fd < 3+n; fd++ {
		b := make([]byte, 4096)
		k, err := unix.Pread(fd, b, 0)
		if err != nil {
			contents = append(contents, "error:"+err.Error())
			continue
		}
		contents = append(contents, string(b[:k]))
	}
	f, err := os.OpenFile(*report, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(f, "fds=%d names=%s data=%s\n", n, names, strings.Join(contents, ","))
	f.Close()

	switch {
	case n > 0 && *remove:
		seen := map[string]bool{}
		for _, nm := range strings.Split(names, ":") {
			if !seen[nm] {
				seen[nm] = true
				if _, err := notify.RemoveFDs(nm); err != nil {
					fail(err)
				}
			}
		}
	case n == 0 && *count > 0:
		var files []*os.File
		for i := 0; i < *count; i++ {
			mfd, err := unix.MemfdCreate(*name, unix.MFD_CLOEXEC)
			if err != nil {
				fail(err)
			}
			mf := os.NewFile(uintptr(mfd), "memfd:"+*name)
			if _, err := mf.WriteString(*data); err != nil {
				fail(err)
			}
			files = append(files, mf)
		}
		if _, err := notify.StoreFDs(*name, true, files...); err != nil {
			fail(err)
		}
		for _, mf := range files {
			mf.Close()
		}
	}
	if _, err := notify.Ready(); err != nil {
		fail(err)
	}
	<-ctx.Done()
	os.Exit(0)
}
