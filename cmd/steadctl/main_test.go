package main

import (
	"reflect"
	"testing"
)

func TestParseArgs(t *testing.T) {
	o, verb, rest, err := parseArgs([]string{"show", "a", "-p", "MainPID,SubState", "--property=Result", "--value", "--root=/r", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if verb != "show" || !reflect.DeepEqual(rest, []string{"a", "b"}) || o.root != "/r" || !o.value ||
		!reflect.DeepEqual(o.props, []string{"MainPID", "SubState", "Result"}) {
		t.Errorf("got %+v %q %q", o, verb, rest)
	}
	o, verb, _, err = parseArgs([]string{"--all", "--json"})
	if err != nil || verb != "list-units" || !o.all || o.json != "pretty" {
		t.Errorf("defaults: %+v %q %v", o, verb, err)
	}
	o, _, _, err = parseArgs([]string{"-P", "ActiveState", "show", "x", "--json=short"})
	if err != nil || !o.value || o.json != "short" || o.props[0] != "ActiveState" {
		t.Errorf("-P: %+v %v", o, err)
	}
	for _, bad := range [][]string{{"--bogus"}, {"-p"}, {"--json=yaml"}, {"--all=yes"}} {
		if _, _, _, err := parseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMangle(t *testing.T) {
	got := mangle([]string{"foo", "bar.socket", "a.b", "x@y.service", "default.target"})
	want := []string{"foo.service", "bar.socket", "a.b.service", "x@y.service", "default.target"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mangle = %q, want %q", got, want)
	}
}
