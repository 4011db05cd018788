package hwdb

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The inputs below were also fed to systemd-hwdb 262; the expected entries and the lines of
// the reported errors are what it did with them.

func TestParseFileGood(t *testing.T) {
	in := "# comment\n" +
		"dmi:bvnA:*\n" +
		"dmi:*:svnA:*   # a trailing comment\n" +
		"# a comment between matches and properties does not end the record\n" +
		" IMDS_VENDOR=a\n" +
		"  IMDS_DATA_URL=http://x/y?a=b&c=d\t \n" +
		" ID_A=foo #1\n" +
		" K = v \n" +
		" ID_F==f\n" +
		"\n" +
		"\n" +
		"usb:v1234*\n" +
		" ID_B=\n"
	entries, errs := ParseFile(strings.NewReader(in), "good.hwdb")
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := []Entry{
		{
			Matches: []string{"dmi:bvnA:*", "dmi:*:svnA:*"},
			Properties: []Property{
				{Key: "IMDS_VENDOR", Value: "a", Line: 5},
				{Key: "IMDS_DATA_URL", Value: "http://x/y?a=b&c=d", Line: 6},
				{Key: "ID_A", Value: "foo", Line: 7},
				{Key: "K ", Value: " v", Line: 8},
				{Key: "ID_F", Value: "=f", Line: 9},
			},
			File: "good.hwdb", Line: 2,
		},
		{
			Matches:    []string{"usb:v1234*"},
			Properties: []Property{{Key: "ID_B", Value: "", Line: 13}},
			File:       "good.hwdb", Line: 12,
		},
	}
	if !reflect.DeepEqual(entries, want) {
		t.Errorf("got  %+v\nwant %+v", entries, want)
	}
}

func errorLines(t *testing.T, errs []error, file string) []int {
	t.Helper()
	var lines []int
	for _, err := range errs {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("%v is not a *ParseError", err)
		}
		if pe.File != file || !strings.HasPrefix(err.Error(), pe.File+":") {
			t.Errorf("error %q does not name the file %s", err, file)
		}
		lines = append(lines, pe.Line)
	}
	return lines
}

func TestParseFileBad(t *testing.T) {
	in := " K6=orphan\n" + //  1: property outside a record
		"\n" +
		"k:*\n" + //           3
		"\n" + //              4: record without properties
		"k:*\n" + //           5
		"k:abc\n" + //         6
		" K7=multi\n" + //     7
		" NOEQ\n" + //         8: no '='
		" =empty\n" + //       9: empty key
		" K8=x\n" + //        10
		"k:after\n" + //      11: a match after the properties
		" K9=lost\n" + //     12: so this property has no record
		"\n" +
		"k:*\n" +
		" K10=a\r\n" +
		" K11=b\n" +
		"\tk:tab\n" + //      17: a tab-indented line is not a property
		" K12=c\n" + //       18
		"\n" +
		"k:last\n" //         20: record without properties at the end
	entries, errs := ParseFile(strings.NewReader(in), "bad.hwdb")
	if got, want := errorLines(t, errs, "bad.hwdb"), []int{1, 4, 8, 9, 11, 12, 17, 18, 20}; !reflect.DeepEqual(got, want) {
		t.Errorf("errors on lines %v, want %v:\n%v", got, want, errs)
	}
	if len(errs) > 0 && !strings.HasPrefix(errs[0].Error(), "bad.hwdb:1: ") {
		t.Errorf("error text %q", errs[0])
	}
	type rec struct {
		Matches []string
		Props   map[string]string
	}
	var got []rec
	for _, e := range entries {
		r := rec{Matches: e.Matches, Props: map[string]string{}}
		for _, p := range e.Properties {
			r.Props[p.Key] = p.Value
		}
		got = append(got, r)
	}
	want := []rec{
		{[]string{"k:*", "k:abc"}, map[string]string{"K7": "multi", "K8": "x"}},
		{[]string{"k:*"}, map[string]string{"K10": "a", "K11": "b"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseFileLineEnds(t *testing.T) {
	in := "k:*\n\r A=1\n\r" + //  "\n\r" is one line end: lines 1, 2
		"k:*\n B=1\n\n" + //       3: match after properties, 4: orphan property, 5
		"k:*\x00\n C=1\n\n" + //   NUL and "\n" are two ends: 6, 7 (record without properties), 8 orphan, 9
		"k:*\r\x00 D=1\n\n" + //   "\r\0" is one end: 10, 11, 12
		"k:*\n E=1\n\n\n\r\n" + // 13, 14, 15, 16 ("\n\r"), 17 ("\n")
		"nomatch\n F=1\n\n\n\r\n\r G=1\n" // 18, 19, 20, 21 ("\n\r"), 22 ("\n\r"), 23: orphan
	entries, errs := ParseFile(strings.NewReader(in), "eol.hwdb")
	if got, want := errorLines(t, errs, "eol.hwdb"), []int{3, 4, 7, 8, 23}; !reflect.DeepEqual(got, want) {
		t.Errorf("errors on lines %v, want %v:\n%v", got, want, errs)
	}
	var keys []string
	for _, e := range entries {
		for _, p := range e.Properties {
			keys = append(keys, p.Key)
		}
	}
	if want := []string{"A", "D", "E", "F"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("properties %v, want %v", keys, want)
	}
}

func TestParseFileLongLine(t *testing.T) {
	in := "k:*\n A=1\n\nk:x\n L=" + strings.Repeat("y", MaxLineLength+10) + "\n\nk:*\n B=2\n"
	entries, errs := ParseFile(strings.NewReader(in), "long.hwdb")
	if got := errorLines(t, errs, "long.hwdb"); !reflect.DeepEqual(got, []int{5}) {
		t.Errorf("errors on lines %v, want [5]: %v", got, errs)
	}
	// Like systemd-hwdb: what came before stays, the rest of the file is dropped.
	if len(entries) != 1 || entries[0].Properties[0].Key != "A" {
		t.Errorf("entries %+v", entries)
	}
}

func TestParseFileNoFinalNewline(t *testing.T) {
	entries, errs := ParseFile(strings.NewReader("k:*\n K=v"), "x.hwdb")
	if len(errs) != 0 || len(entries) != 1 || entries[0].Properties[0].Value != "v" {
		t.Errorf("entries %+v, errors %v", entries, errs)
	}
	entries, errs = ParseFile(strings.NewReader(""), "empty.hwdb")
	if len(errs) != 0 || len(entries) != 0 {
		t.Errorf("empty input: entries %+v, errors %v", entries, errs)
	}
}

type failingReader struct{ data string }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, errors.New("boom")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestParseFileReadError(t *testing.T) {
	entries, errs := ParseFile(&failingReader{"k:*\n A=1\n"}, "io.hwdb")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "boom") || !strings.HasPrefix(errs[0].Error(), "io.hwdb:3: ") {
		t.Errorf("errors %v", errs)
	}
	if len(entries) != 1 {
		t.Errorf("entries %+v", entries)
	}
}
