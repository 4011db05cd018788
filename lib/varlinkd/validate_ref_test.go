package varlinkd

// The map-based validation that checkParameters replaced, kept as the oracle
// FuzzCheckParametersMatchesDecoding compares it with.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/varlink/go/varlink/idl"
)

var refNull = []byte("null")

// refCheckParameters decodes the parameters into a map and each value on its own.
func (f *iface) refCheckParameters(in *idl.Type, raw json.RawMessage) error {
	if len(raw) == 0 || bytes.Equal(raw, refNull) {
		raw = json.RawMessage("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return invalidParameter{"parameters"}
	}
	for _, field := range in.Fields {
		v, present := obj[field.Name]
		delete(obj, field.Name)
		if err := f.refCheck(field.Type, v, present); err != nil {
			return invalidParameter{field.Name}
		}
	}
	for name := range obj {
		return invalidParameter{name}
	}
	return nil
}

// refCheck validates one value; present is false when the field was absent.
func (f *iface) refCheck(t *idl.Type, v json.RawMessage, present bool) error {
	isNull := !present || bytes.Equal(v, refNull)
	if t.Kind == idl.TypeMaybe {
		if isNull {
			return nil
		}
		return f.refCheck(t.ElementType, v, true)
	}
	if isNull {
		return errMismatch
	}
	switch t.Kind {
	case idl.TypeBool:
		var b bool
		return refUnmarshalStrict(v, &b)
	case idl.TypeInt:
		var n json.Number
		if !refIsNumber(v) {
			return errMismatch
		}
		if err := refUnmarshalStrict(v, &n); err != nil {
			return err
		}
		if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
			if _, err := strconv.ParseUint(n.String(), 10, 64); err != nil {
				return errMismatch
			}
		}
		return nil
	case idl.TypeFloat:
		var n json.Number
		if !refIsNumber(v) {
			return errMismatch
		}
		return refUnmarshalStrict(v, &n)
	case idl.TypeString:
		var s string
		return refUnmarshalStrict(v, &s)
	case idl.TypeObject:
		var m map[string]json.RawMessage
		return refUnmarshalStrict(v, &m)
	case idl.TypeEnum:
		var s string
		if err := refUnmarshalStrict(v, &s); err != nil {
			return err
		}
		for _, e := range t.Fields {
			if e.Name == s {
				return nil
			}
		}
		return errMismatch
	case idl.TypeArray:
		var elems []json.RawMessage
		if err := refUnmarshalStrict(v, &elems); err != nil {
			return err
		}
		for _, e := range elems {
			if err := f.refCheck(t.ElementType, e, true); err != nil {
				return err
			}
		}
		return nil
	case idl.TypeMap:
		var m map[string]json.RawMessage
		if err := refUnmarshalStrict(v, &m); err != nil {
			return err
		}
		for _, e := range m {
			if err := f.refCheck(t.ElementType, e, true); err != nil {
				return err
			}
		}
		return nil
	case idl.TypeStruct:
		var obj map[string]json.RawMessage
		if err := refUnmarshalStrict(v, &obj); err != nil {
			return err
		}
		for _, field := range t.Fields {
			fv, ok := obj[field.Name]
			delete(obj, field.Name)
			if err := f.refCheck(field.Type, fv, ok); err != nil {
				return err
			}
		}
		if len(obj) > 0 {
			return errMismatch
		}
		return nil
	case idl.TypeAlias:
		at, ok := f.aliases[t.Alias]
		if !ok {
			return fmt.Errorf("unknown type %s", t.Alias)
		}
		return f.refCheck(at, v, true)
	}
	return fmt.Errorf("unsupported type kind %d", t.Kind)
}

// refIsNumber tells a JSON number from a string: encoding/json decodes "12" into json.Number.
func refIsNumber(v json.RawMessage) bool {
	v = bytes.TrimLeft(v, " \t\r\n")
	return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9')
}

// refUnmarshalStrict decodes v into dst; null never reaches it (check handles null first).
func refUnmarshalStrict(v json.RawMessage, dst any) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return errMismatch
	}
	return nil
}
