package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/daemon"
	"github.com/stead-os/stead/lib/notify"
)

// stateMemfds are what state mode stores: three memfds with distinct contents.
var stateMemfds = [][2]string{{"one", "first"}, {"two", "second"}, {"three", "third"}}

// state is `stead-testsvc state -report FILE -listen PATH [-exit-code N -exit-after D]`, the
// service of the TestState… tests: it appends "pid=P names=N1:N2… data=N1=D1,… listen=yes|no"
// to FILE for the fds it was passed; stores what is missing of three memfds (one, two, three)
// and a listening unix socket at PATH (FDNAME=listen) with FDSTORE=1; answers each
// connection on that socket with its pid; sends READY=1; then waits for SIGTERM, or exits
// with -exit-code after -exit-after.
func state() {
	fs := flag.NewFlagSet("state", flag.ExitOnError)
	report := fs.String("report", "", "file to append what the manager passed to")
	listen := fs.String("listen", "", "unix socket path to listen on")
	exitCode := fs.Int("exit-code", 0, "exit with this code after -exit-after")
	exitAfter := fs.Duration("exit-after", 0, "exit after this long (0: wait for SIGTERM)")
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
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	got := map[string]bool{}
	var data []string
	var ln net.Listener
	for i := 0; i < n; i++ {
		fd, name := 3+i, ""
		if i < len(names) {
			name = names[i]
		}
		got[name] = true
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && v == 1 {
			f := os.NewFile(uintptr(fd), name)
			l, err := net.FileListener(f)
			f.Close()
			if err != nil {
				fail(err)
			}
			ln = l
			continue
		}
		b := make([]byte, 256)
		k, err := unix.Pread(fd, b, 0)
		if err != nil {
			data = append(data, name+"=error:"+err.Error())
			continue
		}
		data = append(data, name+"="+string(b[:k]))
	}
	f, err := os.OpenFile(*report, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(f, "pid=%d names=%s data=%s listen=%v\n", os.Getpid(), os.Getenv("LISTEN_FDNAMES"), strings.Join(data, ","), ln != nil)
	f.Close()

	for _, m := range stateMemfds {
		if got[m[0]] {
			continue
		}
		fd, err := unix.MemfdCreate(m[0], unix.MFD_CLOEXEC)
		if err != nil {
			fail(err)
		}
		mf := os.NewFile(uintptr(fd), "memfd:"+m[0])
		if _, err := mf.WriteString(m[1]); err != nil {
			fail(err)
		}
		if _, err := notify.StoreFDs(m[0], false, mf); err != nil {
			fail(err)
		}
		mf.Close()
	}
	if ln == nil && *listen != "" {
		os.Remove(*listen)
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: *listen, Net: "unix"})
		if err != nil {
			fail(err)
		}
		l.SetUnlinkOnClose(false)
		lf, err := l.File()
		if err != nil {
			fail(err)
		}
		if _, err := notify.StoreFDs("listen", false, lf); err != nil {
			fail(err)
		}
		lf.Close()
		ln = l
	}
	if ln != nil {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%d\n", os.Getpid())
				c.Close()
			}
		}()
	}
	if _, err := notify.Ready(); err != nil {
		fail(err)
	}
	if *exitAfter > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(*exitAfter):
			os.Exit(*exitCode)
		}
	}
	<-ctx.Done()
	os.Exit(0)
}

// probe is `stead-testsvc probe -connect PATH -out FILE`: it connects to PATH again and again
// (every 20 ms, each connection waiting up to 30 s for its answer) and rewrites FILE with
// "ok=N refused=M last=ERR" after each try, until killed.
func probe() {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	path := fs.String("connect", "", "unix socket path")
	out := fs.String("out", "", "file for the counts")
	_ = fs.Parse(os.Args[2:])
	ok, refused, last := 0, 0, ""
	for {
		c, err := net.DialTimeout("unix", *path, 30*time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			b := make([]byte, 32)
			n, rerr := c.Read(b)
			c.Close()
			if rerr == nil && n > 0 {
				ok++
			} else {
				refused++
				last = fmt.Sprint("read: ", rerr)
			}
		} else {
			refused++
			last = err.Error()
		}
		_ = os.WriteFile(*out+".tmp", []byte(fmt.Sprintf("ok=%d refused=%d last=%s\n", ok, refused, last)), 0o644)
		_ = os.Rename(*out+".tmp", *out)
		time.Sleep(20 * time.Millisecond)
	}
}
