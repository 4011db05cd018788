package conf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// LongLineMax is the longest line, after joining continuation lines, that
// is accepted: 1 MiB, the same limit systemd applies (LONG_LINE_MAX).
// Longer lines are reported and skipped without being held in memory.
const LongLineMax = 1 << 20

// whitespace is the set systemd strips around lines, keys and values.
const whitespace = " \t\n\r"

// Options adjusts how files are read. A nil *Options means the defaults.
type Options struct {
	// Warn, if set, is called with each problem (an *Error) as soon as it
	// is found, in addition to it being collected in File.Warnings; a
	// daemon passes a function that logs.
	Warn func(error)
}

// Parse reads one configuration file from r. name is used in messages
// and in the File, Entry and Section locations. Syntax problems are
// reported in File.Warnings and skipped; the error is non-nil only when
// reading r fails.
func Parse(r io.Reader, name string, opts *Options) (*File, error) {
	f := &File{}
	if err := f.parse(r, name, opts, LongLineMax); err != nil {
		return nil, err
	}
	return f, nil
}

// parser holds the state of one file being read into a File.
type parser struct {
	f    *File
	name string
	opts *Options
	cur  *Section
	// badSection is set after an invalid header: its assignments are
	// dropped quietly, the header already having been reported.
	badSection bool
}

func (p *parser) warn(line int, format string, args ...any) {
	err := &Error{File: p.name, Line: line, Msg: fmt.Sprintf(format, args...)}
	p.f.Warnings = append(p.f.Warnings, err)
	if p.opts != nil && p.opts.Warn != nil {
		p.opts.Warn(err)
	}
}

// parse appends the sections of r to f. Each file starts outside any
// section: a drop-in cannot add to the last section of the file before it
// without its own header.
//
// limit is LongLineMax except in tests, which lower it to exercise the
// oversized-line paths cheaply.
func (f *File) parse(r io.Reader, name string, opts *Options, limit int) error {
	p := &parser{f: f, name: name, opts: opts}
	f.Paths = append(f.Paths, name)
	size := 4096 // longer lines are gathered from several reads
	if limit < size {
		size = max(limit, 16) // tests: small buffers reach the ErrBufferFull path
	}
	br := bufio.NewReaderSize(r, size)

	var (
		buf       []byte
		cont      []byte // logical line being joined, nil when none
		contStart int    // first physical line of cont
		skipCont  bool   // dropping the rest of an oversized continuation
	)
	for n := 1; ; n++ {
		line, long, err := readLine(br, buf[:0], limit)
		if err == io.EOF {
			break
		}
		if err != nil {
			return ioErr(name, err)
		}
		buf = line
		if n == 1 {
			line = stripBOM(line)
		}
		if long.tooLong {
			start := n
			if cont != nil {
				start = contStart
			}
			p.warn(start, "line too long (over %d bytes), ignoring", limit)
			cont = nil
			skipCont = long.continued
			continue
		}
		// Comment lines are skipped even inside a continuation, so a
		// long command line can carry comments between its parts.
		if t := bytes.TrimLeft(line, whitespace); len(t) > 0 && (t[0] == '#' || t[0] == ';') {
			continue
		}
		if skipCont {
			skipCont = continues(line)
			continue
		}
		if cont == nil && !continues(line) {
			p.line(string(line), n) // the common case: no copy to join
			continue
		}
		if cont != nil {
			if len(cont)+len(line) > limit {
				p.warn(contStart, "continued line too long (over %d bytes), ignoring", limit)
				cont = nil
				skipCont = continues(line)
				continue
			}
			cont = append(cont, line...)
		} else {
			cont = append([]byte(nil), line...)
			contStart = n
		}
		if continues(cont) {
			// The backslash becomes a space and the next line is
			// appended as it is, as systemd does.
			cont[len(cont)-1] = ' '
			continue
		}
		p.line(string(cont), contStart)
		cont = nil
	}
	// A file may end in the middle of a continuation: what was gathered
	// still counts.
	if cont != nil {
		p.line(string(cont), contStart)
	}
	return nil
}

// continues reports whether a line ends in an unescaped backslash, i.e.
// an odd number of backslashes ("\\" at the end is a literal backslash).
func continues(b []byte) bool {
	n := 0
	for i := len(b) - 1; i >= 0 && b[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func stripBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return b[3:]
	}
	return b
}

// line interprets one logical line, which starts at physical line n.
func (p *parser) line(l string, n int) {
	l = strings.Trim(l, whitespace)
	if l == "" {
		return
	}
	if strings.IndexByte(l, 0) >= 0 {
		p.warn(n, "line contains a NUL byte, ignoring")
		return
	}
	if l[0] == '[' {
		p.cur = nil
		p.badSection = true
		if len(l) < 2 || l[len(l)-1] != ']' {
			p.warn(n, "invalid section header %q, ignoring the section", l)
			return
		}
		name := l[1 : len(l)-1]
		if name == "" {
			p.warn(n, "empty section name, ignoring the section")
			return
		}
		if !safeName(name) {
			p.warn(n, "bad characters in section header %q, ignoring the section", l)
			return
		}
		p.cur = &Section{Name: name, File: p.name, Line: n}
		p.badSection = false
		p.f.sections = append(p.f.sections, p.cur)
		return
	}
	if !utf8.ValidString(l) {
		// As systemd: settings are text, and invalid bytes would end up
		// in logs and Varlink replies, which must be UTF-8.
		p.warn(n, "line is not valid UTF-8, ignoring")
		return
	}
	if p.cur == nil {
		if !p.badSection {
			p.warn(n, "assignment outside of any section, ignoring")
		}
		return
	}
	i := strings.IndexByte(l, '=')
	if i < 0 {
		p.warn(n, "missing '=', ignoring line")
		return
	}
	if i == 0 {
		p.warn(n, "missing key name before '=', ignoring line")
		return
	}
	p.cur.Entries = append(p.cur.Entries, Entry{
		Key:   strings.TrimRight(l[:i], whitespace),
		Value: strings.TrimLeft(l[i+1:], whitespace),
		File:  p.name,
		Line:  n,
	})
}

// safeName rejects control characters, quotes, backslashes and invalid
// UTF-8 in section names, as systemd does, so that names can be shown and
// quoted safely.
func safeName(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c == 0x7f || c == '"' || c == '\'' || c == '\\' {
			return false
		}
	}
	return true
}

// longLine describes a line that exceeded the limit.
type longLine struct {
	tooLong   bool
	continued bool // it ended in an unescaped backslash
}

// readLine reads one physical line into buf, without its "\n" or "\r\n".
// A line longer than max is consumed to its end but not kept, so a huge
// line cannot exhaust memory; only whether it ended in a continuation
// backslash is remembered. It returns io.EOF only when nothing at all was
// left to read.
func readLine(br *bufio.Reader, buf []byte, max int) ([]byte, longLine, error) {
	var (
		long longLine
		tail tailState
		read bool
	)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			read = true
		}
		if !long.tooLong && len(buf)+len(chunk) > max+2 { // +2: room for "\r\n"
			long.tooLong = true
			tail.feed(buf)
			buf = buf[:0]
		}
		if long.tooLong {
			tail.feed(chunk)
		} else {
			buf = append(buf, chunk...)
		}
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if !read {
				return nil, long, io.EOF
			}
		default:
			return nil, long, err
		}
		break
	}
	if long.tooLong {
		long.continued = tail.continues()
		return buf, long, nil
	}
	buf = trimEOL(buf)
	if len(buf) > max {
		long.tooLong = true
		long.continued = continues(buf)
		buf = buf[:0]
	}
	return buf, long, nil
}

// tailState follows the end of an oversized line byte by byte to tell,
// without storing it, whether the line (minus "\n" or "\r\n") ends in an
// odd run of backslashes.
type tailState struct {
	odd   bool // the bytes so far end in an odd run of backslashes
	oddCR bool // the same, for the bytes before a final '\r'
	cr    bool // the last byte was '\r'
	nl    bool // the line's '\n' was seen
}

func (t *tailState) feed(b []byte) {
	for _, c := range b {
		switch c {
		case '\\':
			t.odd, t.cr = !t.odd, false
		case '\r':
			t.oddCR, t.odd, t.cr = t.odd, false, true
		case '\n':
			t.nl = true
		default:
			t.odd, t.cr = false, false
		}
	}
}

func (t *tailState) continues() bool {
	if t.nl && t.cr {
		return t.oddCR // "\r\n" ends the line: look before the '\r'
	}
	return t.odd
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
