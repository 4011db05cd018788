// Package gpt reads and rewrites GUID partition tables (UEFI 2.x, chapter 5) in pure Go.
package gpt

import (
	"errors"
	"io"
	"os"
)

// Attribute flag bits of a partition entry that the Discoverable Partitions Specification and
// sysupdate's PartitionNoAuto=, ReadOnly= and PartitionGrowFileSystem= use.
const (
	NoAutoFlag         uint64 = 1 << 63
	ReadOnlyFlag       uint64 = 1 << 60
	GrowFileSystemFlag uint64 = 1 << 59
)

// Partition is one used entry of the partition entry array.
type Partition struct {
	Index             int // 1-based entry number
	Type, UUID        GUID
	Label             string // UTF-16LE on disk, at most 36 code units
	Flags             uint64
	FirstLBA, LastLBA uint64 // inclusive
}

// Offset is the partition's first byte on the disk.
func (p Partition) Offset(sectorSize int) int64 { return int64(p.FirstLBA) * int64(sectorSize) }

// Size is the partition's length in bytes.
func (p Partition) Size(sectorSize int) int64 {
	return int64(p.LastLBA-p.FirstLBA+1) * int64(sectorSize)
}

// Table is a disk's partition table.
type Table struct {
	SectorSize int
	DiskGUID   GUID
	Partitions []Partition // used entries only, ordered by Index
}

var errTODO = errors.New("gpt: not implemented yet")

// Read reads the table of a disk of size bytes.
func Read(r io.ReaderAt, size int64) (*Table, error) { return nil, errTODO }

// ReadFile reads the table of an image file or block device.
func ReadFile(path string) (*Table, error) { return nil, errTODO }

// Update changes Type, UUID, Label and Flags of the existing entry p.Index.
func (t *Table) Update(p Partition) error { return errTODO }

// Write writes the table back to f.
func (t *Table) Write(f *os.File) error { return errTODO }
