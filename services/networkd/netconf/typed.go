package netconf

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseTypedData reads the "TYPE:VALUE" notation of CircuitId=, RemoteId=
// and VirtualSubnetSelection= into the bytes sent on the wire: uint8,
// uint16 and uint32 in network byte order, ipv4address (4 bytes),
// ipv6address (16 bytes), or string (C escapes allowed). The result is
// at most 255 bytes, the size of a DHCP option.
func ParseTypedData(s string) ([]byte, error) {
	typ, val, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("invalid value %q: expected TYPE:DATA", s)
	}
	var b []byte
	switch typ {
	case "uint8", "uint16", "uint32":
		bits := map[string]int{"uint8": 8, "uint16": 16, "uint32": 32}[typ]
		v, err := strconv.ParseUint(val, 0, bits)
		if err != nil {
			return nil, fmt.Errorf("invalid %s %q", typ, val)
		}
		b = binary.BigEndian.AppendUint32(nil, uint32(v))[4-bits/8:]
	case "ipv4address", "ipv6address":
		a, err := netip.ParseAddr(val)
		if err != nil || (typ == "ipv4address") != a.Is4() || a.Zone() != "" {
			return nil, fmt.Errorf("invalid %s %q", typ, val)
		}
		b = a.AsSlice()
	case "string":
		u, err := unescapeC(val)
		if err != nil {
			return nil, fmt.Errorf("invalid string %q: %v", val, err)
		}
		b = []byte(u)
	default:
		return nil, fmt.Errorf("unknown data type %q", typ)
	}
	if len(b) == 0 || len(b) > 255 {
		return nil, fmt.Errorf("value %q must be 1…255 bytes", s)
	}
	return b, nil
}

// unescapeC undoes C-style escapes (\n, \t, \\, \", \xHH, \NNN octal).
func unescapeC(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", fmt.Errorf("trailing backslash")
		}
		switch c = s[i]; c {
		case 'a':
			sb.WriteByte('\a')
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'v':
			sb.WriteByte('\v')
		case '\\', '"', '\'', ' ':
			sb.WriteByte(c)
		case 'x':
			if i+3 > len(s) {
				return "", fmt.Errorf("short \\x escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad \\x escape")
			}
			sb.WriteByte(byte(v))
			i += 2
		case '0', '1', '2', '3':
			if i+3 > len(s) {
				return "", fmt.Errorf("short octal escape")
			}
			v, err := strconv.ParseUint(s[i:i+3], 8, 8)
			if err != nil {
				return "", fmt.Errorf("bad octal escape")
			}
			sb.WriteByte(byte(v))
			i += 2
		default:
			return "", fmt.Errorf("unknown escape \\%c", c)
		}
	}
	return sb.String(), nil
}
