package conf

import (
	"strconv"
	"time"
)

// Readers of one assignment. Where ParseBool and the other Parse*
// functions convert a bare value, a reader takes the Entry the value came
// from and returns its error already located ("FILE:LINE: Key: …", see
// Entry.Wrap), ready to be reported. Set applies a reader to a setting
// that keeps its previous (default) value when it is unset or empty.

// Set reads e with read and stores the result in *dst. An empty value —
// the key was not assigned (the zero Entry) or was assigned "" — leaves
// *dst as it is, and so does a value read rejects: its error goes to
// warn. Set returns false only in that last case, so that a caller can
// drop a whole section over one bad value.
func Set[T any](dst *T, e Entry, read func(Entry) (T, error), warn func(error)) bool {
	if e.Value == "" {
		return true
	}
	v, err := read(e)
	if err != nil {
		warn(err)
		return false
	}
	*dst = v
	return true
}

// Located turns a parser of bare values (ParseBytes, a caller's own, …)
// into a reader: its errors come back located at the entry.
func Located[T any](parse func(string) (T, error)) func(Entry) (T, error) {
	return func(e Entry) (T, error) {
		v, err := parse(e.Value)
		if err != nil {
			var zero T
			return zero, e.Wrap(err)
		}
		return v, nil
	}
}

// Bool reads a boolean (ParseBool): `FILE:LINE: Key: invalid boolean "V"`.
func Bool(e Entry) (bool, error) { return Located(ParseBool)(e) }

// Timespan reads a time span, a bare number being seconds (ParseTimespan).
func Timespan(e Entry) (time.Duration, error) { return Located(ParseTimespan)(e) }

// Word returns a reader of a setting that takes one of words, matched
// exactly. Anything else is `FILE:LINE: Key: invalid Key= value "V"`.
func Word(words ...string) func(Entry) (string, error) {
	return func(e Entry) (string, error) {
		for _, w := range words {
			if e.Value == w {
				return w, nil
			}
		}
		return "", settingErr(e)
	}
}

// BoolOrWord returns a reader of a setting that takes a boolean or one of
// words (LinkLocalAddressing=yes|no|ipv4|ipv6|fallback): a word, matched
// exactly, comes back as it is, a boolean as "yes" or "no". Anything else
// is `FILE:LINE: Key: invalid Key= value "V"`.
func BoolOrWord(words ...string) func(Entry) (string, error) {
	return func(e Entry) (string, error) {
		for _, w := range words {
			if e.Value == w {
				return w, nil
			}
		}
		b, err := ParseBool(e.Value)
		if err != nil {
			return "", settingErr(e)
		}
		if b {
			return "yes", nil
		}
		return "no", nil
	}
}

// settingErr rejects a value that is none of its setting's words, naming
// the setting as the type: `invalid Key= value "V"`.
func settingErr(e Entry) error {
	return e.Wrap(&ValueError{Type: e.Key + "= value", Value: e.Value})
}

// integer is every integer type.
type integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// Int returns a reader of a decimal integer between min and max
// inclusive. A sign ("+5", "-1") is accepted for signed types only. typ
// names the value in the error, which carries no further detail:
// `FILE:LINE: Key: invalid TYPE "V"` ("unsigned integer", "priority", …).
func Int[T integer](typ string, min, max T) func(Entry) (T, error) {
	return func(e Entry) (T, error) {
		if ^T(0) < 0 { // signed
			v, err := strconv.ParseInt(e.Value, 10, 64)
			if err == nil && v >= int64(min) && v <= int64(max) {
				return T(v), nil
			}
		} else {
			v, err := strconv.ParseUint(e.Value, 10, 64)
			if err == nil && v >= uint64(min) && v <= uint64(max) {
				return T(v), nil
			}
		}
		return 0, e.Wrap(&ValueError{Type: typ, Value: e.Value})
	}
}
