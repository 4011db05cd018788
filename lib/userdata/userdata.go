// Package userdata parses cloud user data in the format systemd-imds understands: a document
// whose first line is "#systemd-userdata", or any JSON object, carrying credentials under
// "systemd.credentials". See docs/imds.md.
package userdata

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Marker is the first line that marks user data as meant for systemd.
const Marker = "#systemd-userdata"

// Kind says where a credential goes.
type Kind int

const (
	// Plain credentials (from "text" or "data") go to /run/credstore.
	Plain Kind = iota
	// Encrypted credentials (from "encrypted") go to /run/credstore.encrypted.
	Encrypted
)

// Credential is one entry of "systemd.credentials".
type Credential struct {
	Name  string
	Kind  Kind
	Value []byte // decoded content
}

// ErrNUL is returned for user data containing a NUL byte.
var ErrNUL = errors.New("user data contains NUL bytes")

// Result is what Parse found.
type Result struct {
	// Recognized is false when the data is neither marked nor a JSON object; such data is
	// left alone (it may be meant for another tool, e.g. cloud-init).
	Recognized  bool
	Credentials []Credential
	// Skipped lists entries that were invalid and ignored, one message each.
	Skipped []string
	// Duplicates lists names given more than once (only the first entry is used).
	Duplicates []string
}

// ValidName reports whether name is acceptable as a credential (and file) name: not empty,
// not "." or "..", no '/', only printable characters, valid UTF-8, at most 255 bytes.
func ValidName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r == '/' || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Recognized reports whether data is meant for systemd: its first line is Marker, or it is
// a JSON object (first non-space byte '{').
func Recognized(data []byte) bool {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if string(bytes.TrimRight(first, "\r \t")) == Marker {
		return true
	}
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// Parse parses user data. Data with NUL bytes fails with ErrNUL; data that is not
// recognized gives a Result with Recognized false; recognized data that is not a valid JSON
// object (after the marker line) is an error. Invalid credential entries are skipped and
// reported in Result.Skipped; a name appearing twice is used once (the first) and listed in
// Result.Duplicates.
func Parse(data []byte) (Result, error) {
	if bytes.IndexByte(data, 0) >= 0 {
		return Result{}, ErrNUL
	}
	if !Recognized(data) {
		return Result{}, nil
	}
	body := data
	if first, rest, ok := bytes.Cut(data, []byte("\n")); string(bytes.TrimRight(first, "\r \t")) == Marker {
		if ok {
			body = rest
		} else {
			body = nil
		}
	}
	res := Result{Recognized: true}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return res, fmt.Errorf("user data is not a JSON object: %w", err)
	}
	raw, ok := doc["systemd.credentials"]
	if !ok {
		return res, nil
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return res, fmt.Errorf("'systemd.credentials' is not an array: %w", err)
	}
	seen := map[string]bool{}
	for i, e := range entries {
		c, err := parseEntry(e)
		if err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("entry %d: %v", i, err))
			continue
		}
		if seen[c.Name] {
			res.Duplicates = append(res.Duplicates, c.Name)
			continue
		}
		seen[c.Name] = true
		res.Credentials = append(res.Credentials, c)
	}
	return res, nil
}

func parseEntry(e json.RawMessage) (Credential, error) {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(e, &f); err != nil || f == nil {
		return Credential{}, errors.New("not an object")
	}
	str := func(k string) (string, bool, error) {
		v, ok := f[k]
		if !ok || string(v) == "null" {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", true, fmt.Errorf("field %q is not a string", k)
		}
		return s, true, nil
	}
	name, ok, err := str("name")
	if err != nil {
		return Credential{}, err
	}
	if !ok {
		return Credential{}, errors.New("no 'name'")
	}
	if !ValidName(name) {
		return Credential{}, fmt.Errorf("invalid credential name %q", name)
	}
	c := Credential{Name: name}
	n := 0
	for _, k := range []string{"text", "data", "encrypted"} {
		s, ok, err := str(k)
		if err != nil {
			return Credential{}, err
		}
		if !ok {
			continue
		}
		n++
		switch k {
		case "text":
			c.Value = []byte(s)
		default:
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return Credential{}, fmt.Errorf("credential %q: field %q is not valid base64", name, k)
			}
			c.Value = b
			if k == "encrypted" {
				c.Kind = Encrypted
			}
		}
	}
	if n != 1 {
		return Credential{}, fmt.Errorf("credential %q: need exactly one of 'text', 'data', 'encrypted'", name)
	}
	return c, nil
}
