// Package fstabgen is the logic of fstab-generator, stead's systemd-fstab-generator: it turns
// /etc/fstab into mount and swap units for init, writing what upstream's generator writes for
// the same file. See docs/fstab-generator.md.
package fstabgen

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/stead-os/stead/lib/unit"
)

// Entry is one line of fstab(5).
type Entry struct {
	Line    int    // 1-based line number, for messages
	Spec    string // first field, octal escapes undone ("UUID=…", "/dev/vdb1", "tmpfs", …)
	File    string // mount point ("none" or "swap" for swap)
	Type    string
	Options string
	PassNo  int
}

// Parse reads fstab(5) lines. Comments and blank lines are skipped; a line
// with fewer than four fields is reported through warn and skipped, as
// libmount skips it.
func Parse(r io.Reader, warn func(line int, msg string)) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			warn(n, "too few fields, ignoring")
			continue
		}
		e := Entry{Line: n, Spec: unescapeOctal(f[0]), File: unescapeOctal(f[1]), Type: unescapeOctal(f[2]), Options: "defaults"}
		if len(f) > 3 {
			e.Options = unescapeOctal(f[3])
		}
		if len(f) > 5 {
			p, err := strconv.Atoi(f[5])
			if err != nil {
				warn(n, fmt.Sprintf("invalid pass number %q, ignoring the line", f[5]))
				continue
			}
			e.PassNo = p
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// unescapeOctal undoes fstab's \NNN escapes (\040 is a space).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// options is a parsed, comma-separated option string.
type options []string

func splitOptions(s string) options {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// has reports a bare or valued option.
func (o options) has(name string) bool {
	_, ok := o.last(name)
	return ok
}

// last is the value of the last name= (or "" for a bare name), as mount
// units read their Options= (unit.MountOptionValue).
func (o options) last(name string) (string, bool) {
	return unit.MountOptionValue(strings.Join(o, ","), name)
}

// all lists the values of every name=, each split at spaces.
func (o options) all(name string) []string {
	var vals []string
	for _, x := range o {
		if k, v, ok := strings.Cut(x, "="); ok && k == name && v != "" {
			vals = append(vals, strings.Fields(v)...)
		}
	}
	return vals
}

// without drops every option called one of names.
func (o options) without(names ...string) options {
	var out options
	for _, x := range o {
		k, _, _ := strings.Cut(x, "=")
		drop := false
		for _, n := range names {
			drop = drop || k == n
		}
		if !drop {
			out = append(out, x)
		}
	}
	return out
}

// String is the options as mount(8) takes them; "defaults" alone is empty,
// as upstream leaves Options= out then.
func (o options) String() string {
	s := strings.Join(o, ",")
	if s == "defaults" {
		return ""
	}
	return s
}
