package pid1

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fdStoreEnv is a manager reading its notify socket, with one service whose
// main process is the test itself.
type fdStoreEnv struct {
	t    *testing.T
	m    *Manager
	us   *unitState
	logs *lockedBuf
	seq  int
}

func newFDStoreEnv(t *testing.T, service string) *fdStoreEnv {
	t.Helper()
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
	us := loadService(t, root, "s.service", "[Service]\nType=notify\nExecStart=/bin/true\n"+service)
	us.active, us.sub, us.svc.phase = StateActive, subRunning, phaseRunning
	us.svc.mainPID = os.Getpid()
	m.units["s.service"] = us
	done := make(chan struct{})
	go func() { m.readNotify(m.notifyConn, notifyMaxFDs); close(done) }()
	t.Cleanup(func() {
		m.notifyConn.Close()
		<-done
		m.closeFDStores()
	})
	return &fdStoreEnv{t: t, m: m, us: us, logs: logs}
}

// send sends msg with fds and waits until the manager has applied it.
func (e *fdStoreEnv) send(msg string, fds ...int) {
	e.t.Helper()
	e.seq++
	mark := fmt.Sprintf("mark-%d", e.seq)
	if err := sendNotify(e.m.notifyPath, msg+"\nSTATUS="+mark, fds); err != nil {
		e.t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		e.m.mu.Lock()
		st := e.us.svc.status
		e.m.mu.Unlock()
		if st == mark {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("message %q not applied", msg)
		}
	}
}

// names lists the store's names in order.
func (e *fdStoreEnv) names() string {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	var l []string
	for _, s := range e.us.svc.fdStore {
		l = append(l, s.name)
	}
	return strings.Join(l, ":")
}

func pipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

func TestFDStoreNames(t *testing.T) {
	e := newFDStoreEnv(t, "FileDescriptorStoreMax=10\n")
	r1, w1 := pipe(t)
	r2, w2 := pipe(t)
	r3, _ := pipe(t)
	e.send("FDSTORE=1\nFDNAME=alpha", r1, w1)
	e.send("FDSTORE=1", r2)
	e.send("FDSTORE=1\nFDNAME=bad:name", w2)
	e.send("FDSTORE=1\nFDNAME="+strings.Repeat("x", 256), r3)
	e.send("STATUS=no-fdstore", w1) // fds without FDSTORE=1 are closed, not stored
	if got, want := e.names(), "alpha:alpha:stored:stored:stored"; got != want {
		t.Errorf("names %q, want %q", got, want)
	}
	if !strings.Contains(e.logs.String(), "invalid FDNAME=") {
		t.Errorf("no warning for the invalid names:\n%s", e.logs)
	}
	// Handed back after the socket fds (none here), named.
	e.m.mu.Lock()
	fds, env, nSock := e.m.listenFDs(e.us)
	e.m.mu.Unlock()
	if len(fds) != 5 || nSock != 0 || strings.Join(env, " ") != "LISTEN_FDS=5 LISTEN_FDNAMES=alpha:alpha:stored:stored:stored" {
		t.Errorf("listenFDs: %v %q %d", fds, env, nSock)
	}
}

func TestFDStoreDedupe(t *testing.T) {
	e := newFDStoreEnv(t, "FileDescriptorStoreMax=10\n")
	r, _ := pipe(t)
	d, err := unix.Dup(r)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	e.send("FDSTORE=1\nFDNAME=a", r, r, d)
	e.send("FDSTORE=1\nFDNAME=b", d)
	if got := e.names(); got != "a" {
		t.Errorf("names %q: duplicates of one open file description stored", got)
	}
	// Two opens of one file are two open file descriptions: both kept.
	n1, _ := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	n2, _ := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	defer unix.Close(n1)
	defer unix.Close(n2)
	e.send("FDSTORE=1\nFDNAME=null", n1, n2)
	if got := e.names(); got != "a:null:null" {
		t.Errorf("names %q, want a:null:null", got)
	}
	// The fallback without kcmp says the same.
	if !sameFlagsToggle(r, d) || sameFlagsToggle(n1, n2) {
		t.Errorf("sameFlagsToggle: dup %v, two opens %v", sameFlagsToggle(r, d), sameFlagsToggle(n1, n2))
	}
}

func TestFDStoreMax(t *testing.T) {
	e := newFDStoreEnv(t, "FileDescriptorStoreMax=3\n")
	fds, err := openPipes(6)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFDs(fds)
	e.send("FDSTORE=1", fds[:2]...)
	e.send("FDSTORE=1\nFDNAME=more", fds[2:]...)
	if got := e.names(); got != "stored:stored:more" {
		t.Errorf("names %q, want three", got)
	}
	if !strings.Contains(e.logs.String(), "fd store full") {
		t.Errorf("no warning:\n%s", e.logs)
	}

	z := newFDStoreEnv(t, "")
	z.send("FDSTORE=1", fds[0])
	if got := z.names(); got != "" {
		t.Errorf("FileDescriptorStoreMax=0 stored %q", got)
	}
	if !strings.Contains(z.logs.String(), "FileDescriptorStoreMax=0") {
		t.Errorf("no warning:\n%s", z.logs)
	}
}

func TestFDStoreRemove(t *testing.T) {
	e := newFDStoreEnv(t, "FileDescriptorStoreMax=10\n")
	fds, err := openPipes(4)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFDs(fds)
	e.send("FDSTORE=1\nFDNAME=a", fds[0], fds[1])
	e.send("FDSTORE=1\nFDNAME=b", fds[2])
	e.send("FDSTOREREMOVE=1") // no name: ignored
	e.send("FDSTOREREMOVE=1\nFDNAME=a")
	if got := e.names(); got != "b" {
		t.Errorf("names %q, want b", got)
	}
	// Removal comes before storing, within one message.
	e.send("FDSTOREREMOVE=1\nFDSTORE=1\nFDNAME=b", fds[3])
	if got := e.names(); got != "b" {
		t.Errorf("names %q, want the new b only", got)
	}
	if !strings.Contains(e.logs.String(), "FDSTOREREMOVE=1 without a valid FDNAME=") {
		t.Errorf("no warning:\n%s", e.logs)
	}
}

// A stored fd that hangs up is dropped, unless it was stored with FDPOLL=0.
func TestFDStorePollDrop(t *testing.T) {
	e := newFDStoreEnv(t, "FileDescriptorStoreMax=10\n")
	var p1, p2 [2]int
	if err := unix.Pipe2(p1[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if err := unix.Pipe2(p2[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p1[1])
	defer unix.Close(p2[1])
	e.send("FDSTORE=1\nFDNAME=watched", p1[0])
	e.send("FDSTORE=1\nFDNAME=kept\nFDPOLL=0", p2[0])
	unix.Close(p1[0])
	unix.Close(p2[0])
	if got := e.names(); got != "watched:kept" {
		t.Fatalf("names %q", got)
	}
	unix.Close(p1[1]) // the read end stored now hangs up
	unix.Close(p2[1])
	p1[1], p2[1] = -1, -1
	for deadline := time.Now().Add(10 * time.Second); e.names() != "kept"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("names %q, want kept", e.names())
		}
	}
	e.m.mu.Lock()
	ep := e.m.fdPoll.ep
	e.m.mu.Unlock()
	if ep != nil {
		t.Error("the poller outlives the last fd it watches")
	}
}

// FileDescriptorStorePreserve= decides which stops release the store.
func TestFDStorePreserve(t *testing.T) {
	for _, c := range []struct {
		mode                                  string
		autoRestart, restartJob, dead, failed bool
	}{
		{"no", false, false, false, false},
		{"restart", true, true, false, false},
		{"on-success", true, true, true, false},
		{"yes", true, true, true, true},
	} {
		t.Run(c.mode, func(t *testing.T) {
			e := newFDStoreEnv(t, "FileDescriptorStoreMax=10\nFileDescriptorStorePreserve="+c.mode+"\n")
			m, us := e.m, e.us
			fds, err := openPipes(2)
			if err != nil {
				t.Fatal(err)
			}
			defer closeFDs(fds)
			kept := func(what string, want bool, f func()) {
				t.Helper()
				e.send("FDSTORE=1\nFDPOLL=0", fds[0])
				m.mu.Lock()
				f()
				got := len(us.svc.fdStore) > 0
				m.releaseFDStore(us)
				us.active, us.sub = StateActive, subRunning
				delete(m.jobs, us.u.Name)
				m.mu.Unlock()
				if got != want {
					t.Errorf("%s: kept %v, want %v", what, got, want)
				}
			}
			kept("auto-restart", c.autoRestart, func() { m.setState(us, StateActivating, subAutoRestart) })
			kept("restart job", c.restartJob, func() {
				m.jobs[us.u.Name] = &job{typ: JobRestart, us: us, run: true}
				m.setState(us, StateInactive, subDead)
			})
			kept("stopped", c.dead, func() { m.setState(us, StateInactive, subDead) })
			kept("failed", c.failed, func() { m.setState(us, StateFailed, subFailed) })
		})
	}
}

// Bad input is refused with a log line and disturbs nothing: fds from a process that is not
// the unit's main process, an invalid FDNAME= (stored under the default name, as upstream),
// FDSTORE=1 over the limit.
func TestFDStoreBadInput(t *testing.T) {
	e := newFDStoreEnv(t, "FileDescriptorStoreMax=2\n")
	r1, w1 := pipe(t)
	e.send("FDSTORE=1\nFDNAME=good", r1)
	d, err := unix.Dup(w1)
	if err != nil {
		t.Fatal(err)
	}
	e.m.mu.Lock()
	e.m.handleNotify(os.Getpid()+100000, []byte("FDSTORE=1\nFDNAME=foreign"), []int{d})
	e.m.mu.Unlock()
	if _, err := unix.FcntlInt(uintptr(d), unix.F_GETFD, 0); err == nil {
		t.Error("an fd from a foreign process was kept open")
	}
	r2, _ := pipe(t)
	r3, _ := pipe(t)
	e.send("FDSTORE=1\nFDNAME=bad\x01name", r2)
	e.send("FDSTORE=1\nFDNAME=over", r3)
	if got := e.names(); got != "good:stored" {
		t.Errorf("store %q", got)
	}
	for _, want := range []string{"no unit's main process, closed", "invalid FDNAME=", "fd store full"} {
		if !strings.Contains(e.logs.String(), want) {
			t.Errorf("no %q in the log:\n%s", want, e.logs)
		}
	}
	if e.us.active != StateActive {
		t.Errorf("the unit is %s", e.us.active)
	}
}
