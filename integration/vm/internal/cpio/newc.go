// Package cpio writes cpio archives in the "newc" (SVR4 portable ASCII, magic 070701)
// format, the one the Linux kernel unpacks as an initramfs.
//
// Only what an initramfs needs is supported: directories, regular files, symbolic links and
// character or block device nodes. Entries are written in the order they are added; a
// directory must be added before the entries inside it for the kernel to unpack them.
package cpio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// File type bits of the cpio mode field (the same values as Linux's S_IF*).
const (
	TypeMask    = 0o170000
	TypeDir     = 0o040000
	TypeReg     = 0o100000
	TypeSymlink = 0o120000
	TypeChar    = 0o020000
	TypeBlock   = 0o060000
)

const (
	magic      = "070701"
	headerSize = 110
	trailer    = "TRAILER!!!"
)

// Header describes one archive entry.
type Header struct {
	Name  string // path inside the archive, without a leading "/"
	Mode  uint32 // type bits (TypeDir, …) | permission bits
	UID   uint32
	GID   uint32
	Mtime int64  // seconds since the epoch; 0 keeps archives reproducible
	Size  int64  // bytes of data that follow (file contents or symlink target)
	Major uint32 // for device nodes: the device's major number
	Minor uint32 // for device nodes: the device's minor number
}

// Writer writes a newc archive. Call Close to write the trailer.
type Writer struct {
	w       io.Writer
	ino     uint32
	remain  int64 // data bytes still expected for the current entry
	pad     int   // padding after the current entry's data
	closed  bool
	written int64
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

var (
	// ErrWriteTooLong is returned when more data is written than the header announced.
	ErrWriteTooLong = errors.New("cpio: write too long")
	errShort        = errors.New("cpio: missing data for previous entry")
	errClosed       = errors.New("cpio: write after close")
)

func (w *Writer) out(b []byte) error {
	n, err := w.w.Write(b)
	w.written += int64(n)
	return err
}

// WriteHeader starts a new entry. The previous entry's data must have been written in full.
func (w *Writer) WriteHeader(h *Header) error {
	if w.closed {
		return errClosed
	}
	if err := w.finishEntry(); err != nil {
		return err
	}
	name := strings.TrimLeft(h.Name, "/")
	if name == "" {
		name = "."
	}
	if h.Size < 0 || h.Size > 0xffffffff {
		return fmt.Errorf("cpio: %s: size %d out of range", name, h.Size)
	}
	typ := h.Mode & TypeMask
	if typ == 0 {
		return fmt.Errorf("cpio: %s: mode %o has no file type", name, h.Mode)
	}
	if (typ == TypeDir || typ == TypeChar || typ == TypeBlock) && h.Size != 0 {
		return fmt.Errorf("cpio: %s: directories and device nodes carry no data", name)
	}
	nlink := 1
	if typ == TypeDir {
		nlink = 2
	}
	w.ino++
	if err := w.writeRaw(w.ino, h.Mode, h.UID, h.GID, uint32(nlink), uint32(h.Mtime), uint32(h.Size), h.Major, h.Minor, name); err != nil {
		return err
	}
	w.remain = h.Size
	w.pad = pad4(h.Size)
	return nil
}

func (w *Writer) writeRaw(ino, mode, uid, gid, nlink, mtime, size, rmaj, rmin uint32, name string) error {
	hdr := fmt.Sprintf("%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		magic, ino, mode, uid, gid, nlink, mtime, size,
		0, 0, // devmajor, devminor: the device holding the file (unused)
		rmaj, rmin, len(name)+1, 0)
	buf := make([]byte, 0, headerSize+len(name)+4)
	buf = append(buf, hdr...)
	buf = append(buf, name...)
	buf = append(buf, 0)
	buf = append(buf, make([]byte, pad4(int64(len(buf))))...)
	return w.out(buf)
}

// Write writes data for the current entry.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errClosed
	}
	if int64(len(p)) > w.remain {
		return 0, ErrWriteTooLong
	}
	n, err := w.w.Write(p)
	w.written += int64(n)
	w.remain -= int64(n)
	return n, err
}

func (w *Writer) finishEntry() error {
	if w.remain != 0 {
		return errShort
	}
	if w.pad > 0 {
		if err := w.out(make([]byte, w.pad)); err != nil {
			return err
		}
		w.pad = 0
	}
	return nil
}

// Close finishes the archive with the trailer entry. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	if err := w.finishEntry(); err != nil {
		return err
	}
	if err := w.writeRaw(0, 0, 0, 0, 1, 0, 0, 0, 0, trailer); err != nil {
		return err
	}
	w.closed = true
	return nil
}

// WriteFile adds a regular file with the given contents.
func (w *Writer) WriteFile(name string, perm fs.FileMode, data []byte) error {
	if err := w.WriteHeader(&Header{Name: name, Mode: TypeReg | uint32(perm.Perm()), Size: int64(len(data))}); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// WriteDir adds a directory.
func (w *Writer) WriteDir(name string, perm fs.FileMode) error {
	return w.WriteHeader(&Header{Name: name, Mode: TypeDir | uint32(perm.Perm())})
}

// WriteSymlink adds a symbolic link name → target.
func (w *Writer) WriteSymlink(name, target string) error {
	if err := w.WriteHeader(&Header{Name: name, Mode: TypeSymlink | 0o777, Size: int64(len(target))}); err != nil {
		return err
	}
	_, err := io.WriteString(w, target)
	return err
}

// WriteCharDev adds a character device node.
func (w *Writer) WriteCharDev(name string, perm fs.FileMode, major, minor uint32) error {
	return w.WriteHeader(&Header{Name: name, Mode: TypeChar | uint32(perm.Perm()), Major: major, Minor: minor})
}

func pad4(n int64) int { return int((4 - n%4) % 4) }
