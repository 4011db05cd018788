package varlinkd

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Walking JSON text that json.Valid accepted: enough to visit an object's members and an
// array's elements and look at their raw values, without decoding (and allocating) them.
// The functions still check their bounds, so text that is not valid gives errSyntax rather
// than a panic.

var errSyntax = errors.New("malformed JSON")

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isNull(v []byte) bool { return string(v) == "null" }

// stringEnd returns the index just past the string whose opening quote is b[i].
func stringEnd(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errSyntax
}

// valueEnd returns the index just past the value that starts at b[i].
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := stringEnd(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errSyntax
	}
	j := i
	for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		j++
	}
	if j == i {
		return 0, errSyntax
	}
	return j, nil
}

// eachMember calls f with each member of the object obj: its key as written (quotes and
// escapes included) and its value. An error from f ends the walk and is returned.
func eachMember(obj []byte, f func(key, val []byte) error) error {
	return eachItem(obj, '}', func(b []byte, i int) (int, error) {
		if i >= len(b) || b[i] != '"' {
			return 0, errSyntax
		}
		ke, err := stringEnd(b, i)
		if err != nil {
			return 0, err
		}
		j := skipSpace(b, ke)
		if j >= len(b) || b[j] != ':' {
			return 0, errSyntax
		}
		j = skipSpace(b, j+1)
		ve, err := valueEnd(b, j)
		if err != nil {
			return 0, err
		}
		return ve, f(b[i:ke], b[j:ve])
	})
}

// eachElement calls f with each element of the array arr.
func eachElement(arr []byte, f func(val []byte) error) error {
	return eachItem(arr, ']', func(b []byte, i int) (int, error) {
		ve, err := valueEnd(b, i)
		if err != nil {
			return 0, err
		}
		return ve, f(b[i:ve])
	})
}

// eachItem walks the comma-separated items of the object or array b up to its closing
// byte; item reads one at b[i] and returns where it ends.
func eachItem(b []byte, closing byte, item func(b []byte, i int) (int, error)) error {
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == closing {
		return nil
	}
	for {
		end, err := item(b, skipSpace(b, i))
		if err != nil {
			return err
		}
		i = skipSpace(b, end)
		switch {
		case i >= len(b):
			return errSyntax
		case b[i] == closing:
			return nil
		case b[i] != ',':
			return errSyntax
		}
		i++
	}
}

// plain reports a quoted string whose bytes are its value: no escapes, ASCII only
// (decoding would replace invalid UTF-8).
func plain(quoted []byte) bool {
	for _, c := range quoted[1 : len(quoted)-1] {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// unquote returns the value of a JSON string.
func unquote(quoted []byte) string {
	if len(quoted) >= 2 && plain(quoted) {
		return string(quoted[1 : len(quoted)-1])
	}
	var s string
	json.Unmarshal(quoted, &s)
	return s
}

// keyEquals reports whether the JSON string quoted has the value name.
func keyEquals(quoted []byte, name string) bool {
	if len(quoted) < 2 {
		return false
	}
	if plain(quoted) {
		return string(quoted[1:len(quoted)-1]) == name
	}
	return unquote(quoted) == name
}

// isNumber tells a JSON number from the other values.
func isNumber(v []byte) bool {
	return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9')
}

// isInteger reports a JSON number without fraction or exponent that fits int64 or uint64.
func isInteger(v []byte) bool {
	if !isNumber(v) {
		return false
	}
	digits := len(v)
	for _, c := range v {
		switch c {
		case '.', 'e', 'E':
			return false
		case '-':
			digits--
		}
	}
	if digits <= 18 {
		return true
	}
	if _, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return true
	}
	_, err := strconv.ParseUint(string(v), 10, 64)
	return err == nil
}
