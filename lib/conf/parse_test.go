package conf

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// flat renders a File as "[Sec]" and "Key=Value@line" strings, one per
// section or entry, so whole parses compare in one line of a table.
func flat(f *File) []string {
	var r []string
	for _, s := range f.Sections() {
		r = append(r, "["+s.Name+"]@"+strconv.Itoa(s.Line))
		for _, e := range s.Entries {
			r = append(r, e.Key+"="+e.Value+"@"+strconv.Itoa(e.Line))
		}
	}
	return r
}

// warnLines returns the line numbers of f's warnings, in order.
func warnLines(f *File) []int {
	var r []int
	for _, w := range f.Warnings {
		var e *Error
		if !errors.As(w, &e) {
			panic("warning is not an *Error")
		}
		r = append(r, e.Line)
	}
	return r
}

func mustParse(t *testing.T, in string) *File {
	t.Helper()
	f, err := Parse(strings.NewReader(in), "test.conf", nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []string
		warns []int // lines of the expected warnings
	}{
		{"empty", "", nil, nil},
		{"basic", "[A]\nK=V\n", []string{"[A]@1", "K=V@2"}, nil},
		{"no final newline", "[A]\nK=V", []string{"[A]@1", "K=V@2"}, nil},
		{"crlf", "[A]\r\nK=V\r\n", []string{"[A]@1", "K=V@2"}, nil},
		{"bom", "\xef\xbb\xbf[A]\nK=V\n", []string{"[A]@1", "K=V@2"}, nil},
		{"whitespace trimmed", "  [A]  \n\t Key \t=\t value with  spaces \t\n", []string{"[A]@1", "Key=value with  spaces@2"}, nil},
		{"value keeps later =", "[A]\nK=a=b=c\n", []string{"[A]@1", "K=a=b=c@2"}, nil},
		{"empty value", "[A]\nK=\nK = \n", []string{"[A]@1", "K=@2", "K=@3"}, nil},
		{"comments", "# c\n; c\n[A]\n  # indented\n\t; tab\nK=V # not a comment\n", []string{"[A]@3", "K=V # not a comment@6"}, nil},
		{"empty lines", "\n\n[A]\n\n   \nK=V\n\n", []string{"[A]@3", "K=V@6"}, nil},
		{"repeated sections", "[Route]\nGateway=a\n[Network]\nDNS=x\n[Route]\nGateway=b\n",
			[]string{"[Route]@1", "Gateway=a@2", "[Network]@3", "DNS=x@4", "[Route]@5", "Gateway=b@6"}, nil},
		{"section name kept as is", "[X-Foo Bar]\nK=V\n", []string{"[X-Foo Bar]@1", "K=V@2"}, nil},
		{"keys case-sensitive", "[A]\nk=1\nK=2\n", []string{"[A]@1", "k=1@2", "K=2@3"}, nil},

		// Continuation lines.
		{"continuation", "[A]\nK=a \\\n  b\n", []string{"[A]@1", "K=a    b@2"}, nil},
		{"continuation tight", "[A]\nK=a\\\nb\\\nc\n", []string{"[A]@1", "K=a b c@2"}, nil},
		{"continuation comment inside", "[A]\nK=a \\\n# comment\n; other \\\n b\n", []string{"[A]@1", "K=a   b@2"}, nil},
		{"continuation escaped backslash", "[A]\nK=a\\\\\nL=b\n", []string{"[A]@1", `K=a\\@2`, "L=b@3"}, nil},
		{"continuation three backslashes", "[A]\nK=a\\\\\\\nb\n", []string{"[A]@1", `K=a\\ b@2`}, nil},
		{"continuation at eof", "[A]\nK=a\\", []string{"[A]@1", "K=a@2"}, nil},
		{"continuation ended by empty line", "[A]\nK=a\\\n\nL=b\n", []string{"[A]@1", "K=a@2", "L=b@4"}, nil},
		{"backslash then space is literal", "[A]\nK=a\\ \nL=b\n", []string{"[A]@1", `K=a\@2`, "L=b@3"}, nil},
		{"continued header", "[A\\\n]\nK=V\n", []string{"[A ]@1", "K=V@3"}, nil},
		{"continuation joins key", "[A]\nKe\\\ny=V\n", []string{"[A]@1", "Ke y=V@2"}, nil},
		{"continuation crlf", "[A]\r\nK=a\\\r\nb\r\n", []string{"[A]@1", "K=a b@2"}, nil},
		{"comment ending in backslash", "[A]\n# x \\\nK=V\n", []string{"[A]@1", "K=V@3"}, nil},

		// Bad lines are reported and skipped; parsing goes on.
		{"assignment before section", "K=V\n[A]\nL=W\n", []string{"[A]@2", "L=W@3"}, []int{1}},
		{"missing =", "[A]\njunk\nK=V\n", []string{"[A]@1", "K=V@3"}, []int{2}},
		{"missing key", "[A]\n=V\n  = V\nK=V\n", []string{"[A]@1", "K=V@4"}, []int{2, 3}},
		{"unterminated header", "[A]\nK=1\n[B\nL=2\n[C]\nM=3\n", []string{"[A]@1", "K=1@2", "[C]@5", "M=3@6"}, []int{3}},
		{"header with trailing comment", "[A] # x\nK=1\n", nil, []int{1}},
		{"empty header", "[]\nK=1\n", nil, []int{1}},
		{"bad characters in header", "[A\"B]\nK=1\n[C\\D]\n[E\x01]\n", nil, []int{1, 3, 4}},
		{"invalid utf-8", "[A]\nK=a\xffb\nL=c\n[\xc3]\nM=d\n[B]\nK=é\n", []string{"[A]@1", "L=c@3", "[B]@6", "K=é@7"}, []int{2, 4}},
		{"nul byte", "[A]\nK=a\x00b\nL=c\n", []string{"[A]@1", "L=c@3"}, []int{2}},
		{"several problems", "x\n[A]\ny\n=z\n", []string{"[A]@2"}, []int{1, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.in)
			if got := flat(f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if got := warnLines(f); !reflect.DeepEqual(got, tt.warns) {
				t.Errorf("warnings at lines %v, want %v (%v)", got, tt.warns, f.Warnings)
			}
		})
	}
}

func TestParseErrorFormat(t *testing.T) {
	var hooked []error
	f, err := Parse(strings.NewReader("[A]\nK=V\nbad line\n"), "/etc/x.conf", &Options{Warn: func(e error) { hooked = append(hooked, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 1 || len(hooked) != 1 || hooked[0] != f.Warnings[0] {
		t.Fatalf("warnings %v, hook got %v", f.Warnings, hooked)
	}
	const want = "/etc/x.conf:3: missing '=', ignoring line"
	if got := f.Warnings[0].Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(f.Warnings[0], &e) || e.File != "/etc/x.conf" || e.Line != 3 {
		t.Errorf("not an *Error with file and line: %#v", f.Warnings[0])
	}
	if got := (&Error{File: "f", Msg: "m"}).Error(); got != "f: m" {
		t.Errorf("line-less error: %q", got)
	}
}

func TestParseLongLines(t *testing.T) {
	long := strings.Repeat("x", LongLineMax+1)
	fits := strings.Repeat("y", LongLineMax-4)
	atLimit := strings.Repeat("z", LongLineMax-2) // "K=" + atLimit is LongLineMax bytes
	tests := []struct {
		name  string
		in    string
		want  []string
		warns []int
	}{
		{"too long", "[A]\nK=" + long + "\nL=1\n", []string{"[A]@1", "L=1@3"}, []int{2}},
		{"exactly at the limit", "[A]\nK=" + atLimit + "\n", []string{"[A]@1", "K=" + atLimit + "@2"}, nil},
		{"one over the limit", "[A]\nK=" + atLimit + "z\n", []string{"[A]@1"}, []int{2}},
		{"too long crlf", "[A]\r\nK=" + long + "\r\nL=1\r\n", []string{"[A]@1", "L=1@3"}, []int{2}},
		{"too long at eof", "[A]\nL=1\nK=" + long, []string{"[A]@1", "L=1@2"}, []int{3}},
		// The rest of an oversized continued line is dropped with it, not
		// parsed as lines of its own.
		{"too long and continued", "[A]\nK=" + long + "\\\n more\\\n more\nL=1\n", []string{"[A]@1", "L=1@5"}, []int{2}},
		{"too long continued crlf", "[A]\nK=" + long + "\\\r\n more\r\nL=1\n", []string{"[A]@1", "L=1@4"}, []int{2}},
		{"too long then backslash-space", "[A]\nK=" + long + "\\ \nL=1\n", []string{"[A]@1", "L=1@3"}, []int{2}},
		{"joined too long", "[A]\nK=" + fits + "\\\n" + fits + "\\\nmore\nL=1\n", []string{"[A]@1", "L=1@5"}, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.in)
			got := flat(f)
			for i := range got {
				if len(got[i]) > 40 {
					got[i] = got[i][:20] + "…" + got[i][len(got[i])-10:]
				}
			}
			want := append([]string(nil), tt.want...)
			for i := range want {
				if len(want[i]) > 40 {
					want[i] = want[i][:20] + "…" + want[i][len(want[i])-10:]
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
			if got := warnLines(f); !reflect.DeepEqual(got, tt.warns) {
				t.Errorf("warnings at lines %v, want %v (%v)", got, tt.warns, f.Warnings)
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestParseReadError(t *testing.T) {
	_, err := Parse(errReader{}, "x.conf", nil)
	var e *Error
	if !errors.As(err, &e) || e.File != "x.conf" {
		t.Fatalf("got %v, want an *Error for x.conf", err)
	}
}

func TestAccessors(t *testing.T) {
	f := mustParse(t, `[Service]
ExecStart=/bin/a
Environment=A=1
Environment=B=2
Type=simple
[Route]
Gateway=10.0.0.1
[Service]
Environment=
Environment=C=3
Type=notify
Type=
[Route]
Gateway=10.0.0.2
Gateway=10.0.0.3
`)
	if got := len(f.Sections()); got != 4 {
		t.Fatalf("%d sections, want 4", got)
	}
	routes := f.SectionsNamed("Route")
	if len(routes) != 2 || routes[0].Line != 6 || routes[1].Line != 13 {
		t.Fatalf("routes %+v", routes)
	}
	if v, ok := routes[1].Get("Gateway"); !ok || v != "10.0.0.3" {
		t.Errorf("route 2 Gateway = %q %v", v, ok)
	}
	if v := routes[1].Values("Gateway"); !reflect.DeepEqual(v, []string{"10.0.0.2", "10.0.0.3"}) {
		t.Errorf("route 2 Gateway values %q", v)
	}
	if v, ok := f.Get("Service", "ExecStart"); !ok || v != "/bin/a" {
		t.Errorf("ExecStart = %q %v", v, ok)
	}
	if v, ok := f.Get("Service", "Type"); !ok || v != "" {
		t.Errorf("Type = %q %v, want empty and present", v, ok)
	}
	if _, ok := f.Get("Service", "Nope"); ok {
		t.Error("missing key found")
	}
	if _, ok := f.Get("Nope", "Type"); ok {
		t.Error("missing section found")
	}
	if v := f.Values("Service", "Environment"); !reflect.DeepEqual(v, []string{"C=3"}) {
		t.Errorf("Environment %q, want [C=3]", v)
	}
	if v := f.Values("Service", "Type"); v != nil {
		t.Errorf("Type values %q, want none after reset", v)
	}
	if v := f.Values("Route", "Gateway"); !reflect.DeepEqual(v, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}) {
		t.Errorf("all Gateways %q", v)
	}
	e, ok := f.Lookup("Route", "Gateway")
	if !ok || e.Line != 15 || e.File != "test.conf" {
		t.Errorf("Lookup = %+v", e)
	}
	es := f.Entries("Service", "Environment")
	if len(es) != 1 || es[0].Line != 10 {
		t.Errorf("Entries = %+v", es)
	}
}

func TestEntryWrap(t *testing.T) {
	f := mustParse(t, "[A]\n\nEnabled = maybe\n")
	e, _ := f.Lookup("A", "Enabled")
	_, err := ParseBool(e.Value)
	werr := e.Wrap(err)
	const want = `test.conf:3: Enabled: invalid boolean "maybe"`
	if werr.Error() != want {
		t.Errorf("got %q, want %q", werr.Error(), want)
	}
	var ve *ValueError
	if !errors.As(werr, &ve) || ve.Type != "boolean" {
		t.Errorf("cause not kept: %#v", werr.Err)
	}
}
