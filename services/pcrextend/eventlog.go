package pcrextend

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// LogPath is the userspace measurement log, shared with upstream's tools that measure
// (systemd-cryptsetup, systemd-pcrlock read it).
const LogPath = "/run/log/systemd/tpm2-measure.log"

// Record is one measurement in the log: a JSON text after an RS (0x1E) and before an LF, as
// RFC 7464 (JSON text sequences) has it, with upstream's field names.
type Record struct {
	PCR         int      `json:"pcr"`
	Digests     []Digest `json:"digests"`
	ContentType string   `json:"content_type"`
	Content     Content  `json:"content"`
}

// Digest is what one bank was extended with.
type Digest struct {
	HashAlg string `json:"hashAlg"` // "sha256"
	Digest  string `json:"digest"`  // lower-case hex
}

// Content describes the measured data (content_type "systemd").
type Content struct {
	String    string `json:"string"` // the data, C-escaped (Escape)
	BootID    string `json:"bootId,omitempty"`
	Timestamp uint64 `json:"timestamp"`           // µs since boot (CLOCK_BOOTTIME)
	EventType string `json:"eventType,omitempty"` // "phase", "imds-userdata", …; absent when not given
}

// Escape is how the log and the messages show measured bytes, as upstream's cescape: \a \b
// \f \n \r \t \v \\ \" \' by name, other bytes below 0x20 or from 0x7F on as three octal
// digits (so UTF-8 text shows as its bytes), the rest as they are.
func Escape(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		switch c {
		case '\a':
			s.WriteString(`\a`)
		case '\b':
			s.WriteString(`\b`)
		case '\f':
			s.WriteString(`\f`)
		case '\n':
			s.WriteString(`\n`)
		case '\r':
			s.WriteString(`\r`)
		case '\t':
			s.WriteString(`\t`)
		case '\v':
			s.WriteString(`\v`)
		case '\\':
			s.WriteString(`\\`)
		case '"':
			s.WriteString(`\"`)
		case '\'':
			s.WriteString(`\'`)
		default:
			if c < ' ' || c >= 0x7f {
				fmt.Fprintf(&s, `\%03o`, c)
			} else {
				s.WriteByte(c)
			}
		}
	}
	return s.String()
}

// Marshal encodes r as one log entry: RS, the JSON text, LF.
func (r *Record) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte(0x1e)
	enc := json.NewEncoder(&b) // Encode ends with the LF
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ReadLog parses a measurement log. Entries that are not valid JSON records are an error.
func ReadLog(r io.Reader) ([]Record, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var out []Record
	for i, part := range bytes.Split(data, []byte{0x1e}) {
		if i == 0 {
			if len(bytes.TrimSpace(part)) != 0 {
				return nil, fmt.Errorf("measurement log: data before the first record separator")
			}
			continue
		}
		var rec Record
		if err := json.Unmarshal(part, &rec); err != nil {
			return nil, fmt.Errorf("measurement log entry %d: %w", i, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// ReadLogFile is ReadLog of the log under root.
func ReadLogFile(root string) ([]Record, error) {
	f, err := os.Open(filepath.Join(root, LogPath))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadLog(bufio.NewReader(f))
}

// logFile is the open, locked measurement log.
type logFile struct{ f *os.File }

// openLog opens the log under root for appending (creating it mode 0600 and its directory)
// and takes an exclusive flock on it, which other measuring processes (ours, upstream's)
// also take: the order of the entries is the order of the extensions.
func openLog(root string) (*logFile, error) {
	p := filepath.Join(root, LogPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOCTTY|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	return &logFile{f}, nil
}

// append writes one record in a single write (O_APPEND).
func (l *logFile) append(r *Record) error {
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	_, err = l.f.Write(b)
	return err
}

// Close releases the lock with the file.
func (l *logFile) Close() error { return l.f.Close() }
