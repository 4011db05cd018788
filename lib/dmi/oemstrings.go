package dmi

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// EntriesDir is where the kernel publishes every SMBIOS structure of the firmware's table,
// one directory TYPE-INDEX each, with the structure's bytes in its "raw" file.
const EntriesDir = "/sys/firmware/dmi/entries"

// TypeOEMStrings is the SMBIOS structure type of OEM strings (qemu: -smbios type=11,value=…).
const TypeOEMStrings = 11

// oemHeaderLen is the formatted area of a type 11 structure: type, length, handle (2 bytes)
// and the count of strings.
const oemHeaderLen = 5

// ErrMalformed is wrapped by the errors of ParseOEMStrings.
var ErrMalformed = errors.New("malformed SMBIOS structure")

// ParseOEMStrings returns the strings of one raw SMBIOS type 11 structure, in order. A
// structure is a formatted area — type, its own length, handle, and for type 11 the number of
// strings — followed by the string set: NUL-terminated strings ending with an empty one. A
// formatted area longer than type 11's five bytes (a later revision) is skipped by its
// length; a last string without its NUL (a truncated read) is kept, as upstream keeps it.
func ParseOEMStrings(raw []byte) ([]string, error) {
	if len(raw) < oemHeaderLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(raw))
	}
	if raw[0] != TypeOEMStrings {
		return nil, fmt.Errorf("%w: type %d, not %d", ErrMalformed, raw[0], TypeOEMStrings)
	}
	n := int(raw[1])
	if n < oemHeaderLen || n > len(raw) {
		return nil, fmt.Errorf("%w: formatted area of %d bytes in %d", ErrMalformed, n, len(raw))
	}
	var out []string
	for rest := raw[n:]; len(rest) > 0; {
		end := 0
		for end < len(rest) && rest[end] != 0 {
			end++
		}
		if end == 0 {
			break // the empty string ends the set
		}
		out = append(out, string(rest[:end]))
		if end == len(rest) {
			break
		}
		rest = rest[end+1:]
	}
	return out, nil
}

// ReadOEMStrings reads the SMBIOS type 11 structures under root ("" or "/" for the host) —
// EntriesDir/11-0/raw, 11-1/raw, … up to the first that does not exist — and returns all their
// strings in order. Each structure is read up to max bytes (the rest is ignored). A structure
// that cannot be read or parsed ends the walk with an error, along with the strings read
// before it. No type 11 structure (or no DMI at all) is no error.
func ReadOEMStrings(root string, max int) ([]string, error) {
	var out []string
	for i := 0; ; i++ {
		p := filepath.Join(rootDir(root), EntriesDir, strconv.Itoa(TypeOEMStrings)+"-"+strconv.Itoa(i), "raw")
		raw, err := readLimited(p, max)
		if errors.Is(err, fs.ErrNotExist) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("dmi: %w", err)
		}
		strs, err := ParseOEMStrings(raw)
		if err != nil {
			return out, fmt.Errorf("dmi: %s: %w", p, err)
		}
		out = append(out, strs...)
	}
}

func readLimited(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(max)))
}
