package gpt

import "errors"

// GUID is a GUID in its on-disk byte order (first three fields little-endian).
type GUID [16]byte

// String is the canonical textual form, e.g. c12a7328-f81f-11d2-ba4b-00a0c93ec93b.
func (g GUID) String() string { return "" }

// ParseGUID parses the canonical textual form.
func ParseGUID(s string) (GUID, error) { return GUID{}, errors.New("gpt: not implemented yet") }

// TypeByName resolves a partition type identifier as MatchPartitionType= accepts it.
func TypeByName(name string) (GUID, bool) { return GUID{}, false }
