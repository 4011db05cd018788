package hwdb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxLineLength is the longest line ParseFile accepts (systemd-hwdb's limit, 1 MiB). Like
// systemd-hwdb, ParseFile stops reading a file at a longer line and keeps what came before.
const MaxLineLength = 1 << 20

// Entry is one record of a hwdb file: one or more match patterns and the properties that apply
// to every string any of them matches.
type Entry struct {
	Matches    []string
	Properties []Property
	File       string // the name given to ParseFile
	Line       int    // line of the first match pattern
}

// Property is one KEY=value line of an entry.
type Property struct {
	Key, Value string
	Line       int
}

// ParseError is a problem found in a hwdb file. The offending line (or record) is skipped and
// parsing goes on.
type ParseError struct {
	File string
	Line int // 0 when the error is about the whole file (e.g. it cannot be opened)
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ParseFile reads a hwdb text file. name is used in the entries and in errors. The syntax, as
// systemd-hwdb reads it:
//
//   - a line starting with '#' is a comment and is ignored wherever it appears (also between
//     the match lines and the properties of a record); any other line is cut at its first '#',
//     so neither patterns nor values can contain '#';
//   - lines end at '\n', '\r', "\r\n", "\n\r" or NUL (see lineReader);
//   - trailing white space is removed;
//   - a record is one or more match lines (starting in column 0) followed by one or more
//     property lines (starting with a space) and ends at an empty line or the end of the file;
//   - a property line is " KEY=value": the key runs from after the leading space to the first
//     '=' and the value is everything after it, both kept verbatim (so " K = v" gives key "K "
//     and value " v"); several leading spaces or tabs count as one; a line indented with a tab
//     instead of a space is not a property line.
//
// Bad lines are reported as *ParseError with the file and line and skipped the way
// systemd-hwdb skips them: an indented line where a match is expected, a property line without
// '=' or with an empty key, a record without properties (the whole record), and a match line
// after the properties of a record (that line; it also ends the record, so property lines
// after it are reported as misplaced too).
func ParseFile(r io.Reader, name string) ([]Entry, []error) {
	var (
		entries []Entry
		errs    []error
		cur     *Entry // the record being read, nil between records
		inProps bool   // cur has reached its property lines
	)
	report := func(line int, format string, args ...any) {
		errs = append(errs, &ParseError{File: name, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	flush := func() { // keep the record being read if it has something to give
		if cur != nil && len(cur.Properties) > 0 {
			entries = append(entries, *cur)
		}
		cur, inProps = nil, false
	}
	endRecord := func(line int) {
		if cur != nil && !inProps {
			report(line, "match without properties, record ignored")
		}
		flush()
	}

	lr := lineReader{br: bufio.NewReader(r)}
	for lineNo := 1; ; lineNo++ {
		raw, err := lr.next()
		if errors.Is(err, io.EOF) && raw == "" {
			endRecord(lineNo - 1)
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			if errors.Is(err, errLineTooLong) {
				report(lineNo, "line longer than %d bytes, rest of the file ignored", MaxLineLength)
			} else {
				report(lineNo, "read error: %v", err)
			}
			flush() // what was read of the record still counts
			break
		}

		if strings.HasPrefix(raw, "#") {
			continue
		}
		line := raw
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimRight(line, " \t\n\v\f\r")

		if line == "" {
			endRecord(lineNo)
			continue
		}
		property := line[0] == ' '

		switch {
		case cur == nil && property:
			report(lineNo, "expected a match line, got indented %q; line ignored", line)
		case cur == nil:
			cur = &Entry{Matches: []string{line}, File: name, Line: lineNo}
		case !inProps && !property:
			cur.Matches = append(cur.Matches, line)
		case !property: // a match line after the properties
			report(lineNo, "expected a property or an empty line, got %q; line ignored, record ended", line)
			flush()
		default:
			inProps = true
			if p, ok, msg := parseProperty(line, lineNo); msg != "" {
				report(lineNo, "%s", msg)
			} else if ok {
				cur.Properties = append(cur.Properties, p)
			}
		}
		if errors.Is(err, io.EOF) {
			endRecord(lineNo)
			break
		}
	}
	return entries, errs
}

// parseProperty splits a property line (starting with a space). ok is false for a line that
// is silently dropped, msg is set for a bad one.
func parseProperty(line string, lineNo int) (p Property, ok bool, msg string) {
	eq := strings.IndexByte(line, '=')
	if eq < 0 {
		return p, false, fmt.Sprintf("expected KEY=value, got %q; ignored", line)
	}
	key, value := line[:eq], line[eq+1:]
	for len(key) >= 2 && isBlank(key[0]) && isBlank(key[1]) {
		key = key[1:]
	}
	if len(key) <= 1 {
		return p, false, fmt.Sprintf("empty key in %q; ignored", line)
	}
	if key[0] != ' ' {
		// Indentation that ends in a tab: systemd-hwdb stores the key but never returns it.
		return p, false, ""
	}
	return Property{Key: key[1:], Value: value, Line: lineNo}, true, ""
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

var errLineTooLong = errors.New("line too long")

// lineReader splits its input into lines the way systemd's read_line does: a line ends at
// '\n', '\r' or NUL, and a run of such bytes counts as one line end as long as no kind repeats
// and no NUL came before ("\r\n", "\n\r" and "\r\n\0" are one end each, "\n\n" and "\0\n"
// are two).
type lineReader struct {
	br *bufio.Reader
	sb strings.Builder
}

// next returns the next line. At the end of the input it returns io.EOF (with the last line,
// if it had no line end). A line longer than MaxLineLength gives errLineTooLong.
func (lr *lineReader) next() (string, error) {
	lr.sb.Reset()
	const (
		eolNUL = 1 << iota
		eolLF
		eolCR
	)
	seen := 0
	for {
		c, err := lr.br.ReadByte()
		if err != nil {
			if seen != 0 { // the line is complete; the error comes with the next one
				return lr.sb.String(), nil
			}
			return lr.sb.String(), err
		}
		kind := 0
		switch c {
		case 0:
			kind = eolNUL
		case '\n':
			kind = eolLF
		case '\r':
			kind = eolCR
		}
		if seen&eolNUL != 0 || (kind == 0 && seen != 0) || (kind != 0 && seen&kind != 0) {
			lr.br.UnreadByte()
			return lr.sb.String(), nil
		}
		if kind != 0 {
			seen |= kind
			continue
		}
		if lr.sb.Len() >= MaxLineLength {
			return "", errLineTooLong
		}
		lr.sb.WriteByte(c)
	}
}
