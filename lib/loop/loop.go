// Package loop attaches regular files (disk images) to Linux loop block devices through
// /dev/loop-control and the LOOP_CONFIGURE ioctl (Linux 5.8), with partition scanning, so
// that a GPT image's partitions appear as /dev/loopNpK.
//
// Attached devices are set to auto-clear: the kernel detaches one by itself once it is no
// longer open or mounted, so a process killed without running its cleanup leaks nothing
// beyond what it still had mounted. Detach detaches explicitly.
package loop

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Device is an attached loop device.
type Device struct {
	Path string // /dev/loopN
	file *os.File
}

// attachTries bounds the retries when another process takes the free device first.
const attachTries = 20

// Attach attaches the file at path to a free loop device, with partition scanning when
// partscan is set, read-only when readOnly is set.
func Attach(path string, readOnly, partscan bool) (*Device, error) {
	flags := os.O_RDWR
	if readOnly {
		flags = os.O_RDONLY
	}
	img, err := os.OpenFile(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("loop: %w", err)
	}
	defer img.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("loop: %w", err)
	}
	defer ctl.Close()

	cfg := unix.LoopConfig{Fd: uint32(img.Fd())}
	cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
	if partscan {
		cfg.Info.Flags |= unix.LO_FLAGS_PARTSCAN
	}
	if readOnly {
		cfg.Info.Flags |= unix.LO_FLAGS_READ_ONLY
	}
	for range attachTries {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("loop: LOOP_CTL_GET_FREE: %w", err)
		}
		dev := "/dev/loop" + strconv.Itoa(n)
		f, err := openDevice(dev, flags)
		if err != nil {
			return nil, err
		}
		err = unix.IoctlLoopConfigure(int(f.Fd()), &cfg)
		if errors.Is(err, unix.EBUSY) {
			f.Close() // taken by someone else between GET_FREE and CONFIGURE
			continue
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("loop: LOOP_CONFIGURE %s: %w", dev, err)
		}
		return &Device{Path: dev, file: f}, nil
	}
	return nil, errors.New("loop: no free loop device could be configured")
}

// openDevice opens a loop device node, waiting briefly for devtmpfs to create it.
func openDevice(dev string, flags int) (*os.File, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, err := os.OpenFile(dev, flags|unix.O_CLOEXEC, 0)
		if err == nil || !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("loop: %w", err)
			}
			return f, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// AddPartition tells the kernel about partition n (1-based) at byte offset start, length
// bytes long (BLKPG_ADD_PARTITION), as partx -a does: for kernels built without the parser
// of the disk's partition table (CONFIG_EFI_PARTITION for GPT), where partition scanning
// finds nothing. A partition the kernel already knows is not an error.
func (d *Device) AddPartition(n int, start, length int64) error {
	if d.file == nil {
		return errors.New("loop: device detached")
	}
	part := unix.BlkpgPartition{Start: start, Length: length, Pno: int32(n)}
	arg := unix.BlkpgIoctlArg{Op: unix.BLKPG_ADD_PARTITION, Datalen: int32(unsafe.Sizeof(part)),
		Data: (*byte)(unsafe.Pointer(&part))}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, d.file.Fd(), unix.BLKPG, uintptr(unsafe.Pointer(&arg)))
	if errno != 0 && errno != unix.EBUSY {
		return fmt.Errorf("loop: adding partition %d of %s: %w", n, d.Path, errno)
	}
	return nil
}

// PartitionPath is the device node of partition n (1-based): /dev/loopNpK.
func (d *Device) PartitionPath(n int) string { return d.Path + "p" + strconv.Itoa(n) }

// WaitPartition waits until the node of partition n exists (the kernel's partition scan
// and devtmpfs create it asynchronously) and returns its path.
func (d *Device) WaitPartition(n int, timeout time.Duration) (string, error) {
	p := d.PartitionPath(n)
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if time.Now().After(deadline) {
			return "", fmt.Errorf("loop: %s did not appear: %w", p, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Detach detaches the device now (LOOP_CLR_FD); with auto-clear set, a device still mounted
// is detached by the kernel when it is unmounted. It may be called more than once.
func (d *Device) Detach() error {
	if d.file == nil {
		return nil
	}
	err := unix.IoctlSetInt(int(d.file.Fd()), unix.LOOP_CLR_FD, 0)
	d.file.Close()
	d.file = nil
	if err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("loop: LOOP_CLR_FD %s: %w", d.Path, err)
	}
	return nil
}
