//go:build !linux

package notify

import (
	"errors"
	"os"
)

// The protocol relies on SCM_CREDENTIALS and other Linux specifics; on
// other systems a configured socket is an error rather than a silent no-op.

func sendmsg(addr string, payload []byte, fds []int) error {
	return errors.ErrUnsupported
}

func monotonicUsec() (uint64, error) { return 0, errors.ErrUnsupported }

func barrierPipe() (*os.File, int, error) { return nil, -1, errors.ErrUnsupported }

func closeFD(fd int) {}
