package varlinkd

import (
	"encoding/json"
	"testing"
)

// systemd's interfaces use capitalised field and enum names, which varlink/go's IDL parser
// refuses on its own.
const capitalisedIDL = `# Capitalised names, as in io.systemd.Network.
interface io.stead.Caps

type Link (
	# The interface index, (Index, for comments).
	Index: int,
	State: (Up, Down),
	lower: ?string
)

method Describe(
	Name: string,
	Links: ?[]Link
) -> (
	Interfaces: []Link
)
`

func TestCapitalisedNames(t *testing.T) {
	f, err := parseInterface(capitalisedIDL)
	if err != nil {
		t.Fatal(err)
	}
	m := f.methods["Describe"]
	tests := []struct {
		params string
		bad    string
	}{
		{`{"Name":"eth0"}`, ""},
		{`{"Name":"eth0","Links":[{"Index":1,"State":"Up"}]}`, ""},
		{`{"name":"eth0"}`, "Name"}, // the missing field is reported before the unknown one
		{`{"Name":"eth0","Links":[{"Index":1,"State":"up"}]}`, "Links"},
		{`{"Name":"eth0","Links":[{"Index":"1","State":"Up"}]}`, "Links"},
	}
	for _, tt := range tests {
		err := f.checkParameters(m.in, json.RawMessage(tt.params))
		got := ""
		if err != nil {
			got = err.(invalidParameter).name
		}
		if got != tt.bad {
			t.Errorf("%s: invalid %q, want %q", tt.params, got, tt.bad)
		}
	}
}

// FuzzCheckParameters: validation of arbitrary JSON never panics and only ever names a
// parameter the method has or the input carries.
func FuzzCheckParameters(f *testing.F) {
	ifc, err := parseInterface(capitalisedIDL)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"Name":"x","Links":[{"Index":1,"State":"Down","lower":null}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"Name":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ifc.checkParameters(ifc.methods["Describe"].in, data)
	})
}

// A richer interface for the comparison with the decoding validator: every kind of type.
const kindsIDL = `interface io.stead.Kinds

type Pair (key: string, value: ?int)

method All(
	flag: bool,
	count: int,
	ratio: ?float,
	name: ?string,
	blob: ?object,
	mode: ?(slow, fast),
	list: ?[]int,
	labels: ?[string]string,
	pairs: ?[]Pair,
	nested: ?(inner: ?[]?bool)
) -> ()
`

func TestCheckParametersCases(t *testing.T) {
	f, err := parseInterface(kindsIDL)
	if err != nil {
		t.Fatal(err)
	}
	in := f.methods["All"].in
	for _, tt := range []struct{ params, bad string }{
		{`{"flag":true,"count":1}`, ""},
		{` {"flag" : false , "count" : -9223372036854775808 } `, ""},
		{`{"flag":true,"count":18446744073709551615}`, ""},
		{`{"flag":true,"count":18446744073709551616}`, "count"},
		{`{"flag":true,"count":1.5}`, "count"},
		{`{"flag":true,"count":1e3}`, "count"},
		{`{"flag":true,"count":"1"}`, "count"},
		{`{"flag":1,"count":1}`, "flag"},
		{`{"count":1}`, "flag"},
		{`{"flag":true,"count":1,"ratio":2e-3,"name":"\u00e9","blob":{"a":[1]},"mode":"f\u0061st"}`, ""},
		{`{"flag":true,"count":1,"mode":"medium"}`, "mode"},
		{`{"flag":true,"count":1,"list":[1,2,null]}`, "list"},
		{`{"flag":true,"count":1,"labels":{"a":"b","c":1}}`, "labels"},
		{`{"flag":true,"count":1,"pairs":[{"key":"k","value":null},{"key":"k2"}]}`, ""},
		{`{"flag":true,"count":1,"pairs":[{"key":"k","extra":1}]}`, "pairs"},
		{`{"flag":true,"count":1,"nested":{"inner":[true,null,false]}}`, ""},
		{`{"flag":true,"count":1,"nested":{"inner":[1]}}`, "nested"},
		{`{"flag":true,"count":"x","count":2}`, ""}, // the last of a repeated field counts
		{`{"flag":true,"count":1,"bogus":1}`, "bogus"},
		{`{"fl\u0061g":true,"count":1}`, ""},
		{`null`, "flag"},
		{``, "flag"},
		{`   `, "parameters"},
		{`[]`, "parameters"},
		{`{"flag":true,"count":1`, "parameters"},
		{`{"flag":true,"count":1}x`, "parameters"},
	} {
		got := ""
		if err := f.checkParameters(in, json.RawMessage(tt.params)); err != nil {
			got = err.(invalidParameter).name
		}
		if got != tt.bad {
			t.Errorf("%s: invalid %q, want %q", tt.params, got, tt.bad)
		}
	}
}

// FuzzCheckParametersMatchesDecoding compares checkParameters with the validator that
// decoded every value (validate_ref_test.go): same verdict, and the same parameter named
// when the fault is in a declared one (of several unknown ones, that named one at random).
func FuzzCheckParametersMatchesDecoding(f *testing.F) {
	ifc, err := parseInterface(kindsIDL)
	if err != nil {
		f.Fatal(err)
	}
	in := ifc.methods["All"].in
	for _, s := range []string{
		`{"flag":true,"count":1,"pairs":[{"key":"k","value":2}],"nested":{"inner":[null]}}`,
		`{"flag":true,"count":1,"labels":{"a":"b"},"mode":"slow","blob":{}}`,
		`{"flag":true,"count":1,"x":1,"y":2}`, `{"count":"1"}`, `null`, `[]`, `{"a":`,
	} {
		f.Add([]byte(s))
	}
	declared := map[string]bool{"parameters": true}
	for _, fl := range in.Fields {
		declared[fl.Name] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, want := ifc.checkParameters(in, data), ifc.refCheckParameters(in, data)
		if (got == nil) != (want == nil) {
			t.Fatalf("%q: got %v, want %v", data, got, want)
		}
		if got == nil {
			return
		}
		g, w := got.(invalidParameter).name, want.(invalidParameter).name
		if (declared[w] || declared[g]) && g != w {
			t.Fatalf("%q: got %v, want %v", data, got, want)
		}
	})
}

// systemd's io.systemd.Metrics uses the type any, which varlink/go's parser does not know.
const anyIDL = `interface io.stead.Any

method Put(value: any, maybe: ?any, list: []any, Named: ?[string]any) -> (value: any)
`

func TestAnyType(t *testing.T) {
	f, err := parseInterface(anyIDL)
	if err != nil {
		t.Fatal(err)
	}
	m := f.methods["Put"]
	for _, tt := range []struct{ params, bad string }{
		{`{"value":1,"list":[]}`, ""},
		{`{"value":"s","maybe":{"a":[1,null]},"list":[true,"x",{}],"Named":{"k":2.5}}`, ""},
		{`{"value":[null],"list":[1]}`, ""},
		{`{"value":null,"list":[1]}`, "value"}, // null is absence, and value is not optional
		{`{"list":[]}`, "value"},
		{`{"value":1,"list":{}}`, "list"},
	} {
		err := f.checkParameters(m.in, json.RawMessage(tt.params))
		got := ""
		if err != nil {
			got = err.(invalidParameter).name
		}
		if got != tt.bad {
			t.Errorf("%s: invalid %q, want %q", tt.params, got, tt.bad)
		}
	}
}
