package luo

// The real /dev/liveupdate. The ioctl numbers and structure layouts are those of
// include/uapi/linux/liveupdate.h in the LUO patch series as posted to the kernel lists in
// November 2025 (ioctl type 0xBA; CREATE_SESSION 0x00, RETRIEVE_SESSION 0x01 on the device;
// SESSION_PRESERVE_FD 0x40, SESSION_RETRIEVE_FD 0x41, SESSION_FINISH 0x42 on a session fd;
// every argument starts with its own size). They have not been run against a released kernel
// here — the Debian kernels of our machines lack CONFIG_LIVEUPDATE — so this path is
// UNVERIFIED; Fake is what the tests drive. An earlier revision of the series used other
// numbers (type 0xF6, commands 0x40–0x45): a kernel built from it answers ENOTTY, which
// Open's caller reports.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DevicePath is the LUO character device.
const DevicePath = "/dev/liveupdate"

const (
	ioctlType       = 0xBA
	nameLength      = 64 // LIVEUPDATE_SESSION_NAME_LENGTH, the NUL included
	cmdCreate       = 0x00
	cmdRetrieve     = 0x01
	cmdPreserveFD   = 0x40
	cmdRetrieveFD   = 0x41
	cmdFinish       = 0x42
	sessionLinkBase = "anon_inode:[luo_session]"
)

// ioc is _IO(type, nr): no direction and no size in the number; the structures carry
// their size.
func ioc(nr uintptr) uintptr { return ioctlType<<8 | nr }

type sessionArg struct { // liveupdate_ioctl_create_session, _retrieve_session
	size uint32
	fd   int32
	name [nameLength]byte
}

type fdArg struct { // liveupdate_session_preserve_fd, _retrieve_fd
	size  uint32
	fd    int32
	token uint64
}

type finishArg struct { // liveupdate_session_finish
	size     uint32
	reserved [2]byte
}

// Real is an open /dev/liveupdate. Only one process may have it open.
type Real struct{ fd int }

// Open opens the device at path (DevicePath); an error wrapping os.ErrNotExist when the
// kernel has no LUO.
func Open(path string) (*Real, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return &Real{fd: fd}, nil
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

func (d *Real) session(nr uintptr, name string) (Session, error) {
	if len(name) >= nameLength || strings.IndexByte(name, 0) >= 0 {
		return nil, fmt.Errorf("LUO session name %q too long", name)
	}
	a := sessionArg{size: uint32(unsafe.Sizeof(sessionArg{}))}
	copy(a.name[:], name)
	if err := ioctl(d.fd, ioc(nr), unsafe.Pointer(&a)); err != nil {
		if err == unix.ENOENT {
			return nil, &os.PathError{Op: "LUO session", Path: name, Err: os.ErrNotExist}
		}
		return nil, err
	}
	unix.CloseOnExec(int(a.fd))
	return &realSession{fd: int(a.fd)}, nil
}

// CreateSession implements Device.
func (d *Real) CreateSession(name string) (Session, error) { return d.session(cmdCreate, name) }

// RetrieveSession implements Device.
func (d *Real) RetrieveSession(name string) (Session, error) { return d.session(cmdRetrieve, name) }

// SessionOf implements Device: a session fd reads as "anon_inode:[luo_session] NAME" in
// /proc/self/fd.
func (d *Real) SessionOf(fd int) (string, bool) {
	l, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || !strings.HasPrefix(l, sessionLinkBase) {
		return "", false
	}
	return strings.TrimSpace(strings.TrimPrefix(l, sessionLinkBase)), true
}

// Close implements Device.
func (d *Real) Close() error { return unix.Close(d.fd) }

type realSession struct{ fd int }

func (s *realSession) PreserveFD(fd int, token uint64) error {
	a := fdArg{size: uint32(unsafe.Sizeof(fdArg{})), fd: int32(fd), token: token}
	return ioctl(s.fd, ioc(cmdPreserveFD), unsafe.Pointer(&a))
}

func (s *realSession) RetrieveFD(token uint64) (int, error) {
	a := fdArg{size: uint32(unsafe.Sizeof(fdArg{})), token: token}
	if err := ioctl(s.fd, ioc(cmdRetrieveFD), unsafe.Pointer(&a)); err != nil {
		return -1, err
	}
	return int(a.fd), nil
}

func (s *realSession) Finish() error {
	a := finishArg{size: uint32(unsafe.Sizeof(finishArg{}))}
	return ioctl(s.fd, ioc(cmdFinish), unsafe.Pointer(&a))
}

func (s *realSession) FD() int      { return s.fd }
func (s *realSession) Close() error { return unix.Close(s.fd) }
