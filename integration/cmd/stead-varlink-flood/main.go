// Command stead-varlink-flood is a test-only hostile Varlink client: it attacks one socket the
// way an unprivileged local user could, holds the attack until its standard input closes, and
// reports what it achieved. The TestVarlinkLimits… integration tests run it against real
// daemons.
//
//	stead-varlink-flood --socket=PATH [--uid=N] --fds=N            one connection passing N fds
//	                                                               (250 per sendmsg) in a message
//	                                                               that never ends
//	stead-varlink-flood --socket=PATH [--uid=N] --idle=N           N idle connections
//	stead-varlink-flood --socket=PATH [--uid=N] --unfinished=N --size=BYTES
//	                                                               N connections, each sending
//	                                                               BYTES of a message without its NUL
//
// Started as root with --uid, it first raises its own fd limit (so it can hold more
// connections than the daemon's), then drops to that uid and gid. Once the attack is in
// place it prints one line "ready KEY=VALUE…" on standard output.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	socket := flag.String("socket", "", "the Varlink socket to attack")
	uid := flag.Int("uid", -1, "drop to this uid (and gid) before attacking")
	fds := flag.Int("fds", 0, "fds to pass on one connection")
	idle := flag.Int("idle", 0, "idle connections to open")
	unfinished := flag.Int("unfinished", 0, "connections sending an unfinished message")
	size := flag.Int("size", 16<<20, "bytes of each unfinished message")
	flag.Parse()
	if *socket == "" {
		fmt.Fprintln(os.Stderr, "stead-varlink-flood: --socket is required")
		os.Exit(2)
	}
	if err := setup(*uid, *idle+*unfinished+1024); err != nil {
		fmt.Fprintln(os.Stderr, "stead-varlink-flood:", err)
		os.Exit(1)
	}
	var report string
	var hold []io.Closer
	switch {
	case *fds > 0:
		report, hold = fdBomb(*socket, *fds)
	case *idle > 0:
		report, hold = idleConns(*socket, *idle)
	case *unfinished > 0:
		report, hold = unfinishedMessages(*socket, *unfinished, *size)
	default:
		fmt.Fprintln(os.Stderr, "stead-varlink-flood: say --fds, --idle or --unfinished")
		os.Exit(2)
	}
	fmt.Println("ready", report)
	io.Copy(io.Discard, os.Stdin)
	for _, c := range hold {
		c.Close()
	}
}

// setup raises the fd limit to hold n fds and drops to uid.
func setup(uid, n int) error {
	lim := &unix.Rlimit{Cur: uint64(n + 64), Max: uint64(n + 64)}
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err == nil && cur.Max > lim.Max {
		lim.Max, lim.Cur = cur.Max, cur.Max
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, lim); err != nil {
		return fmt.Errorf("fd limit %d: %w", lim.Max, err)
	}
	if uid < 0 {
		return nil
	}
	if err := syscall.Setgroups(nil); err != nil {
		return err
	}
	if err := syscall.Setresgid(uid, uid, uid); err != nil {
		return err
	}
	return syscall.Setresuid(uid, uid, uid)
}

func dial(socket string) (*net.UnixConn, error) {
	for tries := 0; ; tries++ {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socket, Net: "unix"})
		if err == nil {
			return c, nil
		}
		// A full accept queue answers EAGAIN at once: wait for the server to drain it.
		if !errors.Is(err, syscall.EAGAIN) || tries > 2000 {
			return nil, err
		}
		time.Sleep(time.Millisecond)
	}
}

// fdBomb passes n copies of a pipe fd, 250 per sendmsg, each with one byte of a message that
// never ends.
func fdBomb(socket string, n int) (string, []io.Closer) {
	c, err := dial(socket)
	if err != nil {
		return "connected=0 err=" + quote(err), nil
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return "connected=1 err=" + quote(err), []io.Closer{c}
	}
	sent := 0
	var sendErr error
	first := []byte(`{"method":"io.systemd.service.Ping","parameters":{`)
	for sent < n {
		batch := min(250, n-sent)
		rights := make([]int, batch)
		for i := range rights {
			rights[i] = p[0]
		}
		b := []byte(" ")
		if sent == 0 {
			b = first
		}
		if err := sendRetrying(c, b, unix.UnixRights(rights...)); err != nil {
			sendErr = err
			break
		}
		sent += batch
	}
	unix.Close(p[0])
	unix.Close(p[1])
	return fmt.Sprintf("connected=1 sent=%d err=%s", sent, quote(sendErr)), []io.Closer{c}
}

// sendRetrying sends b with oob, waiting while the kernel refuses because too many of our fds
// are still in flight (ETOOMANYREFS: the server has not read them yet), for 30 s at most.
func sendRetrying(c *net.UnixConn, b, oob []byte) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, _, err := c.WriteMsgUnix(b, oob, nil)
		if !errors.Is(err, syscall.ETOOMANYREFS) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

// idleConns opens n connections and sends nothing; the server may close those over its
// limits, which the attack does not notice (as an idle client would not).
func idleConns(socket string, n int) (string, []io.Closer) {
	var hold []io.Closer
	var lastErr error
	for range n {
		c, err := dial(socket)
		if err != nil {
			lastErr = err
			continue
		}
		hold = append(hold, c)
	}
	return fmt.Sprintf("connected=%d err=%s", len(hold), quote(lastErr)), hold
}

// unfinishedMessages sends size bytes of one message without its NUL on each of n connections
// at once; it reports how many the server took whole and how many it cut off.
func unfinishedMessages(socket string, n, size int) (string, []io.Closer) {
	body := append([]byte(`{"method":"io.systemd.service.Ping","parameters":{`), bytes.Repeat([]byte(" "), size)...)[:size]
	var mu sync.Mutex
	var hold []io.Closer
	var whole, cut int
	var wg sync.WaitGroup
	for range n {
		c, err := dial(socket)
		if err != nil {
			cut++
			continue
		}
		hold = append(hold, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Write(body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				cut++
			} else {
				whole++
			}
		}()
	}
	wg.Wait()
	return fmt.Sprintf("whole=%d cut=%d", whole, cut), hold
}

func quote(err error) string {
	if err == nil {
		return "none"
	}
	return fmt.Sprintf("%q", err.Error())
}
