package varlinkd

import (
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

// The IDL type any (systemd's io.systemd.Metrics: a value of any JSON type) is unknown to
// varlink/go's parser too: parseIDL turns it into a reference to anyAlias, a type no IDL
// defines, which the validation accepts any value for.
const anyAlias = "ZzsteadAny"

// anyType finds the type any after a field's colon, optional and inside arrays or maps.
var anyType = regexp.MustCompile(`(:[ \t]*\??(?:\[[a-z]*\])*)any\b`)

func parseIDL(description string) (*idl.IDL, error) {
	marked := anyType.ReplaceAllString(description, "${1}"+anyAlias)
	marked = capitalisedName.ReplaceAllString(marked, "${1}"+capMarker+"${2}")
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

// checkParameters validates a method's input object against its IDL type. Unknown fields,
// missing non-optional fields and values of the wrong type are reported by field name; the
// fields are checked in the IDL's order, then unknown ones. A repeated field counts with its
// last value, as decoding it does.
//
// It works on the raw bytes (jsonscan.go): after one syntax check nothing is decoded or
// allocated unless a name or value carries escapes.
func (f *iface) checkParameters(in *idl.Type, raw json.RawMessage) error {
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	if raw = trimSpace(raw); isNull(raw) {
		raw = json.RawMessage("{}")
	}
	if len(raw) == 0 || raw[0] != '{' || !json.Valid(raw) {
		return invalidParameter{"parameters"}
	}
	name, err := f.checkObject(in, raw)
	if err != nil {
		return invalidParameter{name}
	}
	return nil
}

// maxStackFields is how many fields checkObject tracks without allocating.
const maxStackFields = 16

// checkObject checks a valid JSON object against a struct type; on failure it returns the
// offending field's name.
func (f *iface) checkObject(t *idl.Type, obj []byte) (string, error) {
	var buf [maxStackFields][]byte // each field's value; nil while absent
	vals := buf[:min(len(t.Fields), maxStackFields)]
	if len(t.Fields) > maxStackFields {
		vals = make([][]byte, len(t.Fields))
	}
	unknown, haveUnknown := "", false
	err := eachMember(obj, func(key, val []byte) error {
		for i := range t.Fields {
			if keyEquals(key, t.Fields[i].Name) {
				vals[i] = val
				return nil
			}
		}
		if !haveUnknown {
			unknown, haveUnknown = unquote(key), true
		}
		return nil
	})
	if err != nil {
		return "parameters", err
	}
	for i, field := range t.Fields {
		if err := f.check(field.Type, vals[i]); err != nil {
			return field.Name, err
		}
	}
	if haveUnknown {
		return unknown, errMismatch
	}
	return "", nil
}

// check validates one value (its raw bytes); nil means the field was absent.
func (f *iface) check(t *idl.Type, v []byte) error {
	if v == nil || isNull(v) {
		if t.Kind == idl.TypeMaybe {
			return nil
		}
		return errMismatch
	}
	switch t.Kind {
	case idl.TypeMaybe:
		return f.check(t.ElementType, v)
	case idl.TypeBool:
		return want(string(v) == "true" || string(v) == "false")
	case idl.TypeInt:
		return want(isInteger(v))
	case idl.TypeFloat:
		return want(isNumber(v))
	case idl.TypeString:
		return want(v[0] == '"')
	case idl.TypeObject:
		return want(v[0] == '{')
	case idl.TypeEnum:
		if v[0] != '"' {
			return errMismatch
		}
		for _, e := range t.Fields {
			if keyEquals(v, e.Name) {
				return nil
			}
		}
		return errMismatch
	case idl.TypeArray:
		if v[0] != '[' {
			return errMismatch
		}
		return eachElement(v, func(e []byte) error { return f.check(t.ElementType, e) })
	case idl.TypeMap:
		if v[0] != '{' {
			return errMismatch
		}
		return eachMember(v, func(_, e []byte) error { return f.check(t.ElementType, e) })
	case idl.TypeStruct:
		if v[0] != '{' {
			return errMismatch
		}
		_, err := f.checkObject(t, v)
		return err
	case idl.TypeAlias:
		if t.Alias == anyAlias {
			return nil
		}
		at, ok := f.aliases[t.Alias]
		if !ok {
			return fmt.Errorf("unknown type %s", t.Alias)
		}
		return f.check(at, v)
	}
	return fmt.Errorf("unsupported type kind %d", t.Kind)
}

func want(ok bool) error {
	if !ok {
		return errMismatch
	}
	return nil
}

var errMismatch = fmt.Errorf("type mismatch")
