package notify

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sendmsg sends payload to addr in one datagram from a fresh unconnected
// socket, with our credentials and fds attached.
func sendmsg(addr string, payload []byte, fds []int) error {
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("notify: socket: %w", err)
	}
	defer unix.Close(s)
	sa := &unix.SockaddrUnix{Name: addr} // x/sys maps a leading '@' to the abstract namespace

	err = sendRetry(s, payload, controlMessage(true, fds), sa)
	// The kernel vets explicit credentials; if it refuses them (e.g. a
	// sandbox without the pid we report), the receiver with SO_PASSCRED
	// still gets kernel-filled ones, so retry without.
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ESRCH) {
		err = sendRetry(s, payload, controlMessage(false, fds), sa)
	}
	if err != nil {
		return fmt.Errorf("notify: send to %s: %w", addr, err)
	}
	return nil
}

func sendRetry(s int, payload, oob []byte, sa unix.Sockaddr) error {
	for {
		n, err := unix.SendmsgN(s, payload, oob, sa, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err == nil && n != len(payload) {
			return fmt.Errorf("short send: %d of %d bytes", n, len(payload))
		}
		return err
	}
}

// controlMessage builds the ancillary data: SCM_CREDENTIALS with our pid
// and real uid/gid (the manager uses the pid to find the sending unit), then
// SCM_RIGHTS when there are fds.
func controlMessage(creds bool, fds []int) []byte {
	var oob []byte
	if creds {
		oob = unix.UnixCredentials(&unix.Ucred{
			Pid: int32(os.Getpid()),
			Uid: uint32(os.Getuid()),
			Gid: uint32(os.Getgid()),
		})
	}
	if len(fds) > 0 {
		oob = append(oob, unix.UnixRights(fds...)...)
	}
	return oob
}

// monotonicUsec reads CLOCK_MONOTONIC in microseconds, the clock the
// manager compares MONOTONIC_USEC against.
func monotonicUsec() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("notify: clock_gettime: %w", err)
	}
	return uint64(ts.Sec)*1_000_000 + uint64(ts.Nsec)/1_000, nil
}

// barrierPipe returns the read end as a pollable *os.File and the write
// end as a bare descriptor. Only the read end is made non-blocking: the
// write end's file description is shared with the manager once sent, and
// we leave its flags as a plain pipe's.
func barrierPipe() (*os.File, int, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, -1, err
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, -1, err
	}
	return os.NewFile(uintptr(p[0]), "notify-barrier"), p[1], nil
}

func closeFD(fd int) { _ = unix.Close(fd) }
