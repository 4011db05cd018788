package gpt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stead-os/stead/integration/harness"
)

// sfdiskScript is a table with the features sysupdate relies on: DPS types, a used-slot gap
// (entry 3 unused), attribute bits incl. NoAuto/ReadOnly/GrowFileSystem, a non-ASCII label,
// an `_empty` slot and a label of exactly 36 UTF-16 units.
const imageSize = 16 << 20

const sfdiskScript = `label: gpt
table-length: %d
1: size=1MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp", attrs="RequiredPartition LegacyBIOSBootable"
2: size=2MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root_1", attrs="GUID:59,60,63"
4: size=2MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="_empty"
5: size=1MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="Wurzel-ÄÖÜ-€"
6: size=1MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="abcdefghijklmnopqrstuvwxyz0123456789"
`

// makeImage creates a 16 MiB image file with sfdiskScript (entries table entries) and sector
// size ss. It returns the path to hand to ReadFile, sfdisk and Write: the image itself for
// 512-byte sectors, for 4096-byte sectors a loop device over it with that logical sector size
// (sfdisk 2.38 has no --sector-size for image files).
func makeImage(t testing.TB, ss, entries int) (dev, img string) {
	t.Helper()
	sfdisk := harness.NeedCommand(t, "sfdisk", "fdisk")
	img = filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, imageSize); err != nil {
		t.Fatal(err)
	}
	dev = img
	if ss != 512 {
		harness.NeedRoot(t, "a loop device with 4096-byte sectors")
		losetup := harness.NeedCommand(t, "losetup", "mount")
		out, err := exec.Command(losetup, "--find", "--show", "--sector-size", strconv.Itoa(ss), img).CombinedOutput()
		if err != nil {
			harness.Require(t, fmt.Sprintf("losetup: %v: %s", err, out))
		}
		dev = strings.TrimSpace(string(out))
		t.Cleanup(func() { exec.Command(losetup, "--detach", dev).Run() })
	}
	cmd := exec.Command(sfdisk, "-q", "--no-reread", dev)
	cmd.Stdin = strings.NewReader(fmt.Sprintf(sfdiskScript, entries))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	return dev, img
}

// sfdiskTable is the part of `sfdisk --json` compared.
type sfdiskTable struct {
	PartitionTable struct {
		Label      string `json:"label"`
		ID         string `json:"id"`
		FirstLBA   uint64 `json:"firstlba"`
		LastLBA    uint64 `json:"lastlba"`
		SectorSize int    `json:"sectorsize"`
		Partitions []struct {
			Node  string `json:"node"`
			Start uint64 `json:"start"`
			Size  uint64 `json:"size"`
			Type  string `json:"type"`
			UUID  string `json:"uuid"`
			Name  string `json:"name"`
			Attrs string `json:"attrs"`
		} `json:"partitions"`
	} `json:"partitiontable"`
}

func sfdiskJSON(t *testing.T, img string) sfdiskTable {
	t.Helper()
	out, err := exec.Command("sfdisk", "--json", img).Output()
	if err != nil {
		t.Fatalf("sfdisk --json: %v", err)
	}
	var st sfdiskTable
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("sfdisk --json: %v\n%s", err, out)
	}
	return st
}

func sfdiskVerify(t *testing.T, img string) {
	t.Helper()
	out, err := exec.Command("sfdisk", "--verify", img).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No errors detected") {
		t.Fatalf("sfdisk --verify: %v\n%s", err, out)
	}
}

// sfdiskAttrs turns sfdisk's attribute words into flag bits.
func sfdiskAttrs(t *testing.T, s string) uint64 {
	var f uint64
	for _, w := range strings.Fields(s) {
		switch {
		case w == "RequiredPartition":
			f |= 1 << 0
		case w == "NoBlockIOProtocol":
			f |= 1 << 1
		case w == "LegacyBIOSBootable":
			f |= 1 << 2
		case strings.HasPrefix(w, "GUID:"):
			for _, n := range strings.Split(strings.TrimPrefix(w, "GUID:"), ",") {
				b, err := strconv.Atoi(n)
				if err != nil {
					t.Fatalf("attrs %q", s)
				}
				f |= 1 << b
			}
		default:
			t.Fatalf("unknown sfdisk attribute %q", w)
		}
	}
	return f
}

// compareSfdisk checks that tab says what sfdisk --json says about img.
func compareSfdisk(t *testing.T, tab *Table, img string) {
	t.Helper()
	st := sfdiskJSON(t, img).PartitionTable
	if st.Label != "gpt" || st.SectorSize != tab.SectorSize {
		t.Fatalf("sfdisk: label %q sector size %d, we: sector size %d", st.Label, st.SectorSize, tab.SectorSize)
	}
	if !strings.EqualFold(st.ID, tab.DiskGUID.String()) {
		t.Errorf("disk GUID: sfdisk %s, we %s", st.ID, tab.DiskGUID)
	}
	if first, last := tab.UsableLBAs(); first != st.FirstLBA || last != st.LastLBA {
		t.Errorf("usable LBAs: sfdisk %d-%d, we %d-%d", st.FirstLBA, st.LastLBA, first, last)
	}
	if len(st.Partitions) != len(tab.Partitions) {
		t.Fatalf("sfdisk lists %d partitions, we %d", len(st.Partitions), len(tab.Partitions))
	}
	for i, sp := range st.Partitions {
		p := tab.Partitions[i]
		want := img + strconv.Itoa(p.Index)
		if strings.HasPrefix(img, "/dev/") {
			want = img + "p" + strconv.Itoa(p.Index)
		}
		if sp.Node != want {
			t.Errorf("partition %d: sfdisk node %s", p.Index, sp.Node)
		}
		if sp.Start != p.FirstLBA || sp.Size != p.LastLBA-p.FirstLBA+1 {
			t.Errorf("partition %d: sfdisk %d+%d, we %d-%d", p.Index, sp.Start, sp.Size, p.FirstLBA, p.LastLBA)
		}
		if p.Offset(tab.SectorSize) != int64(sp.Start)*int64(tab.SectorSize) || p.Size(tab.SectorSize) != int64(sp.Size)*int64(tab.SectorSize) {
			t.Errorf("partition %d: Offset/Size %d/%d", p.Index, p.Offset(tab.SectorSize), p.Size(tab.SectorSize))
		}
		if !strings.EqualFold(sp.Type, p.Type.String()) || !strings.EqualFold(sp.UUID, p.UUID.String()) {
			t.Errorf("partition %d: sfdisk type %s uuid %s, we %s %s", p.Index, sp.Type, sp.UUID, p.Type, p.UUID)
		}
		if sp.Name != p.Label {
			t.Errorf("partition %d: sfdisk name %q, we %q", p.Index, sp.Name, p.Label)
		}
		if f := sfdiskAttrs(t, sp.Attrs); f != p.Flags {
			t.Errorf("partition %d: sfdisk attrs %q = %#x, we %#x", p.Index, sp.Attrs, f, p.Flags)
		}
	}
}

func TestReadSfdisk(t *testing.T) {
	for _, c := range []struct{ ss, entries int }{{512, 128}, {4096, 128}, {512, 56}, {512, 256}} {
		t.Run(fmt.Sprintf("%d-%d", c.ss, c.entries), func(t *testing.T) {
			dev, _ := makeImage(t, c.ss, c.entries)
			tab, err := ReadFile(dev)
			if err != nil {
				t.Fatal(err)
			}
			if tab.FromBackup() {
				t.Error("an intact table was read from the backup")
			}
			if len(tab.Partitions) != 5 || tab.Partitions[2].Index != 4 {
				t.Fatalf("partitions %+v", tab.Partitions)
			}
			if p := tab.Partitions[1]; p.Flags != NoAutoFlag|ReadOnlyFlag|GrowFileSystemFlag {
				t.Errorf("root_1 flags %#x", p.Flags)
			}
			compareSfdisk(t, tab, dev)
		})
	}
}

// changedRanges lists the byte ranges where a and b (of equal length) differ.
func changedRanges(a, b []byte) [][2]int {
	var r [][2]int
	for i := 0; i < len(a); i++ {
		if i%4096 == 0 && i+4096 <= len(a) && bytes.Equal(a[i:i+4096], b[i:i+4096]) {
			i += 4095 // skip equal blocks quickly (the race detector makes byte loops slow)
			continue
		}
		if a[i] != b[i] {
			j := i
			for j < len(a) && a[j] != b[j] {
				j++
			}
			r = append(r, [2]int{i, j})
			i = j
		}
	}
	return r
}

func TestUpdateWrite(t *testing.T) {
	for _, ss := range []int{512, 4096} {
		t.Run(strconv.Itoa(ss), func(t *testing.T) {
			dev, img := makeImage(t, ss, 128)
			before, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			tab, err := ReadFile(dev)
			if err != nil {
				t.Fatal(err)
			}
			p := tab.Partitions[2] // entry 4, "_empty"
			p.Type, _ = TypeByName("root-x86-64-verity")
			p.UUID, _ = ParseGUID("01234567-89ab-cdef-0123-456789abcdef")
			p.Label = "root_2.0~rc1+😀"
			p.Flags = NoAutoFlag | GrowFileSystemFlag
			if err := tab.Update(p); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(dev, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := tab.Write(f); err != nil {
				t.Fatal(err)
			}
			sfdiskVerify(t, dev)
			again, err := ReadFile(dev)
			if err != nil {
				t.Fatal(err)
			}
			if again.Partitions[2] != p {
				t.Errorf("read back %+v, wrote %+v", again.Partitions[2], p)
			}
			compareSfdisk(t, again, dev)

			// Nothing but entry 4 in both arrays and the two CRC fields of both headers changed.
			after, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			allowed := func(off int) bool {
				for _, h := range []header{tab.primary, tab.backup} {
					hdr := int(h.myLBA) * ss
					if off >= hdr+16 && off < hdr+20 || off >= hdr+88 && off < hdr+92 {
						return true
					}
					e := int(h.entriesLBA)*ss + 3*128
					if off >= e && off < e+128 {
						return true
					}
				}
				return false
			}
			ranges := changedRanges(before, after)
			if len(ranges) == 0 {
				t.Fatal("Write changed nothing")
			}
			for _, r := range ranges {
				for off := r[0]; off < r[1]; off++ {
					if !allowed(off) {
						t.Fatalf("byte %d changed outside entry 4 and the header CRCs (ranges %v)", off, ranges)
					}
				}
			}
		})
	}
}

func TestUpdateRefuses(t *testing.T) {
	img, _ := makeImage(t, 512, 128)
	tab, err := ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	orig := tab.Partitions[1]
	for name, mut := range map[string]func(p *Partition){
		"moved":          func(p *Partition) { p.FirstLBA++ },
		"resized":        func(p *Partition) { p.LastLBA-- },
		"label 37 units": func(p *Partition) { p.Label = strings.Repeat("x", 37) },
		"label 19 emoji": func(p *Partition) { p.Label = strings.Repeat("😀", 19) },
		"label NUL":      func(p *Partition) { p.Label = "a\x00b" },
		"label bad utf8": func(p *Partition) { p.Label = "a\xffb" },
		"zero type":      func(p *Partition) { p.Type = GUID{} },
		"unused entry":   func(p *Partition) { p.Index = 3 },
		"entry 0":        func(p *Partition) { p.Index = 0 },
		"entry 129":      func(p *Partition) { p.Index = 129 },
	} {
		p := orig
		mut(&p)
		if err := tab.Update(p); err == nil {
			t.Errorf("%s: Update accepted %+v", name, p)
		}
	}
	if tab.Partitions[1] != orig {
		t.Errorf("a refused Update changed the table: %+v", tab.Partitions[1])
	}
	p := orig
	p.Label = strings.Repeat("😀", 18) // 36 units exactly
	if err := tab.Update(p); err != nil {
		t.Errorf("36-unit label refused: %v", err)
	}
}

// corrupt flips one byte of img at off.
func corrupt(t *testing.T, img string, off int64) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedCopies(t *testing.T) {
	const ss = 512
	lastLBA := int64(imageSize)/ss - 1
	for _, c := range []struct {
		name       string
		off        int64
		fromBackup bool
	}{
		{"primary header", ss + 60, true},
		{"primary entry array", 2*ss + 128 + 40, true},
		{"primary signature", ss, true},
		{"backup header", lastLBA*ss + 60, false},
		{"backup entry array", (lastLBA-32)*ss + 5, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			img, _ := makeImage(t, ss, 128)
			good, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			corrupt(t, img, c.off)
			tab, err := ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			if tab.FromBackup() != c.fromBackup {
				t.Errorf("FromBackup %v", tab.FromBackup())
			}
			if fmt.Sprint(tab.Partitions) != fmt.Sprint(want.Partitions) || tab.DiskGUID != want.DiskGUID {
				t.Fatalf("read %+v, want %+v", tab.Partitions, want.Partitions)
			}
			// Writing the unchanged table repairs the damaged copy byte for byte.
			f, err := os.OpenFile(img, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := tab.Write(f); err != nil {
				t.Fatal(err)
			}
			repaired, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			if r := changedRanges(good, repaired); len(r) != 0 {
				t.Errorf("repaired image differs from the original at %v", r)
			}
		})
	}
	t.Run("both", func(t *testing.T) {
		img, _ := makeImage(t, ss, 128)
		corrupt(t, img, ss+60)
		corrupt(t, img, lastLBA*ss+60)
		if _, err := ReadFile(img); !errors.Is(err, ErrNoTable) {
			t.Fatalf("both copies damaged: %v", err)
		}
	})
}

func TestWriteOtherDisk(t *testing.T) {
	img, _ := makeImage(t, 512, 128)
	tab, err := ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "small.img")
	f, err := os.Create(other)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(imageSize / 2); err != nil {
		t.Fatal(err)
	}
	if err := tab.Write(f); err == nil {
		t.Fatal("Write to a disk of another size succeeded")
	}
}

func TestGUID(t *testing.T) {
	g, err := ParseGUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
	if err != nil {
		t.Fatal(err)
	}
	disk := []byte{0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b}
	if !bytes.Equal(g[:], disk) {
		t.Errorf("on-disk bytes % x", g[:])
	}
	if g.String() != "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" {
		t.Errorf("String %s", g)
	}
	if h, err := ParseGUID("c12a7328f81f11d2ba4b00a0c93ec93b"); err != nil || h != g {
		t.Errorf("dashless: %v %v", h, err)
	}
	for _, bad := range []string{"", "c12a7328-f81f-11d2-ba4b-00a0c93ec93", "c12a7328+f81f-11d2-ba4b-00a0c93ec93b", "g12a7328-f81f-11d2-ba4b-00a0c93ec93b"} {
		if _, err := ParseGUID(bad); err == nil {
			t.Errorf("ParseGUID(%q) accepted", bad)
		}
	}
}

// TestTypeByNameUpstream compares every name upstream's `systemd-id128 show` lists.
func TestTypeByNameUpstream(t *testing.T) {
	up := harness.NeedUpstream(t)
	out, _, code := up.Run(t, "systemd-id128", "show")
	if code != 0 {
		t.Fatalf("systemd-id128 show: exit %d", code)
	}
	n := 0
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		g, ok := TypeByName(f[0])
		if !ok {
			t.Errorf("TypeByName(%q) unknown", f[0])
			continue
		}
		if strings.ReplaceAll(g.String(), "-", "") != f[1] {
			t.Errorf("TypeByName(%q) = %s, upstream %s", f[0], g, f[1])
		}
		n++
	}
	if n < 200 {
		t.Fatalf("only %d names compared", n)
	}
}

func TestTypeByName(t *testing.T) {
	for name, want := range map[string]string{
		"esp":                                  "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
		"linux-generic":                        "0fc63daf-8483-4772-8e79-3d69d8477de4",
		"root-x86-64":                          "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
		"usr-x86-64-verity":                    "77ff5f63-e7b6-4633-acf4-1565b864c0e6",
		"root-arm64":                           "b921b045-1df0-41c3-af44-4c6f280d3fae",
		"root-x86":                             "44479540-f297-41b2-9af7-d131d5f0458a",
		"usr-riscv64-verity-sig":               "",
		"0FC63DAF-8483-4772-8E79-3D69D8477DE4": "0fc63daf-8483-4772-8e79-3d69d8477de4",
	} {
		g, ok := TypeByName(name)
		if !ok || (want != "" && g.String() != want) {
			t.Errorf("TypeByName(%q) = %s %v, want %s", name, g, ok, want)
		}
	}
	for _, bad := range []string{"", "ROOT", "root-foo", "root-verity-foo", "esp ", "root-secondary-x"} {
		if g, ok := TypeByName(bad); ok {
			t.Errorf("TypeByName(%q) = %s", bad, g)
		}
	}
	// The architecture-less names are the native architecture's.
	if arch, ok := nativeArch[runtimeGOARCH()]; ok {
		for _, suffix := range []string{"", "-verity", "-verity-sig"} {
			a, _ := TypeByName("root" + suffix)
			b, _ := TypeByName("root-" + arch[0] + suffix)
			if a != b || a.IsZero() {
				t.Errorf("root%s = %s, root-%s%s = %s", suffix, a, arch[0], suffix, b)
			}
		}
	}
	if name := TypeName(mustGUID("4f68bce3-e8cd-4db1-96e7-fbcaf984b709")); name != "root-x86-64" {
		t.Errorf("TypeName(root x86-64) = %q", name)
	}
	if name := TypeName(mustGUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")); name != "esp" {
		t.Errorf("TypeName(esp) = %q", name)
	}
}

// tinyImage builds a small valid GPT image in memory (sector size ss, 4 entries, 16
// sectors, partitions in entries 1 and 4), the fuzz seed, independent of sfdisk.
func tinyImage(ss int) []byte {
	le := binary.LittleEndian
	const sectors = 16
	img := make([]byte, sectors*ss)
	entries := make([]byte, 4*128)
	esp := mustGUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
	copy(entries[0:], esp[:])
	entries[16] = 1
	le.PutUint64(entries[32:], 3)
	le.PutUint64(entries[40:], 5)
	le.PutUint64(entries[48:], NoAutoFlag)
	copy(entries[56:], []byte{'e', 0, 's', 0, 'p', 0})
	copy(entries[3*128:], esp[:])
	le.PutUint64(entries[3*128+32:], 6)
	le.PutUint64(entries[3*128+40:], 13)
	arraySectors := (len(entries) + ss - 1) / ss
	put := func(my, alt, entriesLBA uint64) {
		h := img[int(my)*ss:]
		copy(h, signature)
		le.PutUint32(h[8:], 0x00010000)
		le.PutUint32(h[12:], minHeaderSize)
		le.PutUint64(h[24:], my)
		le.PutUint64(h[32:], alt)
		le.PutUint64(h[40:], 3)
		le.PutUint64(h[48:], uint64(sectors-2-arraySectors))
		h[56] = 0xaa
		le.PutUint64(h[72:], entriesLBA)
		le.PutUint32(h[80:], 4)
		le.PutUint32(h[84:], 128)
		le.PutUint32(h[88:], crc32.ChecksumIEEE(entries))
		le.PutUint32(h[16:], crc32.ChecksumIEEE(h[:minHeaderSize]))
		copy(img[int(entriesLBA)*ss:], entries)
	}
	put(1, sectors-1, 2)
	put(sectors-1, 1, uint64(sectors-1-arraySectors))
	return img
}

func TestTinyImage(t *testing.T) {
	for _, ss := range []int{512, 4096} {
		img := tinyImage(ss)
		tab, err := Read(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatalf("%d: %v", ss, err)
		}
		if tab.SectorSize != ss || len(tab.Partitions) != 2 || tab.Partitions[1].Index != 4 || tab.Partitions[0].Label != "esp" {
			t.Errorf("%d: %+v", ss, tab)
		}
	}
}

func TestReadRejectsNonsense(t *testing.T) {
	img := tinyImage(512)
	le := binary.LittleEndian
	for name, mut := range map[string]func(h []byte){
		"huge entry count": func(h []byte) { le.PutUint32(h[80:], 0xffffffff) },
		"huge entry size":  func(h []byte) { le.PutUint32(h[84:], 1<<31) },
		"entry size 100":   func(h []byte) { le.PutUint32(h[84:], 100) },
		"usable past end":  func(h []byte) { le.PutUint64(h[48:], 1<<40) },
		"array in usable":  func(h []byte) { le.PutUint64(h[72:], 10) },
		"header size 4096": func(h []byte) { le.PutUint32(h[12:], 4096) },
	} {
		b := bytes.Clone(img)
		for _, lba := range []int{1, 15} { // both copies, so no fallback hides the check
			h := b[lba*512:]
			mut(h)
			le.PutUint32(h[16:], 0)
			if n := le.Uint32(h[12:]); n <= 512 {
				le.PutUint32(h[16:], crc32.ChecksumIEEE(h[:n]))
			}
		}
		if _, err := Read(bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrNoTable) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Read(bytes.NewReader(nil), 0); err == nil {
		t.Error("empty disk accepted")
	}
}

// FuzzRead: the inputs are whole disk images (8 and 64 KiB seeds), which the fuzzer's
// minimizer shrinks very slowly; run it with -fuzzminimizetime 0 (about 17,000 execs/s here).
func FuzzRead(f *testing.F) {
	f.Add(tinyImage(512))
	f.Add(tinyImage(4096))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, p := range tab.Partitions {
			if p.Index < 1 || p.Size(tab.SectorSize) <= 0 || p.Offset(tab.SectorSize)+p.Size(tab.SectorSize) > int64(len(data)) {
				t.Fatalf("partition outside the disk: %+v", p)
			}
			if err := tab.Update(p); err != nil {
				t.Fatalf("Update with unchanged values: %v", err)
			}
		}
	})
}

func FuzzParseGUID(f *testing.F) {
	f.Add("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
	f.Add("C12A7328F81F11D2BA4B00A0C93EC93B")
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGUID(s)
		if err != nil {
			return
		}
		h, err := ParseGUID(g.String())
		if err != nil || h != g {
			t.Fatalf("%q: %s does not round-trip (%v)", s, g, err)
		}
	})
}

// eofAtEnd is a ReaderAt that returns io.EOF with a full read ending at the end of its data,
// as io.ReaderAt allows.
type eofAtEnd struct{ b []byte }

func (e eofAtEnd) ReadAt(p []byte, off int64) (int, error) {
	n, err := bytes.NewReader(e.b).ReadAt(p, off)
	if err == nil && off+int64(n) == int64(len(e.b)) {
		err = io.EOF
	}
	return n, err
}

func TestReadEOFAtEnd(t *testing.T) {
	img := tinyImage(512)
	tab, err := Read(eofAtEnd{img}, int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	// The backup header is the last sector: it was read, not derived.
	if tab.backup.sector[0] != 'E' || len(tab.Partitions) != 2 {
		t.Fatalf("%+v", tab)
	}
	// A disk shorter than the size claimed, ending before the primary entry array, is an
	// error, not a table of zeros.
	if _, err := Read(bytes.NewReader(img[:2*512]), int64(len(img))); err == nil {
		t.Error("truncated disk accepted")
	}
}

// recorder records Write's operations on an in-memory disk.
type recorder struct {
	ops []op
}

type op struct {
	off  int64
	data []byte // nil: sync
}

func (r *recorder) WriteAt(p []byte, off int64) (int, error) {
	r.ops = append(r.ops, op{off, bytes.Clone(p)})
	return len(p), nil
}

func (r *recorder) Sync() error {
	r.ops = append(r.ops, op{})
	return nil
}

// TestWriteCrashConsistent replays a prefix of Write's operations (a crash after each of
// them, with a sector-granular torn write inside each) and checks that Read then returns
// either the old or the new table, never a mix or nothing.
func TestWriteCrashConsistent(t *testing.T) {
	const ss = 512
	img := tinyImage(ss)
	tab, err := Read(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	oldParts := fmt.Sprint(tab.Partitions)
	p := tab.Partitions[1]
	p.Label, p.Flags, p.Type = "root_7", ReadOnlyFlag, mustGUID("4f68bce3-e8cd-4db1-96e7-fbcaf984b709")
	if err := tab.Update(p); err != nil {
		t.Fatal(err)
	}
	newParts := fmt.Sprint(tab.Partitions)
	var rec recorder
	if err := tab.writeTo(&rec); err != nil {
		t.Fatal(err)
	}
	// Backup entry array, backup header, sync, primary entry array, primary header, sync.
	lastLBA := int64(len(img)/ss - 1)
	want := []int64{(lastLBA - 1) * ss, lastLBA * ss, -1, 2 * ss, 1 * ss, -1}
	if len(rec.ops) != len(want) {
		t.Fatalf("%d operations", len(rec.ops))
	}
	for i, o := range rec.ops {
		if (o.data == nil) != (want[i] == -1) || (o.data != nil && o.off != want[i]) {
			t.Fatalf("operation %d at %d (sync %v), want %d", i, o.off, o.data == nil, want[i])
		}
	}
	sawNew := false
	for k := 0; k <= len(rec.ops); k++ {
		for torn := 0; torn <= 1; torn++ {
			d := bytes.Clone(img)
			for i, o := range rec.ops[:k] {
				if o.data == nil {
					continue
				}
				data := o.data
				if torn == 1 && i == k-1 && len(data) > ss/2 {
					data = data[:ss/2] // half of the last write reached the disk
				}
				copy(d[o.off:], data)
			}
			got, err := Read(bytes.NewReader(d), int64(len(d)))
			if err != nil {
				t.Fatalf("crash after %d operations (torn %d): %v", k, torn, err)
			}
			switch fmt.Sprint(got.Partitions) {
			case oldParts:
			case newParts:
				sawNew = true
			default:
				t.Fatalf("crash after %d operations (torn %d): a mixed table %v", k, torn, got.Partitions)
			}
		}
	}
	if !sawNew {
		t.Fatal("the complete write did not yield the new table")
	}
}
