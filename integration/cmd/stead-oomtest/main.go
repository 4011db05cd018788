// Command stead-oomtest is a test-only helper for oomd's VM test (integration/oomd_vm_test.go):
//
//	stead-oomtest hog [-high BYTES] [-max BYTES]
//	    sets memory.high of its own cgroup (with -high), then maps and touches anonymous
//	    memory 1 MiB at a time up to -max, and then keeps re-touching it: above memory.high
//	    without swap the kernel throttles every allocation, which is memory pressure ("full"
//	    in the group's memory.pressure);
//	stead-oomtest prekill -socket PATH -log FILE
//	    serves io.systemd.oom.Prekill.Notify on PATH and appends, for each call,
//	    "notify CGROUP procs=N t=SECONDS" (the group's process count at that moment, and
//	    CLOCK_BOOTTIME) to FILE;
//	stead-oomtest watch -cgroup PATH -above PCT -out FILE
//	    samples the group's memory.pressure and cgroup.events every 50 ms and writes
//	    "started t=…", "crossed t=… avg10=…" (the first "full avg10" above PCT) and
//	    "gone t=…" (the group empty or removed) to FILE, then exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/api/iosystemdoomprekill"
	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/varlinkd"
	"github.com/stead-os/stead/services/oomd"
)

const cgroupRoot = "/sys/fs/cgroup"

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "hog":
		err = hog(os.Args[2:])
	case "prekill":
		err = prekill(os.Args[2:])
	case "watch":
		err = watch(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stead-oomtest:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: stead-oomtest hog|prekill|watch [OPTION…]")
	os.Exit(2)
}

// now is CLOCK_BOOTTIME in seconds, comparable between the helpers.
func now() float64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

// ownCgroup is the directory of the caller's cgroup.
func ownCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return filepath.Join(cgroupRoot, p), nil
		}
	}
	return "", fmt.Errorf("no cgroup2 line in /proc/self/cgroup")
}

func hog(args []string) error {
	fs := flag.NewFlagSet("hog", flag.ExitOnError)
	high := fs.Int64("high", 0, "memory.high to set on the own cgroup first (0: leave it)")
	maxBytes := fs.Int64("max", 256<<20, "stop mapping more after this much")
	_ = fs.Parse(args)
	if *high > 0 {
		dir, err := ownCgroup()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "memory.high"), []byte(strconv.FormatInt(*high, 10)), 0); err != nil {
			return err
		}
		fmt.Printf("memory.high of %s set to %d\n", dir, *high)
	}
	const chunk = 1 << 20
	page := os.Getpagesize()
	var maps [][]byte
	total := int64(0)
	last := time.Now()
	for round := 0; ; round++ {
		if total < *maxBytes {
			b, err := unix.Mmap(-1, 0, chunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
			if err != nil {
				return err
			}
			maps = append(maps, b)
			total += chunk
		}
		for _, b := range maps {
			for i := 0; i < len(b); i += page {
				b[i] = byte(round)
			}
		}
		if time.Since(last) > 5*time.Second {
			fmt.Printf("hog: %d MiB mapped\n", total>>20)
			last = time.Now()
		}
	}
}

type hook struct {
	mu  sync.Mutex
	log string
}

func (h *hook) Notify(ctx context.Context, c iosystemdoomprekill.VarlinkCall, cgroup string) error {
	t := now()
	procs := -1
	if b, err := os.ReadFile(filepath.Join(cgroupRoot, cgroup, "cgroup.procs")); err == nil {
		procs = len(strings.Fields(string(b)))
	}
	line := fmt.Sprintf("notify %s procs=%d t=%.3f\n", cgroup, procs, t)
	h.mu.Lock()
	f, err := os.OpenFile(h.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = f.WriteString(line)
		f.Close()
	}
	h.mu.Unlock()
	fmt.Print(line)
	if err != nil {
		fmt.Fprintln(os.Stderr, "prekill log:", err)
	}
	return c.ReplyNotify(ctx)
}

func prekill(args []string) error {
	fs := flag.NewFlagSet("prekill", flag.ExitOnError)
	socket := fs.String("socket", iosystemdoomprekill.HookDir+"/stead-oomtest", "socket to serve")
	logFile := fs.String("log", "/run/stead-oomtest-prekill.log", "file to append the calls to")
	_ = fs.Parse(args)
	srv, err := varlinkd.New(varlinkd.Info{Vendor: "stead", Product: "stead-oomtest", Version: "1"}, varlinkd.Hooks{})
	if err != nil {
		return err
	}
	if err := srv.Register(iosystemdoomprekill.VarlinkNew(&hook{log: *logFile})); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*socket), 0o755); err != nil {
		return err
	}
	os.Remove(*socket)
	l, err := net.Listen("unix", *socket)
	if err != nil {
		return err
	}
	ctx, stop := daemon.StopContext(context.Background())
	defer stop()
	fmt.Println("prekill hook serving on", *socket)
	err = srv.Serve(ctx, l, 0)
	os.Remove(*socket)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func watch(args []string) error {
	fs := flag.NewFlagSet("watch", flag.ExitOnError)
	cg := fs.String("cgroup", "", "the group, as /proc/PID/cgroup names it")
	above := fs.Float64("above", 0, "the pressure (percent) to report crossing")
	out := fs.String("out", "", "file to write to")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	_ = fs.Parse(args)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	dir := filepath.Join(cgroupRoot, *cg)
	fmt.Fprintf(f, "started t=%.3f\n", now())
	appeared, crossed := false, false
	deadline := time.Now().Add(*timeout)
	for time.Now().Before(deadline) {
		t := now()
		if b, err := os.ReadFile(filepath.Join(dir, "cgroup.events")); err == nil {
			populated := strings.Contains(string(b), "populated 1")
			if populated && !appeared {
				appeared = true
				fmt.Fprintf(f, "appeared t=%.3f\n", t)
			}
			if appeared && !populated {
				fmt.Fprintf(f, "gone t=%.3f\n", t)
				return nil
			}
		} else if appeared {
			fmt.Fprintf(f, "gone t=%.3f\n", t)
			return nil
		}
		if appeared && !crossed {
			if b, err := os.ReadFile(filepath.Join(dir, "memory.pressure")); err == nil {
				if p, err := oomd.ParsePressure(b, "full"); err == nil && float64(p.Avg10)/100 > *above {
					crossed = true
					fmt.Fprintf(f, "crossed t=%.3f avg10=%s\n", t, oomd.FormatPermyriad(p.Avg10))
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("timed out")
}
