package pid1

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sendNotify sends msg with fds to the notify socket at path.
func sendNotify(path, msg string, fds []int) error {
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(s, []byte(msg), oob, &unix.SockaddrUnix{Name: path}, 0)
}

// openPipes returns n fds: the ends of n/2 pipes.
func openPipes(n int) ([]int, error) {
	var fds []int
	for len(fds) < n {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			closeFDs(fds)
			return nil, err
		}
		fds = append(fds, p[:]...)
	}
	return fds, nil
}

// sendManyFDs is the main process of a Type=notify service (TestMain's
// -helper=fdstore): 100 FDSTORE=1 messages with 250 fds each, then
// READY=1.
func sendManyFDs() {
	fds, err := openPipes(250)
	if err != nil {
		fmt.Println(err)
		os.Exit(4)
	}
	for i := 0; i < 100; i++ {
		if err := sendNotify(os.Getenv("NOTIFY_SOCKET"), "FDSTORE=1\nFDNAME=pipes", fds); err != nil {
			fmt.Println(err)
			os.Exit(5)
		}
	}
	if err := sendNotify(os.Getenv("NOTIFY_SOCKET"), "READY=1", nil); err != nil {
		os.Exit(6)
	}
	waitTerm()
}

// openFDs counts the fds open in this process, the manager's included.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// waitFDs waits for the count of open fds to come back to base.
func waitFDs(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n := openFDs(t); n != base; n = openFDs(t) {
		if time.Now().After(deadline) {
			ents, _ := os.ReadDir("/proc/self/fd")
			var l []string
			for _, e := range ents {
				target, _ := os.Readlink("/proc/self/fd/" + e.Name())
				l = append(l, e.Name()+"→"+target)
			}
			t.Fatalf("%d fds open, %d before: the notify socket leaks fds\n%s", n, base, strings.Join(l, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Whatever notifications carry, every fd received is closed or stored, and
// the store is released when the service stops: from a service's main
// process and from anyone else, in messages too long to read, repeated
// until a leak would show.
func TestNotifyClosesEveryFD(t *testing.T) {
	root := shortRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	writeUnit(t, root, "default.target", "[Unit]\n")
	writeUnit(t, root, "fdstore.service", "[Service]\nType=notify\nFileDescriptorStoreMax=10\nExecStart="+self+" -helper=fdstore\n")
	m := runManager(t, root)
	// The baseline counts what the manager keeps open until it stops: its
	// Varlink sockets, once they exist, and the /dev/null its first spawn
	// opens (opened here, as a spawn's log pipe closes only some time after).
	for _, p := range []string{SocketPath, ManagedOOMSocket} {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(root, p)); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatal(err)
			}
		}
	}
	m.mu.Lock()
	if m.devnull == nil {
		m.devnull, err = os.Open(os.DevNull)
	}
	m.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	base := openFDs(t)

	fds, err := openPipes(250)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := sendNotify(m.notifyPath, "FDSTORE=1", fds); err != nil {
			t.Fatal(err)
		}
	}
	if err := sendNotify(m.notifyPath, "STATUS="+strings.Repeat("x", notifyMaxSize+100), fds[:3]); err != nil {
		t.Fatal(err)
	}
	closeFDs(fds)
	// The service's READY=1 comes after its 100 messages, and after ours.
	j, err := m.Enqueue("fdstore.service", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	if r := waitJob(t, j); r != ResultDone {
		t.Fatalf("fdstore.service: job %s", r)
	}
	j, _ = m.Enqueue("fdstore.service", JobStop)
	if r := waitJob(t, j); r != ResultDone {
		t.Fatalf("stop fdstore.service: job %s", r)
	}
	waitFDs(t, base) // its output pipe closes once it has exited
}

// A datagram with more fds than the control buffer holds arrives
// truncated (MSG_CTRUNC): it is ignored and the fds that did arrive are
// closed; so is a message too long for the buffer (MSG_TRUNC). The kernel
// takes at most 253 fds per message, which is what the manager reads: the
// reader here is given a smaller buffer.
func TestNotifyTruncatedIgnored(t *testing.T) {
	root := shortRoot(t)
	logs := &lockedBuf{}
	m, err := New(Config{Root: root, Host: true, ShimArgv: []string{"/bin/false"},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.openNotify(); err != nil {
		t.Fatal(err)
	}
	us := loadService(t, root, "n.service", "[Service]\nType=notify\nExecStart=/bin/true\n")
	us.active, us.sub, us.svc.phase = StateActive, subRunning, phaseRunning
	us.svc.mainPID = os.Getpid() // the test sends as the service's main process
	m.units["n.service"] = us
	done := make(chan struct{})
	go func() { m.readNotify(m.notifyConn, 8); close(done) }()
	t.Cleanup(func() { m.notifyConn.Close(); <-done })
	status := func() string {
		m.mu.Lock()
		defer m.mu.Unlock()
		return us.svc.status
	}
	waitLog := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), what); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log:\n%s", what, logs)
			}
		}
	}
	base := openFDs(t)
	fds, err := openPipes(10)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFDs(fds)

	if err := sendNotify(m.notifyPath, "STATUS=fits", fds[:8]); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); status() != "fits"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a notification with 8 fds was not applied")
		}
	}
	if err := sendNotify(m.notifyPath, "STATUS=too-many", fds); err != nil {
		t.Fatal(err)
	}
	waitLog("too many fds")
	if err := sendNotify(m.notifyPath, "STATUS="+strings.Repeat("x", notifyMaxSize), fds[:2]); err != nil {
		t.Fatal(err)
	}
	waitLog("too long")
	if s := status(); s != "fits" {
		t.Errorf("status %.20q: a truncated notification was applied", s)
	}
	closeFDs(fds)
	fds = nil
	waitFDs(t, base)
}
