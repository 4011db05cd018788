package iosystemdmanager

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// idlFields returns the fields of type name in the IDL: name → optional.
func idlFields(t *testing.T, name string) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`(?s)\ntype ` + name + `\((.*?)\n\)`)
	m := re.FindStringSubmatch(description)
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

// TestReplyTypesMatchIDL checks that every field the Go types send is declared, and that
// every mandatory field is always sent.
func TestReplyTypesMatchIDL(t *testing.T) {
	for name, v := range map[string]any{"ManagerContext": ManagerContext{}, "ManagerRuntime": ManagerRuntime{},
		"LogLevelStruct": LogLevelStruct{}, "Timestamp": Timestamp{}} {
		fields := idlFields(t, name)
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
