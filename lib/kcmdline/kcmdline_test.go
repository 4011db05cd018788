package kcmdline

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The expectations for quoting were checked against systemd 262 (systemd-imdsd with
// SYSTEMD_PROC_CMDLINE, reading the value back through GetVendorInfo).
func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  \t\n", nil},
		{"a b\tc\nd", []string{"a", "b", "c", "d"}},
		{`x=a"b c"d`, []string{"x=ab cd"}},
		{`x='x y'`, []string{"x=x y"}},
		{`"x=q r"`, []string{"x=q r"}},
		{`x=a\b`, []string{`x=a\b`}},
		{`x="a\"b"`, []string{`x=a\b`}},
		{`x="unterminated y`, []string{"x=unterminated y"}},
		{`x=a\ b`, []string{`x=a\`, "b"}},
		{`x="a\\b"`, []string{`x=a\\b`}},
		{`x=a'b'"c"`, []string{"x=abc"}},
		{`x=\`, []string{`x=\`}},
		{`x='a"b'`, []string{`x=a"b`}},
		{`""`, []string{""}},
		{"x=é", []string{"x=é"}},
	} {
		if got := Split(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseAndLookup(t *testing.T) {
	ps := Parse(`quiet systemd.imds.vendor=a systemd.imds.data-url=http://x systemd.imds.vendor=b empty= rd.x=1 "systemd.imds.extra_header=A: b"`)
	want := []Param{
		{Key: "quiet"},
		{Key: "systemd.imds.vendor", Value: "a", HasValue: true},
		{Key: "systemd.imds.data-url", Value: "http://x", HasValue: true},
		{Key: "systemd.imds.vendor", Value: "b", HasValue: true},
		{Key: "empty", HasValue: true},
		{Key: "rd.x", Value: "1", HasValue: true},
		{Key: "systemd.imds.extra_header", Value: "A: b", HasValue: true},
	}
	if !reflect.DeepEqual(ps, want) {
		t.Fatalf("Parse = %+v\nwant %+v", ps, want)
	}
	if p, ok := Lookup(ps, "systemd.imds.vendor"); !ok || p.Value != "b" {
		t.Errorf("Lookup vendor = %+v, %v; want the last one", p, ok)
	}
	if p, ok := Lookup(ps, "systemd.imds.data_url"); !ok || p.Value != "http://x" {
		t.Errorf("Lookup data_url = %+v, %v", p, ok)
	}
	if _, ok := Lookup(ps, "SYSTEMD.imds.vendor"); ok {
		t.Error("keys must be case-sensitive")
	}
	if _, ok := Lookup(ps, "systemd.imds-vendor"); ok {
		t.Error("'.' and '-' must differ")
	}
	if p, ok := Lookup(ps, "quiet"); !ok || p.HasValue {
		t.Errorf("Lookup quiet = %+v, %v", p, ok)
	}
	if rest, ok := CutPrefix("systemd-imds.key.ipv4-public", "systemd_imds.key."); !ok || rest != "ipv4-public" {
		t.Errorf("CutPrefix = %q, %v", rest, ok)
	}
	if _, ok := CutPrefix("systemd", "systemd.imds."); ok {
		t.Error("CutPrefix of a shorter key")
	}
}

func TestRead(t *testing.T) {
	root := t.TempDir()
	os.Unsetenv(EnvOverride)
	if s, err := Read(root); err != nil || s != "" {
		t.Errorf("missing file: %q, %v", s, err)
	}
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	os.WriteFile(filepath.Join(root, Path), []byte("a=1 b\n"), 0o644)
	if ps, err := Load(root); err != nil || len(ps) != 2 || ps[0].Value != "1" || ps[1].Key != "b" {
		t.Errorf("Load: %+v, %v", ps, err)
	}
	t.Setenv(EnvOverride, "c=2")
	if s, err := Read(root); err != nil || s != "c=2" {
		t.Errorf("override: %q, %v", s, err)
	}
	t.Setenv(EnvOverride, "")
	if s, err := Read(root); err != nil || s != "" {
		t.Errorf("empty override must win too: %q, %v", s, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", `a=b "c d" 'e=f g'`, `x="a\"b"`, "\x00\xff=\t", `"'"'"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps := Parse(s)
		for _, p := range ps {
			for i := 0; i < len(p.Key); i++ {
				if p.Key[i] == '=' {
					t.Fatalf("key %q holds '='", p.Key)
				}
			}
			if !KeyEqual(p.Key, p.Key) {
				t.Fatalf("KeyEqual(%q, itself) is false", p.Key)
			}
		}
		// Words re-quoted with double quotes (when free of them) parse back the same.
		var words []string
		for _, w := range Split(s) {
			ok := true
			for i := 0; i < len(w); i++ {
				if w[i] == '"' {
					ok = false
				}
			}
			if ok {
				words = append(words, `"`+w+`"`)
			}
		}
		joined := ""
		for i, w := range words {
			if i > 0 {
				joined += " "
			}
			joined += w
		}
		back := Split(joined)
		if len(back) != len(words) {
			t.Fatalf("re-split of %q: %d words, want %d", joined, len(back), len(words))
		}
	})
}

func TestLookupBoolAndStages(t *testing.T) {
	ps := Parse("systemd.imds systemd.imds.import=no debug=maybe rd.systemd.imds.network=locked systemd.imds.network=off")
	for _, tc := range []struct {
		key          string
		value, found bool
		err          bool
	}{
		{"systemd.imds", true, true, false},
		{"systemd.imds.import", false, true, false},
		{"debug", false, true, true},
		{"absent", false, false, false},
	} {
		v, f, err := LookupBool(ps, tc.key)
		if v != tc.value || f != tc.found || (err != nil) != tc.err {
			t.Errorf("LookupBool(%s) = %v %v %v", tc.key, v, f, err)
		}
	}
	if p, _ := Lookup(ForStage(ps, false), "systemd.imds.network"); p.Value != "off" {
		t.Errorf("after the initrd: %+v", p)
	}
	if len(ForStage(ps, false)) != len(ps)-1 {
		t.Error("rd. parameter kept after the initrd")
	}
	if p, _ := Lookup(ForStage(Parse("rd.systemd.imds.network=locked"), true), "systemd.imds.network"); p.Value != "locked" {
		t.Errorf("in the initrd: %+v", p)
	}
	root := t.TempDir()
	if InInitrd(root) {
		t.Error("empty root is no initrd")
	}
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, InitrdRelease), nil, 0o644)
	if !InInitrd(root) {
		t.Error("initrd-release not seen")
	}
}
