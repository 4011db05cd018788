package main

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
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
		if verb == "" || o.root == "" {
			t.Fatalf("%q: verb %q root %q", line, verb, o.root)
		}
		_ = rest
	})
}

// FuzzUnitReply: whatever a manager sends as a List reply, decoding it and rendering show,
// status and the table does not panic.
func FuzzUnitReply(f *testing.F) {
	f.Add(`{"context":{"ID":"a.service"},"runtime":{"ActiveState":"failed","Service":{"MainPID":{"pid":3},"Result":"exit_code","ExecMain":{"PID":4,"Code":2,"Status":9}}}}`)
	f.Add(`{"context":{"ID":"b","CGroup":{"ManagedOOMMemoryPressureLimit":4294967295}},"runtime":{"ActiveEnterTimestamp":{"realtime":-1}}}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var u Unit
		if json.Unmarshal([]byte(raw), &u) != nil {
			return
		}
		_ = writeShow(io.Discard, properties(&u), showOptions{})
		_ = writeStatus(io.Discard, &u, t.TempDir(), time.Unix(1e9, 0))
		_ = writeTable(io.Discard, listRows([]Unit{u}, listFilter{all: true}), true, true)
	})
}
