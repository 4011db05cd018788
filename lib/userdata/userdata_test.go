package userdata

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := "#systemd-userdata\n" + `{"systemd.credentials":[{"name":"a","text":"v"},{"name":"b","data":"aGVsbG8K"},` +
		`{"name":"c","encrypted":"ZW5j"},{"name":"../x","text":"bad"},{"name":"d","text":"x","data":"eA=="},` +
		`{"name":"a","text":"dup"},{"text":"noname"},{"name":"e","data":"!!"},{"name":"f\u0007","text":"ctl"}]}`
	r, err := Parse([]byte(in))
	if err != nil || !r.Recognized {
		t.Fatal(r, err)
	}
	if len(r.Credentials) != 3 {
		t.Fatalf("got %+v", r.Credentials)
	}
	want := []Credential{{"a", Plain, []byte("v")}, {"b", Plain, []byte("hello\n")}, {"c", Encrypted, []byte("enc")}}
	for i, w := range want {
		g := r.Credentials[i]
		if g.Name != w.Name || g.Kind != w.Kind || string(g.Value) != string(w.Value) {
			t.Errorf("%d: got %+v want %+v", i, g, w)
		}
	}
	if len(r.Duplicates) != 1 || r.Duplicates[0] != "a" {
		t.Errorf("duplicates: %q", r.Duplicates)
	}
	if len(r.Skipped) != 5 {
		t.Errorf("skipped: %q", r.Skipped)
	}
}

func TestRecognized(t *testing.T) {
	for in, want := range map[string]bool{
		"#systemd-userdata\n{}": true,
		"#systemd-userdata":     true,
		"  {\"a\":1}":           true,
		"#cloud-config\nfoo: 1": false,
		"":                      false,
		"[1]":                   false,
	} {
		r, err := Parse([]byte(in))
		if r.Recognized != want {
			t.Errorf("%q: recognized %v (%v)", in, r.Recognized, err)
		}
	}
	if _, err := Parse([]byte("#systemd-userdata\nnot json")); err == nil {
		t.Error("bad JSON accepted")
	}
	if _, err := Parse([]byte("{\"a\":\"\x00\"}")); !errors.Is(err, ErrNUL) {
		t.Error("NUL accepted:", err)
	}
	r, err := Parse([]byte(`{"other":1}`))
	if err != nil || !r.Recognized || len(r.Credentials) != 0 {
		t.Error(r, err)
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"", ".", "..", "a/b", "/", "a\nb", "\xff", strings.Repeat("x", 256)} {
		if ValidName(n) {
			t.Errorf("%q accepted", n)
		}
	}
	for _, n := range []string{"a", "firstboot.hostname", "..a", "a b", strings.Repeat("x", 255)} {
		if !ValidName(n) {
			t.Errorf("%q refused", n)
		}
	}
}

func FuzzParseUserdata(f *testing.F) {
	f.Add([]byte("#systemd-userdata\n{\"systemd.credentials\":[{\"name\":\"a\",\"text\":\"b\"}]}"))
	f.Add([]byte(`{"systemd.credentials":[{"name":"..","data":"AA=="},{"name":"x","encrypted":"AA=="}]}`))
	f.Add([]byte("#systemd-userdata"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil && len(r.Credentials) > 0 {
			t.Fatal("credentials with error")
		}
		dir := "/run/credstore"
		for _, c := range r.Credentials {
			p := filepath.Join(dir, c.Name)
			if filepath.Dir(p) != dir || filepath.Base(p) != c.Name {
				t.Fatalf("name %q escapes %s", c.Name, dir)
			}
		}
	})
}
