package creds

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Prefixes of the SMBIOS OEM strings (type 11) that carry system credentials, as upstream's
// PID 1 reads them: "io.systemd.credential:NAME=VALUE" (VALUE verbatim) and
// "io.systemd.credential.binary:NAME=BASE64".
const (
	OEMPrefix       = "io.systemd.credential:"
	OEMBinaryPrefix = "io.systemd.credential.binary:"
)

// ErrNotCredential is returned by ParseOEMString for an OEM string with neither prefix; the
// firmware's other strings are not an error, just not credentials.
var ErrNotCredential = errors.New("not a credential OEM string")

// ParseOEMString decodes one SMBIOS OEM string into a credential. Strings without either
// prefix give ErrNotCredential; a missing '=', an invalid name or bad base64 give another
// error (upstream logs and skips those).
func ParseOEMString(s string) (name string, value []byte, err error) {
	binary := false
	rest, ok := strings.CutPrefix(s, OEMPrefix)
	if !ok {
		if rest, ok = strings.CutPrefix(s, OEMBinaryPrefix); !ok {
			return "", nil, ErrNotCredential
		}
		binary = true
	}
	name, v, ok := strings.Cut(rest, "=")
	if !ok {
		return "", nil, errors.New("credential OEM string lacks '='")
	}
	if !ValidName(name) {
		return "", nil, fmt.Errorf("invalid credential name %q", name)
	}
	if !binary {
		return name, []byte(v), nil
	}
	value, err = DecodeBase64(v)
	if err != nil {
		return "", nil, fmt.Errorf("credential %s: %w", name, err)
	}
	return name, value, nil
}

// DecodeBase64 decodes standard base64 as upstream's system credentials are written: padded
// or not, with whitespace (line breaks of a wrapped encoding) ignored.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			return -1
		}
		return r
	}, s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
