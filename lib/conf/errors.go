package conf

import "strconv"

// Error is a problem tied to a place in a configuration file. Line is 0
// when the problem concerns the whole file (for example a file that could
// not be read).
type Error struct {
	File string
	Line int
	Msg  string
	// Err is the underlying cause, if any (a *ValueError from Entry.Wrap,
	// an I/O error, …). It is already part of Msg.
	Err error
}

// Error formats the problem as "FILE:LINE: msg", or "FILE: msg" without a
// line, the form editors and compilers use, so the place can be jumped to.
func (e *Error) Error() string {
	if e.Line > 0 {
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
	}
	return e.File + ": " + e.Msg
}

// Unwrap returns the underlying cause, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// ValueError reports a setting value that does not parse as the wanted
// type. It names the type and quotes the value, so a message read out of
// context still says what was wrong.
type ValueError struct {
	Type   string // "boolean", "size", "percentage", "time span", …
	Value  string
	Reason string // optional detail, e.g. "unknown unit \"x\""
}

// Error formats the problem as `invalid TYPE "VALUE"[: reason]`.
func (e *ValueError) Error() string {
	s := "invalid " + e.Type + " " + strconv.Quote(e.Value)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func valueErr(typ, value, reason string) error {
	return &ValueError{Type: typ, Value: value, Reason: reason}
}
