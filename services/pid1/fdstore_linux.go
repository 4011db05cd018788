package pid1

// The fd store: fds a service's main process hands to the manager with
// FDSTORE=1 (sd_notify) and gets back, after its socket fds, when it starts
// again. See docs/init.md, "File descriptor store".

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stead-os/stead/lib/notify"
	"github.com/stead-os/stead/lib/unit"
)

// fdStoreDefaultName is the name of a stored fd sent without a (valid) FDNAME=.
const fdStoreDefaultName = "stored"

// storedFD is one fd of a service's store.
type storedFD struct {
	fd   int
	name string
	id   uint32 // its key in the poller, 0 when not watched (FDPOLL=0, or not pollable)
}

// fdPoller watches the stored fds of every service for EPOLLHUP and
// EPOLLERR with one epoll instance, created at the first fd to watch. The
// epoll fd is itself polled by the Go runtime, so the goroutine reading it
// ends when it is closed. Its fields are guarded by m.mu.
type fdPoller struct {
	ep      *os.File
	epfd    int // ep's fd, for epoll_ctl (ep.Fd() would make it blocking)
	next    uint32
	watched map[uint32]*unitState
}

// fdMessage is what a notification says about the fd store.
type fdMessage struct {
	store, remove bool // FDSTORE=1, FDSTOREREMOVE=1
	noPoll        bool // FDPOLL=0
	name          string
	named         bool // FDNAME= was given
}

// parseFDMessage reads the fd store fields of msg; the first FDNAME= counts.
func parseFDMessage(msg []byte) fdMessage {
	var f fdMessage
	for _, line := range strings.Split(string(msg), "\n") {
		switch {
		case line == "FDSTORE=1":
			f.store = true
		case line == "FDSTOREREMOVE=1":
			f.remove = true
		case line == "FDPOLL=0":
			f.noPoll = true
		case strings.HasPrefix(line, "FDNAME=") && !f.named:
			f.name, f.named = strings.TrimPrefix(line, "FDNAME="), true
		}
	}
	return f
}

// storeFDs applies the fd store part of a notification of us's main process
// and takes the fds it carried: FDSTOREREMOVE=1 with a valid FDNAME= drops
// the stored fds of that name first; with FDSTORE=1 the fds are then kept,
// under FDNAME= (fdStoreDefaultName when missing or invalid), except those
// already in the store (the same open file description) and those beyond
// fdStoreLimit(us), which are closed. Without FDSTORE=1 they are closed.
// m.mu held.
func (m *Manager) storeFDs(us *unitState, f fdMessage, fds []int) {
	if f.remove {
		if err := notify.ValidateFDName(f.name); !f.named || err != nil {
			m.log.Warn("FDSTOREREMOVE=1 without a valid FDNAME=, ignored", "unit", us.u.Name, "name", f.name)
		} else {
			m.removeStoredFDs(us, f.name)
		}
	}
	if len(fds) == 0 {
		return
	}
	if !f.store {
		m.log.Debug("fds received without FDSTORE=1, closed", "unit", us.u.Name, "fds", len(fds))
		closeFDs(fds)
		return
	}
	limit := fdStoreLimit(us)
	if limit <= 0 {
		m.log.Warn("FDSTORE=1 but FileDescriptorStoreMax=0: fds closed", "unit", us.u.Name, "fds", len(fds))
		closeFDs(fds)
		return
	}
	name := fdStoreDefaultName
	if f.named {
		if err := notify.ValidateFDName(f.name); err != nil {
			m.log.Warn("invalid FDNAME=, fds stored as "+fdStoreDefaultName, "unit", us.u.Name, "err", err)
		} else {
			name = f.name
		}
	}
	full := 0
	for _, fd := range fds {
		if m.alreadyStored(us, fd) {
			unix.Close(fd)
			continue
		}
		if len(us.svc.fdStore) >= limit {
			unix.Close(fd)
			full++
			continue
		}
		s := &storedFD{fd: fd, name: name}
		if !f.noPoll {
			if err := m.watchFD(us, s); err != nil {
				m.log.Warn("cannot watch a stored fd, closed", "unit", us.u.Name, "name", name, "err", err)
				unix.Close(fd)
				continue
			}
		}
		us.svc.fdStore = append(us.svc.fdStore, s)
	}
	if full > 0 {
		m.log.Warn("fd store full (FileDescriptorStoreMax=), fds closed", "unit", us.u.Name, "closed", full, "max", limit)
	}
	m.log.Debug("fd store", "unit", us.u.Name, "fds", len(us.svc.fdStore))
}

// alreadyStored says whether fd refers to the same open file description
// as an fd in us's store.
func (m *Manager) alreadyStored(us *unitState, fd int) bool {
	for _, s := range us.svc.fdStore {
		if sameFile(s.fd, fd) {
			return true
		}
	}
	return false
}

// sameFile says whether fds a and b share one open file description (what
// dup and SCM_RIGHTS create), not merely one inode: two opens of one file
// are different fds to store. The inodes are compared first, then the
// kernel is asked with kcmp(KCMP_FILE); where kcmp is not available
// (kernel without CONFIG_KCMP, or refused), toggling O_NONBLOCK on a shows
// whether b's status flags change with it.
func sameFile(a, b int) bool {
	if a == b {
		return true
	}
	var sa, sb unix.Stat_t
	if unix.Fstat(a, &sa) != nil || unix.Fstat(b, &sb) != nil || sa.Dev != sb.Dev || sa.Ino != sb.Ino {
		return false
	}
	const kcmpFile = 0
	pid := uintptr(os.Getpid())
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, pid, pid, kcmpFile, uintptr(a), uintptr(b), 0)
	if errno == 0 {
		return r == 0
	}
	return sameFlagsToggle(a, b)
}

// sameFlagsToggle is sameFile without kcmp, for fds of one inode: the
// status flags live in the open file description, so a change made
// through a shows through b only when they share it.
func sameFlagsToggle(a, b int) bool {
	fa, err1 := unix.FcntlInt(uintptr(a), unix.F_GETFL, 0)
	fb, err2 := unix.FcntlInt(uintptr(b), unix.F_GETFL, 0)
	if err1 != nil || err2 != nil || fa != fb {
		return false
	}
	if _, err := unix.FcntlInt(uintptr(a), unix.F_SETFL, fa^unix.O_NONBLOCK); err != nil {
		return false
	}
	fb2, _ := unix.FcntlInt(uintptr(b), unix.F_GETFL, 0)
	_, _ = unix.FcntlInt(uintptr(a), unix.F_SETFL, fa)
	return fb2 != fb
}

// watchFD adds s to the poller. An fd epoll cannot watch (a regular file,
// a memfd: EPERM) is stored unwatched, as it never hangs up.
func (m *Manager) watchFD(us *unitState, s *storedFD) error {
	p := &m.fdPoll
	if p.ep == nil {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return err
		}
		if err := unix.SetNonblock(epfd, true); err != nil {
			unix.Close(epfd)
			return err
		}
		p.ep, p.epfd = os.NewFile(uintptr(epfd), "fdstore-epoll"), epfd
		p.watched = map[uint32]*unitState{}
		go m.pollFDStore(p.ep)
	}
	p.next++
	if p.next == 0 {
		p.next = 1
	}
	// No events asked for: EPOLLHUP and EPOLLERR are always reported.
	ev := unix.EpollEvent{Events: 0, Fd: int32(p.next)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil
		}
		return err
	}
	s.id = p.next
	p.watched[s.id] = us
	return nil
}

// closeStored stops watching s and closes it; the poller goes with the
// last fd it watches. m.mu held.
func (m *Manager) closeStored(s *storedFD) {
	if p := &m.fdPoll; s.id != 0 && p.ep != nil {
		// Before the close: the registration lives as long as the open
		// file description, which a service may still hold.
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
		delete(p.watched, s.id)
		if len(p.watched) == 0 {
			p.ep.Close() // ends its goroutine
			p.ep = nil
		}
	}
	unix.Close(s.fd)
}

// pollFDStore drops the stored fds that hang up or fail, until ep is closed.
func (m *Manager) pollFDStore(ep *os.File) {
	rc, err := ep.SyscallConn()
	if err != nil {
		return
	}
	evs := make([]unix.EpollEvent, 32)
	for {
		var n int
		err := rc.Read(func(fd uintptr) bool {
			var werr error
			n, werr = unix.EpollWait(int(fd), evs, 0)
			if werr != nil {
				n = 0
			}
			return n > 0
		})
		if err != nil {
			return // closed
		}
		m.mu.Lock()
		for _, ev := range evs[:n] {
			id := uint32(ev.Fd)
			us := m.fdPoll.watched[id]
			if us == nil || ev.Events&(unix.EPOLLHUP|unix.EPOLLERR) == 0 {
				continue
			}
			for i, s := range us.svc.fdStore {
				if s.id == id {
					m.log.Info("stored fd hung up, dropped from the fd store", "unit", us.u.Name, "name", s.name)
					m.closeStored(s)
					us.svc.fdStore = append(us.svc.fdStore[:i], us.svc.fdStore[i+1:]...)
					break
				}
			}
		}
		m.notifyChange()
		m.mu.Unlock()
	}
}

// removeStoredFDs closes the stored fds called name. m.mu held.
func (m *Manager) removeStoredFDs(us *unitState, name string) {
	kept := us.svc.fdStore[:0]
	n := 0
	for _, s := range us.svc.fdStore {
		if s.name == name {
			m.closeStored(s)
			n++
			continue
		}
		kept = append(kept, s)
	}
	clear(us.svc.fdStore[len(kept):])
	us.svc.fdStore = kept
	m.log.Debug("fds removed from the fd store", "unit", us.u.Name, "name", name, "removed", n)
}

// releaseFDStore closes every fd us stores. m.mu held.
func (m *Manager) releaseFDStore(us *unitState) {
	if len(us.svc.fdStore) == 0 {
		return
	}
	m.log.Debug("fd store released", "unit", us.u.Name, "fds", len(us.svc.fdStore))
	for _, s := range us.svc.fdStore {
		m.closeStored(s)
	}
	us.svc.fdStore = nil
}

// fdStoreOnState releases us's store when its new state ends what
// FileDescriptorStorePreserve= keeps it for: with no, any stop (an
// automatic restart too); with restart, a stop that no restart follows
// (automatic, or a queued start or restart job); with on-success, such a
// stop in the failed state; with yes, never (only when the manager exits).
// m.mu held, after us's state changed.
func (m *Manager) fdStoreOnState(us *unitState) {
	if us.u.Service == nil || len(us.svc.fdStore) == 0 {
		return
	}
	down := us.active == StateInactive || us.active == StateFailed
	switch us.u.Service.FileDescriptorStorePreserve {
	case "yes":
		return
	case "no":
		if down || us.sub == subAutoRestart {
			m.releaseFDStore(us)
		}
		return
	}
	if !down {
		return
	}
	if j := m.jobs[us.u.Name]; j != nil && (j.typ == JobRestart || (j.typ == JobStart && !j.run)) {
		return // started again
	}
	if us.u.Service.FileDescriptorStorePreserve == "on-success" && us.active != StateFailed {
		return
	}
	m.releaseFDStore(us)
}

// closeFDStores releases every store and the poller, when the manager ends.
func (m *Manager) closeFDStores() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, us := range m.units {
		m.releaseFDStore(us)
	}
	if m.fdPoll.ep != nil {
		m.fdPoll.ep.Close()
		m.fdPoll.ep = nil
	}
}

// FDStoreEntry describes one stored fd (io.stead.Manager.ListFDStore).
type FDStoreEntry struct {
	Name  string
	Type  string // reg, dir, chr, blk, fifo, sock, lnk, or unknown
	Dev   uint64 // st_dev
	Inode uint64
	Rdev  uint64 // st_rdev, for device nodes
	Path  string // what /proc/self/fd shows
	Flags string // access mode and status flags, e.g. "rw,nonblock"
}

// errNotService: the unit has no fd store.
type notServiceError struct{ name string }

func (e notServiceError) Error() string { return "unit " + e.name + " is not a service" }

// unitActiveError: the store of a running unit cannot be cleared.
type unitActiveError struct{ name, state string }

func (e unitActiveError) Error() string { return "unit " + e.name + " is " + e.state }

// fdStoreUnit looks up a loaded service for the fd store calls. m.mu held.
func (m *Manager) fdStoreUnit(name string) (*unitState, error) {
	us, err := m.get(name)
	if err != nil {
		return nil, err
	}
	if us.u.LoadState == unit.NotFound && len(us.svc.fdStore) == 0 {
		return nil, noSuchUnitError{name}
	}
	if us.u.Type != "service" {
		return nil, notServiceError{name}
	}
	return us, nil
}

// FDStore lists the fds the service called name stores, in the order
// they are passed to it.
func (m *Manager) FDStore(name string) ([]FDStoreEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	us, err := m.fdStoreUnit(name)
	if err != nil {
		return nil, err
	}
	out := []FDStoreEntry{}
	for _, s := range us.svc.fdStore {
		out = append(out, describeFD(s))
	}
	return out, nil
}

// ClearFDStore closes the fds the service called name stores; like
// systemctl clean, it refuses while the unit is not inactive or failed.
func (m *Manager) ClearFDStore(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	us, err := m.fdStoreUnit(name)
	if err != nil {
		return err
	}
	if us.active != StateInactive && us.active != StateFailed {
		return unitActiveError{name, us.active}
	}
	m.releaseFDStore(us)
	m.notifyChange()
	return nil
}

func describeFD(s *storedFD) FDStoreEntry {
	e := FDStoreEntry{Name: s.name, Type: "unknown"}
	var st unix.Stat_t
	if unix.Fstat(s.fd, &st) == nil {
		e.Dev, e.Inode, e.Rdev = st.Dev, st.Ino, st.Rdev
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			e.Type = "reg"
		case unix.S_IFDIR:
			e.Type = "dir"
		case unix.S_IFCHR:
			e.Type = "chr"
		case unix.S_IFBLK:
			e.Type = "blk"
		case unix.S_IFIFO:
			e.Type = "fifo"
		case unix.S_IFSOCK:
			e.Type = "sock"
		case unix.S_IFLNK:
			e.Type = "lnk"
		}
	}
	e.Path, _ = os.Readlink("/proc/self/fd/" + strconv.Itoa(s.fd))
	if fl, err := unix.FcntlInt(uintptr(s.fd), unix.F_GETFL, 0); err == nil {
		e.Flags = openFlags(fl)
	}
	return e
}

// openFlags spells the F_GETFL flags of an fd.
func openFlags(fl int) string {
	var f []string
	switch fl & unix.O_ACCMODE {
	case unix.O_RDONLY:
		f = append(f, "ro")
	case unix.O_WRONLY:
		f = append(f, "wo")
	default:
		f = append(f, "rw")
	}
	for _, b := range []struct {
		bit  int
		name string
	}{{unix.O_APPEND, "append"}, {unix.O_NONBLOCK, "nonblock"}, {unix.O_DIRECT, "direct"}, {unix.O_NOATIME, "noatime"}, {unix.O_PATH, "path"}, {unix.O_SYNC, "sync"}} {
		if fl&b.bit == b.bit {
			f = append(f, b.name)
		}
	}
	return strings.Join(f, ",")
}
