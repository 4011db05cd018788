package apitest

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that collects errors instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (r *recorder) Fatal(a ...any)            { panic(fmt.Sprint(a...)) }

const idl = `interface io.example

type T(
	# a comment
	a: string,
	b: ?int
)

error E(
	c: string
)
`

type good struct {
	A string `json:"a"`
	B *int   `json:"b,omitempty"`
}

type bad struct {
	B int `json:"b"`
	X int `json:"x"`
}

func TestCheckTypes(t *testing.T) {
	if f := Fields(t, idl, "E"); len(f) != 1 || f["c"] {
		t.Errorf("Fields(E) = %v", f)
	}
	r := &recorder{TB: t}
	CheckTypes(r, idl, map[string]any{"T": good{}})
	if len(r.errs) != 0 {
		t.Errorf("good type: %v", r.errs)
	}
	CheckTypes(r, idl, map[string]any{"T": bad{}})
	got := strings.Join(r.errs, "\n")
	if len(r.errs) != 2 || !strings.Contains(got, "sends x") || !strings.Contains(got, "mandatory field a") {
		t.Errorf("bad type: %v", r.errs)
	}
}
