package gpt

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// GUID is a GUID as stored on disk: its first three fields are little-endian, the last
// eight bytes in order ("mixed-endian"), so String reorders bytes for the textual form.
type GUID [16]byte

// String is the canonical lower-case textual form, e.g.
// c12a7328-f81f-11d2-ba4b-00a0c93ec93b, as sfdisk, blkid and systemd print it.
func (g GUID) String() string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(g[0:4]),
		binary.LittleEndian.Uint16(g[4:6]),
		binary.LittleEndian.Uint16(g[6:8]),
		g[8:10], g[10:16])
}

// IsZero reports whether g is all zeros, the type of an unused entry.
func (g GUID) IsZero() bool { return g == GUID{} }

// ParseGUID parses the canonical textual form (either case). Like systemd's id128 parser it
// also accepts the 32 hex digits without dashes.
func ParseGUID(s string) (GUID, error) {
	var raw [16]byte
	var hexs string
	switch len(s) {
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return GUID{}, fmt.Errorf("gpt: invalid GUID %q", s)
		}
		hexs = s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	case 32:
		hexs = s
	default:
		return GUID{}, fmt.Errorf("gpt: invalid GUID %q", s)
	}
	if _, err := hex.Decode(raw[:], []byte(hexs)); err != nil {
		return GUID{}, fmt.Errorf("gpt: invalid GUID %q", s)
	}
	var g GUID
	binary.LittleEndian.PutUint32(g[0:4], binary.BigEndian.Uint32(raw[0:4]))
	binary.LittleEndian.PutUint16(g[4:6], binary.BigEndian.Uint16(raw[4:6]))
	binary.LittleEndian.PutUint16(g[6:8], binary.BigEndian.Uint16(raw[6:8]))
	copy(g[8:], raw[8:])
	return g, nil
}

// mustGUID parses a GUID from a table of constants.
func mustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}
