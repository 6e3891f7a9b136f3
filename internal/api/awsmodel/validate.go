package awsmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrUnknownOperation reports an operation the model does not have.
var ErrUnknownOperation = errors.New("unknown operation")

// SerializationError reports a body that is not the JSON the operation takes
// (a string where a number belongs, a broken document). AWS answers it with
// SerializationException.
type SerializationError struct{ Msg string }

func (e *SerializationError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrSerialization) hold, for error tables.
func (e *SerializationError) Is(target error) bool { return target == ErrSerialization }

// ErrSerialization and ErrValidation are the kinds of SerializationError
// and ValidationError.
var (
	ErrSerialization = errors.New("serialization error")
	ErrValidation    = errors.New("validation error")
)

// ValidationError lists every constraint a request breaks, in AWS's format.
type ValidationError struct{ Problems []string }

// Is makes errors.Is(err, ErrValidation) hold, for error tables.
func (e *ValidationError) Is(target error) bool { return target == ErrValidation }

func (e *ValidationError) Error() string {
	noun := "errors"
	if len(e.Problems) == 1 {
		noun = "error"
	}
	return fmt.Sprintf("%d validation %s detected: %s", len(e.Problems), noun, strings.Join(e.Problems, "; "))
}

// Clean validates a JSON request body for op against the model and returns
// it with only the members the model defines: AWS drops unknown members, so
// ebb neither stores nor echoes them (a client could otherwise park
// megabytes in a Describe answer).
func (m *Model) Clean(op string, body []byte) ([]byte, error) {
	o, ok := m.Operations[op]
	if !ok {
		return nil, ErrUnknownOperation
	}
	if o.Input == nil {
		return []byte("{}"), nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	// JSON is UTF-8 (RFC 8259); Go's decoder would turn invalid bytes into
	// U+FFFD and store a string nobody sent.
	if !utf8.Valid(body) {
		return nil, &SerializationError{Msg: "Unable to parse request body: it is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, &SerializationError{Msg: "Unable to parse request body: " + err.Error()}
	}
	if dec.More() {
		return nil, &SerializationError{Msg: "Unexpected content after the request body"}
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, &SerializationError{Msg: "Request body must be a JSON object"}
	}
	v := validator{m: m}
	v.value("", o.Input.Shape, doc)
	if v.serial != nil {
		return nil, v.serial
	}
	if len(v.problems) > 0 {
		return nil, &ValidationError{Problems: v.problems}
	}
	if !m.prune(o.Input.Shape, doc) {
		return body, nil
	}
	return json.Marshal(doc)
}

// prune deletes the members of structures that shape does not define and
// reports whether it deleted any.
func (m *Model) prune(shape string, v any) bool {
	s := m.Shapes[shape]
	if s == nil {
		return false
	}
	pruned := false
	switch s.Type {
	case "structure":
		obj, _ := v.(map[string]any)
		for name, x := range obj {
			ref, ok := s.Members[name]
			if !ok {
				delete(obj, name)
				pruned = true
				continue
			}
			pruned = m.prune(ref.Shape, x) || pruned
		}
	case "list":
		list, _ := v.([]any)
		for _, x := range list {
			pruned = m.prune(s.Member.Shape, x) || pruned
		}
	case "map":
		obj, _ := v.(map[string]any)
		for _, x := range obj {
			pruned = m.prune(s.Value.Shape, x) || pruned
		}
	}
	return pruned
}

// ValidateREST checks the members of a restJson1 request that travel in the
// URI and headers. The payload is the caller's to check. It allocates
// nothing for a valid request: it runs on every invocation.
func (m *Model) ValidateREST(op string, uri map[string]string, header http.Header) error {
	o, ok := m.Operations[op]
	if !ok {
		return ErrUnknownOperation
	}
	in := m.Shapes[o.Input.Shape]
	v := validator{m: m}
	for name, ref := range in.Members {
		var str string
		var found bool
		switch ref.Location {
		case "uri":
			str, found = uri[ref.LocationName]
		case "header":
			if vs := header[ref.headerKey]; len(vs) > 0 {
				str, found = vs[0], true
			}
		default:
			continue
		}
		if !found {
			if contains(in.Required, name) {
				v.fail(ref.path, nil, "Member must not be null")
			}
			continue
		}
		switch t := m.Shapes[ref.Shape]; {
		case t != nil && t.Type == "string":
			v.string(ref.path, t, str) // without boxing str, on the invocation path
		case t != nil && (t.Type == "integer" || t.Type == "long"):
			// Integer headers are checked as the numbers they carry.
			if _, err := strconv.ParseInt(str, 10, 64); err != nil {
				v.fail(ref.path, str, "Member must be an integer")
				continue
			}
			v.value(ref.path, ref.Shape, json.Number(str))
		default:
			v.value(ref.path, ref.Shape, str)
		}
	}
	if len(v.problems) > 0 {
		return &ValidationError{Problems: v.problems}
	}
	return nil
}

type validator struct {
	m        *Model
	problems []string
	serial   *SerializationError
}

func (v *validator) fail(path string, value any, constraint string) {
	v.problems = append(v.problems, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", show(value), path, constraint))
}

func (v *validator) mistyped(path, want string) {
	if v.serial == nil {
		if path == "" {
			path = "request"
		}
		v.serial = &SerializationError{Msg: fmt.Sprintf("Expected %s at '%s'", want, path)}
	}
}

// show renders a value the way AWS quotes it in validation messages.
func show(value any) string {
	switch x := value.(type) {
	case nil:
		return "null"
	case string:
		return "'" + x + "'"
	case json.Number:
		return "'" + x.String() + "'"
	case bool:
		return fmt.Sprintf("'%t'", x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = strings.Trim(show(e), "'")
		}
		return "'[" + strings.Join(parts, ", ") + "]'"
	case map[string]any:
		// A map (or a structure) as Java's Map.toString writes it, which
		// Coral's messages quote: {key=value, ...}. Java's HashMap order is
		// its hash order; ebb sorts the keys, so the text is stable.
		parts := make([]string, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			parts = append(parts, k+"="+strings.Trim(show(x[k]), "'"))
		}
		return "'{" + strings.Join(parts, ", ") + "}'"
	default:
		return "'" + fmt.Sprint(x) + "'"
	}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func join(path, member string) string {
	if path == "" {
		return member
	}
	return path + "." + member
}

func (v *validator) value(path, shapeName string, val any) {
	s := v.m.Shapes[shapeName]
	if s == nil || val == nil {
		return
	}
	switch s.Type {
	case "structure":
		obj, ok := val.(map[string]any)
		if !ok {
			v.mistyped(path, "an object")
			return
		}
		for _, name := range s.Required {
			if obj[name] == nil {
				v.fail(join(path, lowerFirst(name)), nil, "Member must not be null")
			}
		}
		for name, ref := range s.Members {
			if x, ok := obj[name]; ok {
				v.value(join(path, ref.path), ref.Shape, x)
			}
		}
	case "list":
		list, ok := val.([]any)
		if !ok {
			v.mistyped(path, "a list")
			return
		}
		v.length(path, s, val, len(list))
		for i, e := range list {
			v.value(fmt.Sprintf("%s.%d.member", path, i+1), s.Member.Shape, e)
		}
	case "map":
		obj, ok := val.(map[string]any)
		if !ok {
			v.mistyped(path, "a map")
			return
		}
		v.length(path, s, val, len(obj))
		for k, e := range obj {
			v.value(path+".key", s.Key.Shape, k)
			v.value(path+".value", s.Value.Shape, e)
		}
	case "string":
		str, ok := val.(string)
		if !ok {
			v.mistyped(path, "a string")
			return
		}
		v.string(path, s, str)
	case "integer", "long", "float", "double":
		if str, isString := val.(string); isString && (s.Type == "float" || s.Type == "double") &&
			(str == "NaN" || str == "Infinity" || str == "-Infinity") {
			return // Smithy's JSON form of a non-finite double: the service decides
		}
		n, ok := val.(json.Number)
		if !ok {
			v.mistyped(path, "a number")
			return
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) {
			v.mistyped(path, "a number")
			return
		}
		if (s.Type == "integer" || s.Type == "long") && f != math.Trunc(f) {
			v.mistyped(path, "an integer")
			return
		}
		if s.Type == "integer" && (f > math.MaxInt32 || f < math.MinInt32) {
			v.mistyped(path, "a 32-bit integer")
			return
		}
		if s.Min != nil && f < *s.Min {
			v.fail(path, val, "Member must have value greater than or equal to "+num(*s.Min))
		}
		if s.Max != nil && f > *s.Max {
			v.fail(path, val, "Member must have value less than or equal to "+num(*s.Max))
		}
	case "boolean":
		if _, ok := val.(bool); !ok {
			v.mistyped(path, "a boolean")
		}
	case "timestamp":
		switch val.(type) {
		case json.Number, string:
		default:
			v.mistyped(path, "a timestamp")
		}
	case "blob":
		if _, ok := val.(string); !ok {
			v.mistyped(path, "a base64 string")
		}
	}
}

// string checks a string's length, pattern and enum.
func (v *validator) string(path string, s *Shape, str string) {
	// The value is boxed for the message only when it fails.
	if n := utf8.RuneCountInString(str); s.Min != nil && float64(n) < *s.Min || s.Max != nil && float64(n) > *s.Max {
		v.length(path, s, str, n)
	}
	if s.Pattern != "" {
		if re := v.m.pattern(s.Pattern); re != nil && !re.MatchString(str) {
			v.fail(path, str, "Member must satisfy regular expression pattern: "+s.Pattern)
		}
	}
	if len(s.Enum) > 0 && !contains(s.Enum, str) {
		v.fail(path, str, "Member must satisfy enum value set: ["+strings.Join(s.Enum, ", ")+"]")
	}
}

func (v *validator) length(path string, s *Shape, val any, n int) {
	if s.Min != nil && float64(n) < *s.Min {
		v.fail(path, val, "Member must have length greater than or equal to "+num(*s.Min))
	}
	if s.Max != nil && float64(n) > *s.Max {
		v.fail(path, val, "Member must have length less than or equal to "+num(*s.Max))
	}
}

func num(f float64) string { return fmt.Sprintf("%g", f) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
