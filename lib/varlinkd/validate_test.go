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
