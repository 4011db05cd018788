// Package resolverr renders the resource-record files systemd-resolved reads from its
// static.d directories (*.rr): a JSON array of records, each a key (class, type, name) and,
// for address records, the address as an array of byte values.
package resolverr

import (
	"encoding/json"
	"net/netip"
)

// DNS class and types of the records written here.
const (
	classIN  = 1
	typeA    = 1
	typeAAAA = 28
)

type key struct {
	Class int    `json:"class"`
	Type  int    `json:"type"`
	Name  string `json:"name"`
}

type record struct {
	Key     key   `json:"key"`
	Address []int `json:"address"`
}

// Addresses renders an A record for each IPv4 address and an AAAA record for each other one
// given for name, skipping invalid ones: the file's whole content, newline-terminated, or
// nil when no address is valid.
func Addresses(name string, addrs ...netip.Addr) []byte {
	var rrs []record
	for _, a := range addrs {
		if !a.IsValid() {
			continue
		}
		typ := typeAAAA
		if a.Is4() {
			typ = typeA
		}
		var bytes []int
		for _, b := range a.AsSlice() {
			bytes = append(bytes, int(b))
		}
		rrs = append(rrs, record{key{classIN, typ, name}, bytes})
	}
	if len(rrs) == 0 {
		return nil
	}
	b, err := json.Marshal(rrs)
	if err != nil {
		panic(err) // ints and strings always marshal
	}
	return append(b, '\n')
}
