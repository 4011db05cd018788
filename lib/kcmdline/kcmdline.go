// Package kcmdline reads the kernel command line the way systemd's tools do.
//
// The text comes from $SYSTEMD_PROC_CMDLINE when that variable is set (systemd's override, used
// by tests and debugging), else from /proc/cmdline under a root prefix. It is split into words
// at runs of whitespace; single or double quotes group text containing whitespace and are
// removed, wherever they appear in a word (a"b c"d is the word "ab cd"); a quote left open runs
// to the end of the line; backslashes have no special meaning and are kept. A word is a switch
// "key" or an assignment "key=value" (split at the first '='). Keys compare with '-' and '_'
// treated as the same character, so systemd.imds.data-url= and systemd.imds.data_url= are one
// key; everything else is case-sensitive.
package kcmdline

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stead-os/stead/lib/conf"
)

// EnvOverride names the environment variable that replaces /proc/cmdline when set.
const EnvOverride = "SYSTEMD_PROC_CMDLINE"

// Path is where the kernel publishes its command line.
const Path = "/proc/cmdline"

// maxSize bounds what Read accepts; the kernel's own limit is a few KiB.
const maxSize = 1 << 20

// Param is one word of the command line.
type Param struct {
	Key   string
	Value string
	// HasValue tells "key=" (an empty value) from a bare "key".
	HasValue bool
}

// Read returns the command line: $SYSTEMD_PROC_CMDLINE if set, else the content of
// /proc/cmdline under root ("" or "/" for the host). A missing file reads as "".
func Read(root string) (string, error) {
	if s, ok := os.LookupEnv(EnvOverride); ok {
		return s, nil
	}
	if root == "" {
		root = "/"
	}
	b, err := readLimited(filepath.Join(root, Path))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return string(b), err
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err == nil && len(b) > maxSize {
		err = errors.New(path + ": too long")
	}
	return b, err
}

// Load reads the command line under root and parses it.
func Load(root string) ([]Param, error) {
	s, err := Read(root)
	if err != nil {
		return nil, err
	}
	return Parse(s), nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Split breaks s into words as described in the package comment.
func Split(s string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				w.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote = c
			inWord = true
		case isSpace(c):
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// Parse splits s into words and each word into key and value.
func Parse(s string) []Param {
	words := Split(s)
	params := make([]Param, 0, len(words))
	for _, w := range words {
		k, v, has := strings.Cut(w, "=")
		params = append(params, Param{Key: k, Value: v, HasValue: has})
	}
	return params
}

func normalize(c byte) byte {
	if c == '-' {
		return '_'
	}
	return c
}

// KeyEqual compares two keys, '-' and '_' being the same character.
func KeyEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if normalize(a[i]) != normalize(b[i]) {
			return false
		}
	}
	return true
}

// CutPrefix returns key without prefix, comparing as KeyEqual does, and whether key began
// with prefix.
func CutPrefix(key, prefix string) (string, bool) {
	if len(key) < len(prefix) || !KeyEqual(key[:len(prefix)], prefix) {
		return key, false
	}
	return key[len(prefix):], true
}

// Lookup returns the value of the last assignment to key, and whether there was one. A bare
// switch counts as an assignment of "" with HasValue false.
func Lookup(params []Param, key string) (p Param, found bool) {
	for _, q := range params {
		if KeyEqual(q.Key, key) {
			p, found = q, true
		}
	}
	return p, found
}

// LookupBool interprets the last assignment to key as a boolean: a bare switch ("quiet") is
// true, a value is parsed as systemd booleans are (yes/no, true/false, on/off, 1/0). found is
// false when key does not appear.
func LookupBool(params []Param, key string) (value, found bool, err error) {
	p, found := Lookup(params, key)
	if !found {
		return false, false, nil
	}
	if !p.HasValue {
		return true, true, nil
	}
	value, err = conf.ParseBool(p.Value)
	if err != nil {
		return false, true, fmt.Errorf("%s=%s: %w", p.Key, p.Value, err)
	}
	return value, true, nil
}

// InitrdRelease is the file whose presence marks an initrd.
const InitrdRelease = "/etc/initrd-release"

// InInitrd reports whether root is an initrd (it has /etc/initrd-release).
func InInitrd(root string) bool {
	if root == "" {
		root = "/"
	}
	_, err := os.Stat(filepath.Join(root, InitrdRelease))
	return err == nil
}

// ForStage applies systemd's "rd." convention: parameters starting with "rd." are meant for
// the initrd only. In the initrd they are kept with the prefix removed; after it they are
// dropped. Other parameters stay either way.
func ForStage(params []Param, inInitrd bool) []Param {
	out := make([]Param, 0, len(params))
	for _, p := range params {
		if rest, ok := strings.CutPrefix(p.Key, "rd."); ok {
			if !inInitrd {
				continue
			}
			p.Key = rest
		}
		out = append(out, p)
	}
	return out
}
