package notify_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/notify"
)

// manager is a fake service manager: a datagram socket with SO_PASSCRED,
// named in $NOTIFY_SOCKET for the duration of the test.
type manager struct {
	conn *net.UnixConn
	addr string
}

// message is one received notification.
type message struct {
	payload string
	cred    *unix.Ucred
	files   []*os.File
}

func newManager(t testing.TB, abstract bool) *manager {
	t.Helper()
	addr := filepath.Join(t.TempDir(), "notify")
	if abstract {
		addr = fmt.Sprintf("@stead-notify-test-%d-%x", os.Getpid(), rand.Uint64())
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	t.Setenv(notify.EnvSocket, addr)
	return &manager{conn: conn, addr: addr}
}

// recv waits for one datagram and decodes its control messages.
func (m *manager) recv(t testing.TB, timeout time.Duration) (message, error) {
	t.Helper()
	buf := make([]byte, notify.MaxMessageSize+1)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*notify.MaxFDs))
	if err := m.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	n, oobn, flags, _, err := m.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return message{}, err
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		t.Fatalf("truncated datagram, flags %#x", flags)
	}
	msg := message{payload: string(buf[:n])}
	scms, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		t.Fatal(err)
	}
	for i := range scms {
		switch scms[i].Header.Type {
		case unix.SCM_CREDENTIALS:
			if msg.cred, err = unix.ParseUnixCredentials(&scms[i]); err != nil {
				t.Fatal(err)
			}
		case unix.SCM_RIGHTS:
			fds, err := unix.ParseUnixRights(&scms[i])
			if err != nil {
				t.Fatal(err)
			}
			for _, fd := range fds {
				f := os.NewFile(uintptr(fd), "received")
				t.Cleanup(func() { f.Close() })
				msg.files = append(msg.files, f)
			}
		}
	}
	return msg, nil
}

func (m *manager) mustRecv(t testing.TB) message {
	t.Helper()
	msg, err := m.recv(t, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// expectNothing checks that no datagram is queued.
func (m *manager) expectNothing(t testing.TB) {
	t.Helper()
	if msg, err := m.recv(t, 50*time.Millisecond); err == nil {
		t.Fatalf("unexpected message %q", msg.payload)
	}
}

func monotonicUsec(t testing.TB) uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return uint64(ts.Nano() / 1000)
}

func TestMessages(t *testing.T) {
	cases := []struct {
		name string
		send func() (bool, error)
		want string
	}{
		{"Ready", notify.Ready, "READY=1"},
		{"Stopping", notify.Stopping, "STOPPING=1"},
		{"Watchdog", notify.Watchdog, "WATCHDOG=1"},
		{"WatchdogTrigger", notify.WatchdogTrigger, "WATCHDOG=trigger"},
		{"Status", func() (bool, error) { return notify.Status("serving 3 clients: ok=yes") }, "STATUS=serving 3 clients: ok=yes"},
		{"EmptyStatus", func() (bool, error) { return notify.Status("") }, "STATUS="},
		{"MainPID", func() (bool, error) { return notify.MainPID(4242) }, "MAINPID=4242"},
		{"RemoveFDs", func() (bool, error) { return notify.RemoveFDs("varlink") }, "FDSTOREREMOVE=1\nFDNAME=varlink"},
		{"Send", func() (bool, error) { return notify.Send("READY=1\nSTATUS=up\nX_STEAD=1") }, "READY=1\nSTATUS=up\nX_STEAD=1"},
	}
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			m := newManager(t, abstract)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					sent, err := tc.send()
					if err != nil || !sent {
						t.Fatalf("got (%v, %v), want (true, nil)", sent, err)
					}
					msg := m.mustRecv(t)
					if msg.payload != tc.want {
						t.Errorf("payload %q, want %q", msg.payload, tc.want)
					}
					if len(msg.files) != 0 {
						t.Errorf("got %d fds, want none", len(msg.files))
					}
				})
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	m := newManager(t, false)
	if _, err := notify.Ready(); err != nil {
		t.Fatal(err)
	}
	msg := m.mustRecv(t)
	if msg.cred == nil {
		t.Fatal("no SCM_CREDENTIALS")
	}
	if int(msg.cred.Pid) != os.Getpid() || int(msg.cred.Uid) != os.Getuid() || int(msg.cred.Gid) != os.Getgid() {
		t.Errorf("credentials %+v, want pid %d uid %d gid %d", *msg.cred, os.Getpid(), os.Getuid(), os.Getgid())
	}
}

func TestReloading(t *testing.T) {
	m := newManager(t, false)
	before := monotonicUsec(t)
	if _, err := notify.Reloading(); err != nil {
		t.Fatal(err)
	}
	after := monotonicUsec(t)
	msg := m.mustRecv(t)
	rest, ok := strings.CutPrefix(msg.payload, "RELOADING=1\nMONOTONIC_USEC=")
	if !ok {
		t.Fatalf("payload %q", msg.payload)
	}
	usec, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		t.Fatalf("payload %q: %v", msg.payload, err)
	}
	if usec < before || usec > after {
		t.Errorf("MONOTONIC_USEC=%d outside [%d, %d]", usec, before, after)
	}
}

func TestStoreFDs(t *testing.T) {
	m := newManager(t, false)
	r1, w1 := pipe(t)
	r2, w2 := pipe(t)

	if sent, err := notify.StoreFDs("conn-1", false, w1, w2); err != nil || !sent {
		t.Fatalf("StoreFDs: (%v, %v)", sent, err)
	}
	msg := m.mustRecv(t)
	if want := "FDSTORE=1\nFDNAME=conn-1\nFDPOLL=0"; msg.payload != want {
		t.Errorf("payload %q, want %q", msg.payload, want)
	}
	if msg.cred == nil || int(msg.cred.Pid) != os.Getpid() {
		t.Errorf("credentials %+v alongside fds", msg.cred)
	}
	if len(msg.files) != 2 {
		t.Fatalf("got %d fds, want 2", len(msg.files))
	}
	// The received descriptors are the pipes' write ends, in order: data
	// written through them comes out of our read ends.
	for i, pr := range []struct{ r, w *os.File }{{r1, w1}, {r2, w2}} {
		want := fmt.Sprintf("through fd %d", i)
		if _, err := msg.files[i].WriteString(want); err != nil {
			t.Fatal(err)
		}
		msg.files[i].Close()
		pr.w.Close()
		got := make([]byte, 64)
		n, err := pr.r.Read(got)
		if err != nil || string(got[:n]) != want {
			t.Errorf("fd %d: read (%q, %v), want %q", i, got[:n], err, want)
		}
	}
}

func TestStoreFDsPoll(t *testing.T) {
	m := newManager(t, true)
	_, w := pipe(t)
	if _, err := notify.StoreFDs("watched", true, w); err != nil {
		t.Fatal(err)
	}
	msg := m.mustRecv(t)
	if want := "FDSTORE=1\nFDNAME=watched"; msg.payload != want {
		t.Errorf("payload %q, want %q", msg.payload, want)
	}
	if len(msg.files) != 1 {
		t.Errorf("got %d fds, want 1", len(msg.files))
	}
	// The caller's file is untouched and still usable.
	if _, err := w.WriteString("x"); err != nil {
		t.Errorf("write to our copy after sending: %v", err)
	}
}

func TestStoreFDsValidation(t *testing.T) {
	m := newManager(t, false)
	_, w := pipe(t)
	bad := []string{"", "a:b", "line\nbreak", "tab\there", "del\x7f", "nul\x00", "späť", strings.Repeat("a", 256)}
	for _, name := range bad {
		if sent, err := notify.StoreFDs(name, true, w); !errors.Is(err, notify.ErrInvalidFDName) || sent {
			t.Errorf("StoreFDs(%q) = (%v, %v), want ErrInvalidFDName", name, sent, err)
		}
		if _, err := notify.RemoveFDs(name); !errors.Is(err, notify.ErrInvalidFDName) {
			t.Errorf("RemoveFDs(%q) = %v, want ErrInvalidFDName", name, err)
		}
	}
	m.expectNothing(t)
	for _, name := range []string{"varlink", "with space", "a.b-c_d/e", strings.Repeat("a", 255)} {
		if err := notify.ValidateFDName(name); err != nil {
			t.Errorf("ValidateFDName(%q) = %v", name, err)
		}
	}
	if _, err := notify.StoreFDs("none", true); !errors.Is(err, notify.ErrInvalidMessage) {
		t.Errorf("StoreFDs without files = %v, want ErrInvalidMessage", err)
	}
	if _, err := notify.Send("FDSTORE=1", nil); !errors.Is(err, notify.ErrInvalidMessage) {
		t.Errorf("Send with a nil file = %v, want ErrInvalidMessage", err)
	}
	m.expectNothing(t)
}

func TestInvalidMessages(t *testing.T) {
	m := newManager(t, false)
	for name, send := range map[string]func() (bool, error){
		"empty":        func() (bool, error) { return notify.Send("") },
		"too long":     func() (bool, error) { return notify.Send(strings.Repeat("x", notify.MaxMessageSize+1)) },
		"status LF":    func() (bool, error) { return notify.Status("a\nREADY=1") },
		"status CR":    func() (bool, error) { return notify.Status("a\rb") },
		"pid 0":        func() (bool, error) { return notify.MainPID(0) },
		"too many fds": func() (bool, error) { return notify.Send("FDSTORE=1", make([]*os.File, notify.MaxFDs+1)...) },
	} {
		if sent, err := send(); !errors.Is(err, notify.ErrInvalidMessage) || sent {
			t.Errorf("%s: (%v, %v), want ErrInvalidMessage", name, sent, err)
		}
	}
	m.expectNothing(t)
	if _, err := notify.Send(strings.Repeat("x", notify.MaxMessageSize)); err != nil {
		t.Errorf("message of exactly MaxMessageSize: %v", err)
	}
	if msg := m.mustRecv(t); len(msg.payload) != notify.MaxMessageSize {
		t.Errorf("received %d bytes", len(msg.payload))
	}
}

func TestUnset(t *testing.T) {
	t.Setenv(notify.EnvSocket, "")
	os.Unsetenv(notify.EnvSocket)
	_, w := pipe(t)
	for name, send := range map[string]func() (bool, error){
		"Ready":     notify.Ready,
		"Reloading": notify.Reloading,
		"Status":    func() (bool, error) { return notify.Status("x") },
		"StoreFDs":  func() (bool, error) { return notify.StoreFDs("x", false, w) },
		"Barrier":   func() (bool, error) { return notify.Barrier(context.Background()) },
	} {
		if sent, err := send(); sent || err != nil {
			t.Errorf("%s: (%v, %v), want (false, nil)", name, sent, err)
		}
	}
	var n *notify.Notifier
	if sent, err := n.Ready(); sent || err != nil || n.Enabled() {
		t.Errorf("nil Notifier: (%v, %v)", sent, err)
	}
	// Input is still validated, so bugs show up outside the manager too.
	if _, err := notify.StoreFDs("a:b", false, w); !errors.Is(err, notify.ErrInvalidFDName) {
		t.Errorf("bad name without socket: %v", err)
	}
}

func TestSocketAddress(t *testing.T) {
	for addr, want := range map[string]error{
		"vsock:2:1234":                  notify.ErrUnsupportedSocket,
		"relative/notify":               notify.ErrInvalidSocket,
		"@":                             notify.ErrInvalidSocket,
		"/" + strings.Repeat("a", 107):  notify.ErrInvalidSocket,
		"/" + strings.Repeat("a", 106):  nil,
		"@" + strings.Repeat("a", 106):  nil,
		"/run/systemd/notify":           nil,
		"@/org/freedesktop/systemd1/nt": nil,
	} {
		n, err := notify.New(addr)
		if !errors.Is(err, want) || (want != nil) != (err != nil) {
			t.Errorf("New(%q): %v, want %v", addr, err, want)
		}
		if err == nil && n.Socket() != addr {
			t.Errorf("New(%q).Socket() = %q", addr, n.Socket())
		}
	}
	t.Setenv(notify.EnvSocket, "vsock:2:1234")
	if _, err := notify.Ready(); !errors.Is(err, notify.ErrUnsupportedSocket) {
		t.Errorf("Ready with vsock: %v", err)
	}
	// A well-formed address without a listener is a send error.
	t.Setenv(notify.EnvSocket, filepath.Join(t.TempDir(), "missing"))
	if sent, err := notify.Ready(); err == nil || sent {
		t.Errorf("Ready to a missing socket: (%v, %v)", sent, err)
	}
}

func TestNotifierCapturesAddress(t *testing.T) {
	m := newManager(t, false)
	n, err := notify.FromEnv()
	if err != nil || !n.Enabled() || n.Socket() != m.addr {
		t.Fatalf("FromEnv: %v %v", n, err)
	}
	os.Unsetenv(notify.EnvSocket)
	if sent, err := n.Ready(); err != nil || !sent {
		t.Fatalf("Ready after unsetenv: (%v, %v)", sent, err)
	}
	if msg := m.mustRecv(t); msg.payload != "READY=1" {
		t.Errorf("payload %q", msg.payload)
	}
}

func TestBarrier(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			m := newManager(t, abstract)
			got := make(chan error, 1)
			go func() {
				msg, err := m.recv(t, 5*time.Second)
				switch {
				case err != nil:
				case msg.payload != "BARRIER=1":
					err = fmt.Errorf("payload %q", msg.payload)
				case len(msg.files) != 1:
					err = fmt.Errorf("got %d fds, want exactly 1", len(msg.files))
				}
				for _, f := range msg.files {
					f.Close()
				}
				got <- err
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if sent, err := notify.Barrier(ctx); err != nil || !sent {
				t.Errorf("Barrier: (%v, %v)", sent, err)
			}
			if err := <-got; err != nil {
				t.Error(err)
			}
		})
	}
}

func TestBarrierTimeout(t *testing.T) {
	m := newManager(t, false)
	held := make(chan []*os.File, 1)
	go func() {
		msg, _ := m.recv(t, 5*time.Second)
		held <- msg.files // keep the write end open: the manager is "stuck"
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	sent, err := notify.Barrier(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || sent {
		t.Errorf("Barrier: (%v, %v), want DeadlineExceeded", sent, err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Barrier returned after %v", d)
	}
	files := <-held
	if len(files) != 1 {
		t.Errorf("manager got %d fds", len(files))
	}
}

func TestBarrierCancel(t *testing.T) {
	newManager(t, false) // nobody reads: the fd stays in flight
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := notify.Barrier(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Barrier: %v, want Canceled", err)
	}
	if _, err := notify.Barrier(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Barrier with a done context: %v, want Canceled", err)
	}
}

func TestWatchdogEnabled(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	cases := []struct {
		usec, pid string // "-" = unset
		want      time.Duration
		wantErr   bool
	}{
		{"-", "-", 0, false},
		{"30000000", "-", 30 * time.Second, false},
		{"30000000", self, 30 * time.Second, false},
		{"30000000", "1", 0, false},
		{"0", "-", 0, true},
		{"18446744073709551615", "-", 0, true},
		{"-5", "-", 0, true},
		{"soon", "-", 0, true},
		{"30000000", "me", 0, true},
		{"30000000", "0", 0, true},
	}
	for _, tc := range cases {
		setOrUnset(t, notify.EnvWatchdogUsec, tc.usec)
		setOrUnset(t, notify.EnvWatchdogPID, tc.pid)
		got, err := notify.WatchdogEnabled()
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("USEC=%s PID=%s: (%v, %v), want %v (err %v)", tc.usec, tc.pid, got, err, tc.want, tc.wantErr)
		}
	}
}

func setOrUnset(t *testing.T, key, value string) {
	t.Setenv(key, value)
	if value == "-" {
		os.Unsetenv(key)
	}
}

func pipe(t testing.TB) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

func BenchmarkReady(b *testing.B) {
	m := newManager(b, false)
	// Drain concurrently so the receive queue never fills and blocks us.
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		oob := make([]byte, 128)
		for {
			if _, _, _, _, err := m.conn.ReadMsgUnix(buf, oob); err != nil {
				return
			}
		}
	}()
	n, err := notify.FromEnv()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Ready(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	m.conn.Close()
	<-done
}
