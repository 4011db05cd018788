package luo

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Fake is an in-process LUO device for tests. Like the kernel it preserves only memfds
// (anything else: EOPNOTSUPP), one fd per token, sessions by unique name; Kexec turns the
// outgoing sessions still open into incoming ones, as a kexec reboot would, keeping a
// duplicate of every preserved fd; RetrieveFD returns a new duplicate. Session fds are
// memfds of their own (an inode each), recognised by SessionOf.
type Fake struct {
	mu       sync.Mutex
	out, in  map[string]*fakeSession
	sessions map[[2]uint64]*fakeSession // by the session fd's device and inode
	closed   bool
}

// NewFake returns an empty fake device.
func NewFake() *Fake {
	return &Fake{out: map[string]*fakeSession{}, in: map[string]*fakeSession{}, sessions: map[[2]uint64]*fakeSession{}}
}

type fakeSession struct {
	dev      *Fake
	name     string
	fd       int
	preserve map[uint64]int // token → our duplicate
	finished bool
	incoming bool
	open     bool
	id       [2]uint64 // the session fd's identity
}

// alive says whether the session's fd is still open: whoever holds it may close it with
// close(2), as with the kernel's.
func (s *fakeSession) alive() bool {
	id, err := fileID(s.fd)
	return s.open && err == nil && id == s.id
}

func fileID(fd int) ([2]uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return [2]uint64{}, err
	}
	return [2]uint64{st.Dev, st.Ino}, nil
}

func (f *Fake) newSession(name string, incoming bool) (*fakeSession, error) {
	fd, err := unix.MemfdCreate("luo_session "+name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	id, err := fileID(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	s := &fakeSession{dev: f, name: name, fd: fd, preserve: map[uint64]int{}, incoming: incoming, open: true, id: id}
	f.sessions[id] = s
	return s, nil
}

// CreateSession implements Device.
func (f *Fake) CreateSession(name string) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name == "" || len(name) >= nameLength {
		return nil, unix.EINVAL
	}
	if old, ok := f.out[name]; ok {
		if old.alive() {
			return nil, unix.EEXIST
		}
		old.drop()
		delete(f.sessions, old.id)
	}
	s, err := f.newSession(name, false)
	if err != nil {
		return nil, err
	}
	f.out[name] = s
	return s, nil
}

// RetrieveSession implements Device.
func (f *Fake) RetrieveSession(name string) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.in[name]
	if !ok {
		return nil, &os.PathError{Op: "LUO session", Path: name, Err: os.ErrNotExist}
	}
	delete(f.in, name)
	return s, nil
}

// SessionOf implements Device.
func (f *Fake) SessionOf(fd int) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, err := fileID(fd)
	if err != nil {
		return "", false
	}
	if s, ok := f.sessions[id]; ok {
		return s.name, true
	}
	return "", false
}

// Close implements Device.
func (f *Fake) Close() error { return nil }

// Kexec simulates a kexec reboot: every outgoing session whose fd is still open becomes an
// incoming one with what it preserved (closed sessions and their fds are gone, as the
// kernel drops them); earlier incoming sessions not retrieved are dropped. The caller's own
// fds are its business.
func (f *Fake) Kexec() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.in {
		s.drop()
	}
	f.in = map[string]*fakeSession{}
	for name, s := range f.out {
		delete(f.sessions, s.id)
		if !s.alive() {
			s.drop()
			continue
		}
		// The old session fd goes with the old kernel; the new one is a fresh memfd.
		unix.Close(s.fd)
		ns, err := f.newSession(name, true)
		if err != nil {
			s.drop()
			continue
		}
		ns.preserve, s.preserve = s.preserve, nil
		f.in[name] = ns
	}
	f.out = map[string]*fakeSession{}
}

// Incoming lists the names of the sessions waiting to be retrieved.
func (f *Fake) Incoming() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var l []string
	for n := range f.in {
		l = append(l, n)
	}
	return l
}

func (s *fakeSession) drop() {
	for _, fd := range s.preserve {
		unix.Close(fd)
	}
	s.preserve = nil
}

func (s *fakeSession) PreserveFD(fd int, token uint64) error {
	s.dev.mu.Lock()
	defer s.dev.mu.Unlock()
	if s.incoming || !s.open {
		return unix.EINVAL
	}
	if _, ok := s.preserve[token]; ok {
		return unix.EEXIST
	}
	l, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return unix.EBADF
	}
	if !strings.HasPrefix(l, "/memfd:") {
		return fmt.Errorf("%s: %w", l, unix.EOPNOTSUPP)
	}
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return err
	}
	s.preserve[token] = d
	return nil
}

func (s *fakeSession) RetrieveFD(token uint64) (int, error) {
	s.dev.mu.Lock()
	defer s.dev.mu.Unlock()
	if !s.incoming || s.finished {
		return -1, unix.EINVAL
	}
	fd, ok := s.preserve[token]
	if !ok {
		return -1, unix.ENOENT
	}
	delete(s.preserve, token)
	return fd, nil
}

func (s *fakeSession) Finish() error {
	s.dev.mu.Lock()
	defer s.dev.mu.Unlock()
	if !s.incoming {
		return unix.EINVAL
	}
	s.finished = true
	s.drop()
	return nil
}

func (s *fakeSession) FD() int { return s.fd }

func (s *fakeSession) Close() error {
	s.dev.mu.Lock()
	defer s.dev.mu.Unlock()
	if !s.open {
		return errors.New("session closed twice")
	}
	s.open = false
	if s.incoming {
		s.drop()
	}
	delete(s.dev.sessions, s.id)
	return unix.Close(s.fd)
}
