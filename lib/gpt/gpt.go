// Package gpt reads GUID partition tables (UEFI specification, chapter 5) and rewrites the
// type, UUID, label and attribute flags of existing entries, in pure Go, for sysupdate's
// partition targets.
//
// What it does: Read finds the table with 512- or 4096-byte sectors, checks the header and
// entry-array CRCs and every bound before allocating anything, and falls back to the backup
// header at the end of the disk when the primary one or its entry array is damaged.
// Table.Update changes one used entry in place; Table.Write writes the entry array and both
// headers with new CRCs, the backup copy first and synced, then the primary copy, so a crash
// at any point leaves at least one valid copy (old or new) that Read picks up. Everything it
// does not change is written back byte for byte: the entry count and size, unused entries,
// the bytes of entries larger than 128 bytes, the disk GUID, the usable LBA range, the header
// revision and size. The protective MBR (LBA 0) is never written. Partitions are never
// created, removed, moved or resized: that is systemd-repart's job, not sysupdate's.
//
// Why not github.com/diskfs/go-diskfs (partition/gpt, v1.9.4): it was tried on a table made
// by sfdisk and written back unchanged; its Write regenerates the protective MBR's partition
// entry, zeroing the CHS bytes sfdisk sets (4 bytes changed), and it rejects entry sizes other
// than 128 bytes. It also wants the sector size from the caller instead of finding it, sizes
// the entry-array buffer from the header without a bound, and its module requires logrus,
// lz4, lzo, xattr, go-cmp and more for a job of a few hundred lines.
package gpt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"unicode/utf16"
	"unicode/utf8"
)

// Attribute flag bits of a partition entry used by the Discoverable Partitions Specification
// and by sysupdate's PartitionNoAuto=, ReadOnly= and PartitionGrowFileSystem=.
const (
	NoAutoFlag         uint64 = 1 << 63
	ReadOnlyFlag       uint64 = 1 << 60
	GrowFileSystemFlag uint64 = 1 << 59
)

// MaxLabelUnits is the capacity of an entry's name field in UTF-16 code units.
const MaxLabelUnits = 36

const (
	signature      = "EFI PART"
	minHeaderSize  = 92
	minEntrySize   = 128
	maxArrayBytes  = 4 << 20 // far above any real table (128 entries × 128 bytes is usual)
	labelOffset    = 56
	labelFieldSize = 2 * MaxLabelUnits
)

// sectorSizes are the logical sector sizes Read tries, in order.
var sectorSizes = []int{512, 4096}

// ErrNoTable means neither header copy holds a valid GPT for any sector size tried.
var ErrNoTable = errors.New("gpt: no valid GUID partition table found")

// Partition is one used entry of the partition entry array.
type Partition struct {
	Index             int // 1-based entry number (the N of /dev/sdaN)
	Type, UUID        GUID
	Label             string // UTF-16LE on disk, at most MaxLabelUnits code units
	Flags             uint64
	FirstLBA, LastLBA uint64 // inclusive, in sectors of the table's SectorSize
}

// Offset is the partition's first byte on the disk.
func (p Partition) Offset(sectorSize int) int64 { return int64(p.FirstLBA) * int64(sectorSize) }

// Size is the partition's length in bytes.
func (p Partition) Size(sectorSize int) int64 {
	return int64(p.LastLBA-p.FirstLBA+1) * int64(sectorSize)
}

// Table is a disk's partition table as read by Read.
type Table struct {
	SectorSize int
	DiskGUID   GUID
	Partitions []Partition // used entries only, ordered by Index

	diskSize        int64
	primary, backup header // backup is rewritten first
	entries         []byte // the whole entry array, as on disk plus Update's changes
	// FromBackup records that the primary copy was damaged and the table came from the
	// backup; Write then repairs the primary.
	fromBackup bool
}

// FromBackup reports whether the primary header or its entry array was damaged, so the table
// was read from the backup copy at the end of the disk (Write restores the primary).
func (t *Table) FromBackup() bool { return t.fromBackup }

// UsableLBAs is the range of sectors partitions may occupy, from the header.
func (t *Table) UsableLBAs() (first, last uint64) { return t.primary.firstUsable, t.primary.lastUsable }

// header is one parsed copy of the GPT header; sector keeps the whole header sector as read
// so that Write changes only the fields it must.
type header struct {
	sector                  []byte
	size                    uint32 // header size field
	myLBA, altLBA           uint64
	firstUsable, lastUsable uint64
	diskGUID                GUID
	entriesLBA              uint64
	count, entrySize        uint32
	entriesCRC              uint32
}

func (h *header) arrayBytes() uint64 { return uint64(h.count) * uint64(h.entrySize) }

func (h *header) arraySectors(ss int) uint64 {
	return (h.arrayBytes() + uint64(ss) - 1) / uint64(ss)
}

// Read reads the partition table of a disk of size bytes. It tries 512- and 4096-byte
// sectors, the primary header first, then the backup header in the disk's last sector.
func Read(r io.ReaderAt, size int64) (*Table, error) {
	if size <= 0 {
		return nil, fmt.Errorf("gpt: invalid disk size %d", size)
	}
	var errs []error
	for _, ss := range sectorSizes {
		t, err := readCopy(r, size, ss, true)
		if err == nil {
			return t, nil
		}
		errs = append(errs, fmt.Errorf("primary header, %d-byte sectors: %w", ss, err))
	}
	for _, ss := range sectorSizes {
		t, err := readCopy(r, size, ss, false)
		if err == nil {
			return t, nil
		}
		errs = append(errs, fmt.Errorf("backup header, %d-byte sectors: %w", ss, err))
	}
	return nil, fmt.Errorf("%w: %w", ErrNoTable, errors.Join(errs...))
}

// readCopy reads the table from the primary (LBA 1) or backup (last LBA) header with sector
// size ss, and derives the other copy's header from it where that copy is damaged.
func readCopy(r io.ReaderAt, size int64, ss int, primary bool) (*Table, error) {
	sectors := uint64(size) / uint64(ss)
	if sectors < 4 {
		return nil, fmt.Errorf("disk of %d bytes is too small", size)
	}
	lastLBA := sectors - 1
	at := uint64(1)
	if !primary {
		at = lastLBA
	}
	h, entries, err := readHeader(r, ss, lastLBA, at, primary)
	if err != nil {
		return nil, err
	}
	t := &Table{SectorSize: ss, DiskGUID: h.diskGUID, diskSize: size, entries: entries}
	if t.Partitions, err = parseEntries(h, entries); err != nil {
		return nil, err
	}
	if primary {
		t.primary = *h
		b, bentries, err := readHeader(r, ss, lastLBA, h.altLBA, false)
		if err != nil || !sameTable(h, b) || !bytes.Equal(entries, bentries) {
			if b, err = derive(h, ss, false); err != nil {
				return nil, err
			}
		}
		t.backup = *b
		return t, nil
	}
	t.backup = *h
	t.fromBackup = true
	p, err := derive(h, ss, true)
	if err != nil {
		return nil, err
	}
	t.primary = *p
	return t, nil
}

// readHeader reads and checks the header in sector at and its entry array.
func readHeader(r io.ReaderAt, ss int, lastLBA, at uint64, primary bool) (*header, []byte, error) {
	if at == 0 || at > lastLBA {
		return nil, nil, fmt.Errorf("header LBA %d outside the disk", at)
	}
	sector := make([]byte, ss)
	if err := readAt(r, sector, int64(at)*int64(ss)); err != nil {
		return nil, nil, fmt.Errorf("reading header at LBA %d: %w", at, err)
	}
	h, err := parseHeader(sector, ss, lastLBA, at, primary)
	if err != nil {
		return nil, nil, fmt.Errorf("header at LBA %d: %w", at, err)
	}
	entries := make([]byte, h.arrayBytes())
	if err := readAt(r, entries, int64(h.entriesLBA)*int64(ss)); err != nil {
		return nil, nil, fmt.Errorf("reading entry array at LBA %d: %w", h.entriesLBA, err)
	}
	if crc := crc32.ChecksumIEEE(entries); crc != h.entriesCRC {
		return nil, nil, fmt.Errorf("entry array at LBA %d: CRC %08x, header says %08x", h.entriesLBA, crc, h.entriesCRC)
	}
	return h, entries, nil
}

// readAt fills b; a full read that ends at the end of the input may come with io.EOF.
func readAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// parseHeader checks one header sector: signature, CRC, and that every LBA it names lies on
// the disk without overlapping the other structures, so that neither reading nor a later
// Write can touch partition data.
func parseHeader(sector []byte, ss int, lastLBA, at uint64, primary bool) (*header, error) {
	le := binary.LittleEndian
	if string(sector[0:8]) != signature {
		return nil, errors.New("no GPT signature")
	}
	h := &header{
		sector:      sector,
		size:        le.Uint32(sector[12:16]),
		myLBA:       le.Uint64(sector[24:32]),
		altLBA:      le.Uint64(sector[32:40]),
		firstUsable: le.Uint64(sector[40:48]),
		lastUsable:  le.Uint64(sector[48:56]),
		entriesLBA:  le.Uint64(sector[72:80]),
		count:       le.Uint32(sector[80:84]),
		entrySize:   le.Uint32(sector[84:88]),
		entriesCRC:  le.Uint32(sector[88:92]),
	}
	copy(h.diskGUID[:], sector[56:72])
	if h.size < minHeaderSize || int(h.size) > ss {
		return nil, fmt.Errorf("header size %d", h.size)
	}
	if crc := headerCRC(sector[:h.size]); crc != le.Uint32(sector[16:20]) {
		return nil, fmt.Errorf("header CRC %08x, header says %08x", crc, le.Uint32(sector[16:20]))
	}
	if h.myLBA != at {
		return nil, fmt.Errorf("header names itself LBA %d", h.myLBA)
	}
	if h.altLBA == 0 || h.altLBA > lastLBA || h.altLBA == at {
		return nil, fmt.Errorf("alternate header LBA %d", h.altLBA)
	}
	if h.entrySize < minEntrySize || h.entrySize&(h.entrySize-1) != 0 {
		return nil, fmt.Errorf("entry size %d", h.entrySize)
	}
	if h.count == 0 || h.arrayBytes() > maxArrayBytes {
		return nil, fmt.Errorf("entry array of %d × %d bytes", h.count, h.entrySize)
	}
	if h.firstUsable > h.lastUsable || h.lastUsable >= lastLBA {
		return nil, fmt.Errorf("usable LBAs %d-%d on a disk of %d sectors", h.firstUsable, h.lastUsable, lastLBA+1)
	}
	lo, hi := h.entriesLBA, h.entriesLBA+h.arraySectors(ss) // [lo, hi)
	if primary {
		if lo <= h.myLBA || hi > h.firstUsable {
			return nil, fmt.Errorf("entry array LBAs %d-%d overlap the header or usable area", lo, hi-1)
		}
		if h.altLBA <= h.lastUsable {
			return nil, fmt.Errorf("backup header LBA %d inside the usable area", h.altLBA)
		}
	} else {
		if lo <= h.lastUsable || hi > h.myLBA {
			return nil, fmt.Errorf("entry array LBAs %d-%d overlap the header or usable area", lo, hi-1)
		}
		if h.altLBA >= h.firstUsable {
			return nil, fmt.Errorf("primary header LBA %d inside the usable area", h.altLBA)
		}
	}
	return h, nil
}

// headerCRC is the CRC32 of a header's first size bytes with its CRC field taken as zero.
func headerCRC(hdr []byte) uint32 {
	c := crc32.ChecksumIEEE(hdr[:16])
	c = crc32.Update(c, crc32.IEEETable, []byte{0, 0, 0, 0})
	return crc32.Update(c, crc32.IEEETable, hdr[20:])
}

// sameTable reports whether two header copies describe the same table.
func sameTable(a, b *header) bool {
	return a.altLBA == b.myLBA && b.altLBA == a.myLBA &&
		a.firstUsable == b.firstUsable && a.lastUsable == b.lastUsable &&
		a.diskGUID == b.diskGUID && a.count == b.count && a.entrySize == b.entrySize &&
		a.size == b.size
}

// derive builds the other copy's header from a valid one, for a damaged copy: the alternate
// LBAs swap, and the entry array sits right after the primary header (LBA 2) or right before
// the backup header.
func derive(h *header, ss int, toPrimary bool) (*header, error) {
	d := *h
	d.sector = make([]byte, ss)
	copy(d.sector, h.sector[:h.size])
	d.myLBA, d.altLBA = h.altLBA, h.myLBA
	n := h.arraySectors(ss)
	if toPrimary {
		d.entriesLBA = d.myLBA + 1
		if d.entriesLBA+n > d.firstUsable {
			return nil, fmt.Errorf("no room for the primary entry array before LBA %d", d.firstUsable)
		}
	} else {
		if d.myLBA < n || d.myLBA-n <= d.lastUsable {
			return nil, fmt.Errorf("no room for the backup entry array after LBA %d", d.lastUsable)
		}
		d.entriesLBA = d.myLBA - n
	}
	le := binary.LittleEndian
	le.PutUint64(d.sector[24:32], d.myLBA)
	le.PutUint64(d.sector[32:40], d.altLBA)
	le.PutUint64(d.sector[72:80], d.entriesLBA)
	return &d, nil
}

// parseEntries decodes the used entries of an entry array.
func parseEntries(h *header, entries []byte) ([]Partition, error) {
	var parts []Partition
	for i := 0; i < int(h.count); i++ {
		e := entries[i*int(h.entrySize) : (i+1)*int(h.entrySize)]
		var p Partition
		copy(p.Type[:], e[0:16])
		if p.Type.IsZero() {
			continue
		}
		p.Index = i + 1
		copy(p.UUID[:], e[16:32])
		p.FirstLBA = binary.LittleEndian.Uint64(e[32:40])
		p.LastLBA = binary.LittleEndian.Uint64(e[40:48])
		p.Flags = binary.LittleEndian.Uint64(e[48:56])
		p.Label = decodeLabel(e[labelOffset : labelOffset+labelFieldSize])
		if p.FirstLBA > p.LastLBA || p.FirstLBA < h.firstUsable || p.LastLBA > h.lastUsable {
			return nil, fmt.Errorf("entry %d: LBAs %d-%d outside the usable area %d-%d",
				p.Index, p.FirstLBA, p.LastLBA, h.firstUsable, h.lastUsable)
		}
		parts = append(parts, p)
	}
	return parts, nil
}

func decodeLabel(b []byte) string {
	units := make([]uint16, 0, MaxLabelUnits)
	for i := 0; i+1 < len(b); i += 2 {
		u := binary.LittleEndian.Uint16(b[i:])
		if u == 0 {
			break
		}
		units = append(units, u)
	}
	return string(utf16.Decode(units))
}

// encodeLabel checks and encodes a label into a zero-padded name field.
func encodeLabel(label string) ([]byte, error) {
	if !utf8.ValidString(label) {
		return nil, fmt.Errorf("gpt: label %q is not valid UTF-8", label)
	}
	units := utf16.Encode([]rune(label))
	if len(units) > MaxLabelUnits {
		return nil, fmt.Errorf("gpt: label %q is %d UTF-16 code units, at most %d fit", label, len(units), MaxLabelUnits)
	}
	b := make([]byte, labelFieldSize)
	for i, u := range units {
		if u == 0 {
			return nil, fmt.Errorf("gpt: label %q contains a NUL character", label)
		}
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	return b, nil
}

// Update changes Type, UUID, Label and Flags of the used entry p.Index in memory (Write
// stores it). The entry's LBAs must be those read: Update never moves or resizes a partition.
func (t *Table) Update(p Partition) error {
	es := int(t.primary.entrySize)
	if p.Index < 1 || p.Index > int(t.primary.count) {
		return fmt.Errorf("gpt: no partition entry %d (the table has %d)", p.Index, t.primary.count)
	}
	e := t.entries[(p.Index-1)*es : p.Index*es]
	// The entry bytes, not t.Partitions (which callers may have edited), say what is on disk.
	if GUID(e[0:16]).IsZero() {
		return fmt.Errorf("gpt: partition entry %d is unused", p.Index)
	}
	first, last := binary.LittleEndian.Uint64(e[32:40]), binary.LittleEndian.Uint64(e[40:48])
	if p.FirstLBA != first || p.LastLBA != last {
		return fmt.Errorf("gpt: partition %d: LBAs %d-%d cannot change to %d-%d",
			p.Index, first, last, p.FirstLBA, p.LastLBA)
	}
	if p.Type.IsZero() {
		return fmt.Errorf("gpt: partition %d: the all-zero type would delete the entry", p.Index)
	}
	var label []byte
	if p.Label != decodeLabel(e[labelOffset:labelOffset+labelFieldSize]) {
		var err error
		if label, err = encodeLabel(p.Label); err != nil {
			return err
		}
	}
	copy(e[0:16], p.Type[:])
	copy(e[16:32], p.UUID[:])
	binary.LittleEndian.PutUint64(e[48:56], p.Flags)
	if label != nil { // an unchanged label keeps its bytes, even undecodable ones
		copy(e[labelOffset:], label)
	}
	for i := range t.Partitions {
		if t.Partitions[i].Index == p.Index {
			t.Partitions[i] = p
		}
	}
	return nil
}

// Write stores the table on f, which must be the disk it was read from: the entry array and
// header of the backup copy, fsync, then those of the primary copy, fsync. A crash in
// between leaves the new backup and the old (or torn, hence rejected) primary, so Read sees
// either the old or the new table, never a mix.
func (t *Table) Write(f *os.File) error {
	size, err := DiskSize(f)
	if err != nil {
		return err
	}
	if size != t.diskSize {
		return fmt.Errorf("gpt: %s is %d bytes, the table was read from a disk of %d bytes", f.Name(), size, t.diskSize)
	}
	if err := t.writeTo(f); err != nil {
		return fmt.Errorf("gpt: %s: %w", f.Name(), err)
	}
	return nil
}

// disk is what Write needs of an *os.File (tests record the operations).
type disk interface {
	io.WriterAt
	Sync() error
}

func (t *Table) writeTo(d disk) error {
	crc := crc32.ChecksumIEEE(t.entries)
	for _, h := range []*header{&t.backup, &t.primary} {
		h.entriesCRC = crc
		binary.LittleEndian.PutUint32(h.sector[88:92], crc)
		binary.LittleEndian.PutUint32(h.sector[16:20], headerCRC(h.sector[:h.size]))
		if _, err := d.WriteAt(t.entries, int64(h.entriesLBA)*int64(t.SectorSize)); err != nil {
			return fmt.Errorf("writing entry array: %w", err)
		}
		if _, err := d.WriteAt(h.sector, int64(h.myLBA)*int64(t.SectorSize)); err != nil {
			return fmt.Errorf("writing header: %w", err)
		}
		if err := d.Sync(); err != nil {
			return fmt.Errorf("syncing: %w", err)
		}
	}
	t.fromBackup = false
	return nil
}

// ReadFile reads the partition table of an image file or a block device.
func ReadFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := DiskSize(f)
	if err != nil {
		return nil, err
	}
	t, err := Read(f, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
