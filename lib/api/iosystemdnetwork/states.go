package iosystemdnetwork

import (
	"fmt"
	"strings"
)

// The states networkd reports and the rule deciding when a link is online, which networkd
// (Interface.OnlineState) and networkd-wait-online share.

// OperStates are the operational states in upstream's order, lowest first.
var OperStates = []string{"missing", "off", "no-carrier", "dormant", "degraded-carrier", "carrier", "degraded", "enslaved", "routable"}

// OperRank is the position of an operational state in OperStates, -1 if unknown.
func OperRank(s string) int {
	for i, v := range OperStates {
		if v == s {
			return i
		}
	}
	return -1
}

// ParseOperRange reads "MIN" or "MIN:MAX" of operational states, as RequiredForOnline= and
// networkd-wait-online's -o and -i take them; max defaults to routable, an empty min to off.
func ParseOperRange(s string) (min, max string, err error) {
	min, max, ok := strings.Cut(s, ":")
	if !ok || max == "" {
		max = "routable"
	}
	if min == "" {
		min = "off"
	}
	if OperRank(min) < 0 || OperRank(max) < 0 || OperRank(min) > OperRank(max) {
		return "", "", fmt.Errorf("invalid operational state range %q", s)
	}
	return min, max, nil
}

// OperRange is a range of operational states.
type OperRange struct{ Min, Max string }

// addressRanks orders the address states (AddressState, IPv4AddressState, IPv6AddressState).
var addressRanks = map[string]int{"off": 0, "degraded": 1, "routable": 2}

// AddressRank orders address states: off (or unknown) 0, degraded 1, routable 2.
func AddressRank(s string) int { return addressRanks[s] }

// LinkOnline decides, as upstream does, whether a link in operational state oper with the
// address states ipv4 and ipv6 is online: its operational state lies in r, and it has an
// address of each family that family ("ipv4", "ipv6", "both"; "" or "any": none) asks for, at
// the level r's minimum asks for (degraded — link-local suffices — unless it is routable).
func LinkOnline(oper, ipv4, ipv6 string, r OperRange, family string) bool {
	rank := OperRank(oper)
	if rank < OperRank(r.Min) || rank > OperRank(r.Max) {
		return false
	}
	need := AddressRank("degraded")
	if r.Min == "routable" {
		need = AddressRank("routable")
	}
	ok4, ok6 := AddressRank(ipv4) >= need, AddressRank(ipv6) >= need
	switch family {
	case "ipv4":
		return ok4
	case "ipv6":
		return ok6
	case "both":
		return ok4 && ok6
	}
	return true
}
