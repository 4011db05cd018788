package pid1

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// shortRoot is a root directory with a short path: socket paths are
// limited to 108 bytes.
func shortRoot(t *testing.T) string {
	t.Helper()
	root, err := os.MkdirTemp("", "pid1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	return root
}

// silentSocket listens on path and hands over the first connection it
// accepts, without saying anything on it.
func silentSocket(t *testing.T, path string) <-chan net.Conn {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	conns := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			conns <- c
		}
	}()
	return conns
}

func acceptedConn(t *testing.T, conns <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the manager did not connect to the credential socket")
		return nil
	}
}

// A LoadCredential= socket that accepts and never answers holds only its
// own unit's start: the manager reads it without its lock, so other starts
// and queries go on meanwhile.
func TestCredentialSocketDoesNotBlockManager(t *testing.T) {
	root := shortRoot(t)
	conns := silentSocket(t, filepath.Join(root, "cred.sock"))
	writeUnit(t, root, "default.target", "[Unit]\n")
	writeUnit(t, root, "creds.service", "[Service]\nLoadCredential=x:/cred.sock\nExecStart=/bin/sleep 600\n")
	writeUnit(t, root, "other.service", "[Service]\nExecStart=/bin/sleep 600\n")
	m := runManager(t, root)

	type started struct {
		j   *Job
		err error
	}
	first := make(chan started, 1)
	go func() { // before the fix, this Enqueue itself waits for the socket
		j, err := m.Enqueue("creds.service", JobStart)
		first <- started{j, err}
	}()
	c := acceptedConn(t, conns)

	other := make(chan string, 1)
	go func() {
		j, err := m.Enqueue("other.service", JobStart)
		if err != nil {
			other <- err.Error()
			return
		}
		<-j.Done()
		_ = m.List()
		other <- j.Result()
	}()
	select {
	case r := <-other:
		if r != ResultDone {
			t.Errorf("other.service: %s", r)
		}
	case <-time.After(2 * time.Second): // the socket holds creds.service for 10 s
		t.Fatal("starting another unit waited for the credential socket")
	}
	var s started
	select {
	case s = <-first:
		if s.err != nil {
			t.Fatal(s.err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Enqueue waited for the credential socket")
	}
	if st, _ := m.Status("creds.service"); st.ActiveState != StateActivating || st.SubState != "start" || st.MainPID != 0 {
		t.Errorf("creds.service while its credential is read: %+v", st)
	}

	// The answer arrives: the start goes on with it.
	if _, err := c.Write([]byte("secret")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if r := waitJob(t, s.j); r != ResultDone {
		t.Fatalf("creds.service: job %s", r)
	}
	if b, err := os.ReadFile(filepath.Join(root, "run/credentials/creds.service/x")); err != nil || string(b) != "secret" {
		t.Errorf("credential x: %q %v", b, err)
	}
}

// A socket that never answers still fails the start (result "resources")
// once the read times out; a start that timed out meanwhile (or was
// otherwise abandoned) ignores the credentials that arrive later.
func TestCredentialSocketTimeout(t *testing.T) {
	old := credentialSocketTimeout
	credentialSocketTimeout = 300 * time.Millisecond
	t.Cleanup(func() { credentialSocketTimeout = old }) // after the manager stopped
	root := shortRoot(t)
	silent := silentSocket(t, filepath.Join(root, "silent.sock"))
	late := silentSocket(t, filepath.Join(root, "late.sock"))
	writeUnit(t, root, "default.target", "[Unit]\n")
	writeUnit(t, root, "silent.service", "[Service]\nLoadCredential=x:/silent.sock\nExecStart=/bin/sleep 600\n")
	writeUnit(t, root, "late.service", "[Service]\nLoadCredential=x:/late.sock\nExecStart=/bin/sleep 600\nTimeoutStartSec=100ms\n")
	m := runManager(t, root)

	j, err := m.Enqueue("silent.service", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	acceptedConn(t, silent)
	if r := waitJob(t, j); r != ResultFailed {
		t.Errorf("silent.service: job %s", r)
	}
	if s, _ := m.Status("silent.service"); s.ActiveState != StateFailed || s.Result != "resources" {
		t.Errorf("silent.service: %+v", s)
	}
	if _, err := os.Stat(filepath.Join(root, "run/credentials/silent.service")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("credentials directory of a failed start: %v", err)
	}

	credentialSocketTimeout = 10 * time.Second // longer than late.service's start timeout
	j, err = m.Enqueue("late.service", JobStart)
	if err != nil {
		t.Fatal(err)
	}
	c := acceptedConn(t, late)
	if r := waitJob(t, j); r != ResultFailed {
		t.Errorf("late.service: job %s", r)
	}
	if s, _ := m.Status("late.service"); s.ActiveState != StateFailed || s.Result != "timeout" {
		t.Errorf("late.service: %+v", s)
	}
	if _, err := c.Write([]byte("too late")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	deadline := time.Now().Add(time.Second) // a start that went on would be active in this time
	for time.Now().Before(deadline) {
		if s, _ := m.Status("late.service"); s.ActiveState != StateFailed || s.MainPID != 0 {
			t.Fatalf("late.service started with credentials of an abandoned start: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A credential that cannot be written (here: ENOSPC half-way) fails the
// start without leaving the partial file or the directory behind.
func TestCredentialWriteFailureLeavesNothing(t *testing.T) {
	root := t.TempDir()
	m := newExecTestManager(t, root)
	us := loadService(t, root, "c.service", "[Service]\nExecStart=/bin/true\nSetCredential=a:first\nSetCredential=b:second credential\n")
	all, err := m.collectCredentials(us.u.Name, us.u.Service)
	if err != nil {
		t.Fatal(err)
	}
	write := writeCredentialData
	t.Cleanup(func() { writeCredentialData = write })
	writeCredentialData = func(f *os.File, b []byte) error {
		if string(b) == "first" {
			return write(f, b)
		}
		if _, err := f.Write(b[:len(b)/2]); err != nil {
			return err
		}
		return syscall.ENOSPC
	}
	dir := filepath.Join(root, "run/credentials/c.service")
	err = m.setupCredentials(us, collectedCredentials{all: all})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("setupCredentials: %v, want ENOSPC", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after a failed write: %v", dir, err)
	}
	if us.svc.ex.credsDir != "" {
		t.Errorf("credsDir = %q after a failed write", us.svc.ex.credsDir)
	}

	writeCredentialData = write
	if err := m.setupCredentials(us, collectedCredentials{all: all}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "b")); err != nil || string(b) != "second credential" {
		t.Errorf("b: %q %v", b, err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o500 {
		t.Errorf("%s: %v %v", dir, st, err)
	}
	m.removeCredentials(us)
}
