package settingstable

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docPath is docs/systemd.unit.md from this package's directory.
var docPath = filepath.Join("..", "..", "..", "..", "docs", "systemd.unit.md")

// TestCommittedTableIsCurrent: the table in docs/systemd.unit.md is what the loader does
// now (run `go generate ./lib/unit` after changing what it applies).
func TestCommittedTableIsCurrent(t *testing.T) {
	rows, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Splice(string(doc), Markdown(rows))
	if err != nil {
		t.Fatal(err)
	}
	if want != string(doc) {
		t.Errorf("%s: the settings table is out of date: run go generate ./lib/unit", docPath)
	}
}

// TestEveryUpstreamSettingHasARow: one row per upstream key, none twice, each with a status.
func TestEveryUpstreamSettingHasARow(t *testing.T) {
	rows, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		id := r.Section + "." + r.Key
		if seen[id] {
			t.Errorf("%s twice", id)
		}
		seen[id] = true
		switch r.Status {
		case Implemented, Ignored, Refused:
		default:
			t.Errorf("%s: status %q", id, r.Status)
		}
	}
	n := 0
	for sec, keys := range upstreamKeysForTest() {
		for _, k := range keys {
			n++
			if !seen[sec+"."+k] {
				t.Errorf("%s.%s has no row", sec, k)
			}
		}
	}
	if len(rows) != n {
		t.Errorf("%d rows for %d upstream settings", len(rows), n)
	}
}

// TestClassification: the status follows what the loader does, whatever the setting.
func TestClassification(t *testing.T) {
	base := observed{state: "loaded"}
	for _, c := range []struct {
		o    observed
		want Status
		note string
	}{
		{observed{state: "loaded", line: 3}, Implemented, ""},
		{observed{state: "loaded", line: 3, warnings: []string{"Foo= in [Service] is not supported by stead, ignoring"}}, Ignored, "not supported by stead"},
		{observed{state: "loaded", line: 3, warnings: []string{"Requisite: recorded as a dependency, but stead's job engine does not act on Requisite= yet"}}, Ignored, "recorded as a dependency"},
		{observed{state: "bad-setting", line: 3, warnings: []string{"x.mount: Where=: bad, refusing"}}, Refused, "the unit fails to load (bad-setting)"},
	} {
		r, err := classify("Service", "Foo", base, c.o)
		if err != nil || r.Status != c.want || !strings.HasPrefix(r.Note, c.note) {
			t.Errorf("%+v: %+v %v, want %s %q", c.o, r, err, c.want, c.note)
		}
	}
	// A value the loader rejects is the sample's fault, not a status.
	if _, err := classify("Service", "Foo", base, observed{state: "loaded", line: 3, warnings: []string{`Foo: invalid value "x"`}}); err == nil {
		t.Error("a rejected sample value gave a status")
	}
}
