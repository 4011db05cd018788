package creds

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseOEMString(t *testing.T) {
	for _, tc := range []struct {
		in, name, value string
		notCred, bad    bool
	}{
		{in: "io.systemd.credential:greeting=hello", name: "greeting", value: "hello"},
		{in: "io.systemd.credential:a=b=c d", name: "a", value: "b=c d"},
		{in: "io.systemd.credential:empty=", name: "empty", value: ""},
		{in: "io.systemd.credential.binary:bin=AAH/", name: "bin", value: "\x00\x01\xff"},
		{in: "io.systemd.credential.binary:nopad=aGk", name: "nopad", value: "hi"},
		{in: "io.systemd.credential.binary:wrapped=aG Vs\nbG8=", name: "wrapped", value: "hello"},
		{in: "vendor string", notCred: true},
		{in: "io.systemd.credentials:x=y", notCred: true},
		{in: "io.systemd.credential:novalue", bad: true},
		{in: "io.systemd.credential:=x", bad: true},
		{in: "io.systemd.credential:a/b=x", bad: true},
		{in: "io.systemd.credential:..=x", bad: true},
		{in: "io.systemd.credential.binary:b=!!", bad: true},
	} {
		name, value, err := ParseOEMString(tc.in)
		switch {
		case tc.notCred:
			if !errors.Is(err, ErrNotCredential) {
				t.Errorf("%q: %v, want ErrNotCredential", tc.in, err)
			}
		case tc.bad:
			if err == nil || errors.Is(err, ErrNotCredential) {
				t.Errorf("%q: err %v, want a parse error", tc.in, err)
			}
		default:
			if err != nil || name != tc.name || string(value) != tc.value {
				t.Errorf("%q: %q %q %v", tc.in, name, value, err)
			}
		}
	}
}

// FuzzParseOEMString: no panic; a credential has a valid name, a text credential is the
// string's tail verbatim, and anything without either prefix is ErrNotCredential.
func FuzzParseOEMString(f *testing.F) {
	f.Add("io.systemd.credential:greeting=hello")
	f.Add("io.systemd.credential.binary:k=aGVsbG8=")
	f.Add("io.systemd.credential.binary:k=a GV\nsbG8")
	f.Add("other")
	f.Fuzz(func(t *testing.T, s string) {
		name, value, err := ParseOEMString(s)
		if !strings.HasPrefix(s, OEMPrefix) && !strings.HasPrefix(s, OEMBinaryPrefix) {
			if !errors.Is(err, ErrNotCredential) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if err != nil {
			return
		}
		if !ValidName(name) {
			t.Fatalf("%q: invalid name %q accepted", s, name)
		}
		if strings.HasPrefix(s, OEMPrefix) && s != OEMPrefix+name+"="+string(value) {
			t.Fatalf("%q: %q = %q", s, name, value)
		}
		if strings.HasPrefix(s, OEMBinaryPrefix) && bytes.Contains([]byte(name), []byte("=")) {
			t.Fatalf("%q: name %q has '='", s, name)
		}
	})
}
