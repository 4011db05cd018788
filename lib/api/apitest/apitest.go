// Package apitest checks the hand-written Go types of a Varlink interface against its IDL, for
// the interfaces under lib/api whose Go is not generated, and serves fake implementations of
// interfaces for tests of the typed clients (Serve).
package apitest

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// Fields returns the fields of the type or error name in the IDL text: field → optional.
func Fields(t testing.TB, idl, name string) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`(?s)\n(?:type|error) ` + regexp.QuoteMeta(name) + `\((.*?)\n\)`)
	m := re.FindStringSubmatch(idl)
	if m == nil {
		t.Fatalf("type %s not in the IDL", name)
	}
	out := map[string]bool{}
	for _, l := range strings.Split(m[1], "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f, typ, ok := strings.Cut(strings.TrimSuffix(l, ","), ": ")
		if !ok {
			t.Fatalf("odd line %q in %s", l, name)
		}
		out[f] = strings.HasPrefix(typ, "?")
	}
	return out
}

// CheckTypes checks, for each IDL type or error name → a zero Go value of it, that every field
// the Go value sends is declared in the IDL, and that every mandatory field is always sent.
func CheckTypes(t testing.TB, idl string, types map[string]any) {
	t.Helper()
	for name, v := range types {
		fields := Fields(t, idl, name)
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var sent map[string]json.RawMessage
		if err := json.Unmarshal(b, &sent); err != nil {
			t.Fatal(err)
		}
		for k := range sent {
			if _, ok := fields[k]; !ok {
				t.Errorf("%s sends %s, which the IDL does not declare", name, k)
			}
		}
		for f, optional := range fields {
			if _, ok := sent[f]; !ok && !optional {
				t.Errorf("%s never sends the mandatory field %s", name, f)
			}
		}
	}
}
