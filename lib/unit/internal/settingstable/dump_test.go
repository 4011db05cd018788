package settingstable

import "testing"

func TestDump(t *testing.T) {
	rows, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Status != Implemented && r.Note != "not supported by stead" {
			t.Logf("%s.%s %s %s", r.Section, r.Key, r.Status, r.Note)
		}
	}
	t.Log(Counts(rows))
}
