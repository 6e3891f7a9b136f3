// Package rpcv2cbor is the wire codec of Smithy RPC v2 CBOR, the protocol
// current AWS SDKs for Go use for CloudWatch. Like awsquery it converts to and
// from the awsJson document of the operation, guided by the service model:
// timestamps travel as CBOR tag 1 (epoch seconds), integers as CBOR integers.
package rpcv2cbor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/api/awsmodel"
)

// ContentType of requests and responses.
const ContentType = "application/cbor"

var (
	decMode, _ = cbor.DecOptions{
		DefaultMapType:   nil,
		MaxNestedLevels:  64,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
		TimeTag:          cbor.DecTagOptional,
	}.DecMode()
	encMode, _ = cbor.EncOptions{Time: cbor.TimeUnixDynamic, TimeTag: cbor.EncTagRequired}.EncMode()
)

// Decode turns a CBOR request body of op into its awsJson document.
func Decode(m *awsmodel.Model, op string, body []byte) ([]byte, error) {
	o, ok := m.Operations[op]
	if !ok {
		return nil, awsmodel.ErrUnknownOperation
	}
	if len(bytes.TrimSpace(body)) == 0 || o.Input == nil {
		return []byte("{}"), nil
	}
	var raw any
	if err := decMode.Unmarshal(body, &raw); err != nil {
		return nil, &awsmodel.SerializationError{Msg: "Invalid CBOR request body: " + err.Error()}
	}
	doc, err := toJSON(m, o.Input.Shape, raw, "")
	if err != nil {
		return nil, err
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, &awsmodel.SerializationError{Msg: "Request body must be a CBOR map"}
	}
	return json.Marshal(doc)
}

func toJSON(m *awsmodel.Model, shape string, v any, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	s := m.Shapes[shape]
	bad := func(want string) (any, error) {
		return nil, &awsmodel.SerializationError{Msg: fmt.Sprintf("Expected %s at '%s'", want, path)}
	}
	switch s.Type {
	case "structure", "map":
		in, ok := v.(map[any]any)
		if !ok {
			return bad("a map")
		}
		out := make(map[string]any, len(in))
		for k, x := range in {
			ks, ok := k.(string)
			if !ok {
				return bad("string keys")
			}
			var ref string
			if s.Type == "map" {
				ref = s.Value.Shape
			} else if r, ok := s.Members[ks]; ok {
				ref = r.Shape
			} else {
				continue // unknown members are ignored
			}
			conv, err := toJSON(m, ref, x, path+"."+ks)
			if err != nil {
				return nil, err
			}
			if conv != nil {
				out[ks] = conv
			}
		}
		return out, nil
	case "list":
		in, ok := v.([]any)
		if !ok {
			return bad("a list")
		}
		out := make([]any, 0, len(in))
		for i, x := range in {
			conv, err := toJSON(m, s.Member.Shape, x, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out = append(out, conv)
		}
		return out, nil
	case "timestamp":
		switch t := v.(type) {
		case time.Time:
			return json.Number(strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64)), nil
		case cbor.Tag:
			if t.Number == 1 {
				if f, ok := number(t.Content); ok {
					return json.Number(strconv.FormatFloat(f, 'f', -1, 64)), nil
				}
			}
		}
		if f, ok := number(v); ok {
			return json.Number(strconv.FormatFloat(f, 'f', -1, 64)), nil
		}
		return bad("a timestamp")
	case "integer", "long", "double", "float":
		f, ok := number(v)
		if str, nonFinite := awsjson.NonFinite(f); ok && nonFinite && (s.Type == "double" || s.Type == "float") {
			return str, nil // as the JSON protocols send it; the service decides
		}
		if !ok || math.IsInf(f, 0) || math.IsNaN(f) {
			return bad("a number")
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	case "boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return bad("a boolean")
	case "string":
		if str, ok := v.(string); ok {
			return str, nil
		}
		return bad("a string")
	}
	return v, nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case uint64:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	}
	return 0, false
}

// Encode writes the CBOR response of op from its awsJson answer.
func Encode(m *awsmodel.Model, op string, answer []byte) ([]byte, error) {
	o := m.Operations[op]
	if o.Output == nil {
		return encMode.Marshal(map[string]any{})
	}
	dec := json.NewDecoder(bytes.NewReader(answer))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	return encMode.Marshal(fromJSON(m, o.Output.Shape, doc))
}

func fromJSON(m *awsmodel.Model, shape string, v any) any {
	s := m.Shapes[shape]
	switch s.Type {
	case "structure", "map":
		in, _ := v.(map[string]any)
		out := make(map[string]any, len(in))
		for k, x := range in {
			if x == nil {
				continue
			}
			if s.Type == "map" {
				out[k] = fromJSON(m, s.Value.Shape, x)
			} else if r, ok := s.Members[k]; ok {
				out[k] = fromJSON(m, r.Shape, x)
			}
		}
		return out
	case "list":
		in, _ := v.([]any)
		out := make([]any, len(in))
		for i, x := range in {
			out[i] = fromJSON(m, s.Member.Shape, x)
		}
		return out
	case "timestamp":
		n, _ := v.(json.Number)
		f, _ := n.Float64()
		return cbor.Tag{Number: 1, Content: f}
	case "integer", "long":
		n, _ := v.(json.Number)
		i, err := n.Int64()
		if err != nil {
			f, _ := n.Float64()
			return f
		}
		return i
	case "double", "float":
		if str, ok := v.(string); ok {
			// The JSON forms of non-finite doubles (Smithy's); CBOR
			// carries them natively.
			switch str {
			case "Infinity":
				return math.Inf(1)
			case "-Infinity":
				return math.Inf(-1)
			}
			return math.NaN()
		}
		n, _ := v.(json.Number)
		f, _ := n.Float64()
		return f
	}
	return v
}

// EncodeError writes an RPC v2 CBOR error body.
func EncodeError(typ, message string) []byte {
	b, _ := encMode.Marshal(map[string]any{"__type": typ, "message": message})
	return b
}
