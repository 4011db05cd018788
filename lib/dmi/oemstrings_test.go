package dmi

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// oemRaw builds a type 11 structure the way firmware (and qemu's -smbios type=11) lays it out.
func oemRaw(strs ...string) []byte {
	b := []byte{TypeOEMStrings, oemHeaderLen, 0x00, 0x0b, byte(len(strs))}
	for _, s := range strs {
		b = append(append(b, s...), 0)
	}
	if len(strs) == 0 {
		b = append(b, 0)
	}
	return append(b, 0)
}

func TestParseOEMStrings(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []byte
		want []string
		bad  bool
	}{
		{"two", oemRaw("io.systemd.credential:a=b", "vendor thing"), []string{"io.systemd.credential:a=b", "vendor thing"}, false},
		{"none", oemRaw(), nil, false},
		{"truncated last string", []byte{11, 5, 0, 0, 1, 'a', 'b'}, []string{"ab"}, false},
		{"longer formatted area", []byte{11, 7, 0, 0, 1, 0xff, 0xff, 'x', 0, 0}, []string{"x"}, false},
		{"stops at the terminator", append(oemRaw("a"), "junk\x00"...), []string{"a"}, false},
		{"short", []byte{11, 5, 0}, nil, true},
		{"wrong type", []byte{1, 5, 0, 0, 0, 0, 0}, nil, true},
		{"length below header", []byte{11, 4, 0, 0, 0, 0, 0}, nil, true},
		{"length beyond data", []byte{11, 9, 0, 0, 0, 0, 0}, nil, true},
	} {
		got, err := ParseOEMStrings(tc.raw)
		if tc.bad {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: err %v, want ErrMalformed", tc.name, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q %v, want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestReadOEMStrings(t *testing.T) {
	root := t.TempDir()
	if got, err := ReadOEMStrings(root, 1<<16); err != nil || got != nil {
		t.Fatalf("no DMI: %q %v", got, err)
	}
	put := func(entry string, raw []byte) {
		d := filepath.Join(root, EntriesDir, entry)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "raw"), raw, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	put("11-0", oemRaw("one", "two"))
	put("11-1", oemRaw("three"))
	put("11-3", oemRaw("after a gap: not read"))
	put("1-0", []byte{1, 27, 0, 1})
	got, err := ReadOEMStrings(root, 1<<16)
	if err != nil || !reflect.DeepEqual(got, []string{"one", "two", "three"}) {
		t.Fatalf("ReadOEMStrings = %q %v", got, err)
	}
	// A bad structure ends the walk with an error and what came before.
	put("11-2", []byte{11, 2})
	got, err = ReadOEMStrings(root, 1<<16)
	if !errors.Is(err, ErrMalformed) || len(got) != 3 {
		t.Fatalf("bad 11-2: %q %v", got, err)
	}
	// The size limit cuts a structure short; with 11-2 there, 11-3 is read too.
	put("11-2", oemRaw(strings.Repeat("x", 100)))
	got, err = ReadOEMStrings(root, 20)
	if err != nil || len(got) != 5 || got[3] != strings.Repeat("x", 15) {
		t.Fatalf("limited: %q %v", got, err)
	}
}

// FuzzParseOEMStrings: any bytes give strings or ErrMalformed, never a panic; every string is
// non-empty, NUL-free and a part of the input, and well-formed structures round-trip.
func FuzzParseOEMStrings(f *testing.F) {
	f.Add(oemRaw("io.systemd.credential:greeting=hello"))
	f.Add(oemRaw("io.systemd.credential.binary:k=aGVsbG8=", "x"))
	f.Add([]byte{11, 5, 0, 0, 0})
	f.Add([]byte{11, 255})
	f.Fuzz(func(t *testing.T, raw []byte) {
		strs, err := ParseOEMStrings(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || strs != nil {
				t.Fatalf("error %v with %q", err, strs)
			}
			return
		}
		for _, s := range strs {
			if s == "" || strings.IndexByte(s, 0) >= 0 || !bytes.Contains(raw, []byte(s)) {
				t.Fatalf("string %q from %q", s, raw)
			}
		}
		again, err := ParseOEMStrings(oemRaw(strs...))
		if err != nil || !reflect.DeepEqual(again, strs) {
			t.Fatalf("round trip %q → %q %v", strs, again, err)
		}
	})
}
