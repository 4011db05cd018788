package gpt

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DiskSize is the size in bytes of an image file, or of a block device (BLKGETSIZE64, since
// stat reports 0 for devices).
func DiskSize(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	switch {
	case st.Mode().IsRegular():
		return st.Size(), nil
	case st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0:
		var size uint64
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size))); errno != 0 {
			return 0, fmt.Errorf("gpt: %s: BLKGETSIZE64: %w", f.Name(), errno)
		}
		return int64(size), nil
	default:
		return 0, fmt.Errorf("gpt: %s is neither a regular file nor a block device", f.Name())
	}
}
