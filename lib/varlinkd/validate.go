package varlinkd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/varlink/go/varlink/idl"
)

// requiresMoreMarker is how systemd's IDL marks a method that must be called with `more`.
const requiresMoreMarker = "[Requires 'more' flag]"

// iface is a registered interface's IDL, indexed for request validation.
type iface struct {
	name    string
	methods map[string]*method
	aliases map[string]*idl.Type
}

type method struct {
	in           *idl.Type
	requiresMore bool
}

func parseInterface(description string) (*iface, error) {
	parsed, err := parseIDL(description)
	if err != nil {
		return nil, err
	}
	f := &iface{name: parsed.Name, methods: map[string]*method{}, aliases: map[string]*idl.Type{}}
	for _, a := range parsed.Aliases {
		f.aliases[a.Name] = a.Type
	}
	for _, m := range parsed.Methods {
		f.methods[m.Name] = &method{in: m.In, requiresMore: strings.Contains(m.Doc, requiresMoreMarker)}
	}
	return f, nil
}

// varlink/go's IDL parser only takes field and enum names that start with a lower-case
// letter, but systemd's interfaces (io.systemd.Network, …) use capitalised ones. parseIDL
// prefixes such names with capMarker so the parser accepts them, then strips it again.
const capMarker = "zzsteadcap_"

// capitalisedName finds a capitalised name where a field or enum value can stand: right after
// "(" or ",", across blanks and comment lines.
var capitalisedName = regexp.MustCompile(`([(,][ \t\r\n]*(?:#[^\n]*\n[ \t\r\n]*)*)([A-Z][A-Za-z0-9_]*)`)

func parseIDL(description string) (*idl.IDL, error) {
	marked := capitalisedName.ReplaceAllString(description, "${1}"+capMarker+"${2}")
	parsed, err := idl.New(marked)
	if err != nil || marked == description {
		return parsed, err
	}
	seen := map[*idl.Type]bool{}
	var unmark func(t *idl.Type)
	unmark = func(t *idl.Type) {
		if t == nil || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.Fields {
			t.Fields[i].Name = strings.TrimPrefix(t.Fields[i].Name, capMarker)
			unmark(t.Fields[i].Type)
		}
		unmark(t.ElementType)
	}
	for _, m := range parsed.Methods {
		unmark(m.In)
		unmark(m.Out)
	}
	for _, a := range parsed.Aliases {
		unmark(a.Type)
	}
	for _, e := range parsed.Errors {
		unmark(e.Type)
	}
	return parsed, nil
}

// invalidParameter names the offending top-level parameter of a request.
type invalidParameter struct{ name string }

func (e invalidParameter) Error() string { return "invalid parameter " + strconv.Quote(e.name) }

var null = []byte("null")

// checkParameters validates a method's input object against its IDL type. Unknown fields,
// missing non-optional fields and values of the wrong type are reported by field name.
func (f *iface) checkParameters(in *idl.Type, raw json.RawMessage) error {
	if len(raw) == 0 || bytes.Equal(raw, null) {
		raw = json.RawMessage("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return invalidParameter{"parameters"}
	}
	for _, field := range in.Fields {
		v, present := obj[field.Name]
		delete(obj, field.Name)
		if err := f.check(field.Type, v, present); err != nil {
			return invalidParameter{field.Name}
		}
	}
	for name := range obj {
		return invalidParameter{name}
	}
	return nil
}

// check validates one value; present is false when the field was absent.
func (f *iface) check(t *idl.Type, v json.RawMessage, present bool) error {
	isNull := !present || bytes.Equal(v, null)
	if t.Kind == idl.TypeMaybe {
		if isNull {
			return nil
		}
		return f.check(t.ElementType, v, true)
	}
	if isNull {
		return errMismatch
	}
	switch t.Kind {
	case idl.TypeBool:
		var b bool
		return unmarshalStrict(v, &b)
	case idl.TypeInt:
		var n json.Number
		if !isNumber(v) {
			return errMismatch
		}
		if err := unmarshalStrict(v, &n); err != nil {
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
		if !isNumber(v) {
			return errMismatch
		}
		return unmarshalStrict(v, &n)
	case idl.TypeString:
		var s string
		return unmarshalStrict(v, &s)
	case idl.TypeObject:
		var m map[string]json.RawMessage
		return unmarshalStrict(v, &m)
	case idl.TypeEnum:
		var s string
		if err := unmarshalStrict(v, &s); err != nil {
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
		if err := unmarshalStrict(v, &elems); err != nil {
			return err
		}
		for _, e := range elems {
			if err := f.check(t.ElementType, e, true); err != nil {
				return err
			}
		}
		return nil
	case idl.TypeMap:
		var m map[string]json.RawMessage
		if err := unmarshalStrict(v, &m); err != nil {
			return err
		}
		for _, e := range m {
			if err := f.check(t.ElementType, e, true); err != nil {
				return err
			}
		}
		return nil
	case idl.TypeStruct:
		var obj map[string]json.RawMessage
		if err := unmarshalStrict(v, &obj); err != nil {
			return err
		}
		for _, field := range t.Fields {
			fv, ok := obj[field.Name]
			delete(obj, field.Name)
			if err := f.check(field.Type, fv, ok); err != nil {
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
		return f.check(at, v, true)
	}
	return fmt.Errorf("unsupported type kind %d", t.Kind)
}

var errMismatch = fmt.Errorf("type mismatch")

// isNumber tells a JSON number from a string: encoding/json decodes "12" into json.Number.
func isNumber(v json.RawMessage) bool {
	v = bytes.TrimLeft(v, " \t\r\n")
	return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9')
}

// unmarshalStrict decodes v into dst; null never reaches it (check handles null first).
func unmarshalStrict(v json.RawMessage, dst any) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return errMismatch
	}
	return nil
}
