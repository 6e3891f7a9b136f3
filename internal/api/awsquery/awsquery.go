// Package awsquery is the wire codec of the AWS query protocol (form-encoded
// requests, XML responses), used by older clients of CloudWatch such as
// Debian's boto3 1.26 and AWS CLI 2.9.
//
// Requests are turned into the JSON document the same operation takes over
// awsJson, guided by the service model's input shape (lists are
// "Name.member.N", maps "Name.entry.N.key"/".value", timestamps ISO 8601), so
// one implementation of each operation serves every protocol. Responses go
// the other way: the JSON answer is written as XML by the output shape.
package awsquery

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/api/awsmodel"
)

// ContentType of requests.
const ContentType = "application/x-www-form-urlencoded"

// Decode turns the form of op into its awsJson request document.
func Decode(m *awsmodel.Model, op string, form url.Values) ([]byte, error) {
	o, ok := m.Operations[op]
	if !ok {
		return nil, awsmodel.ErrUnknownOperation
	}
	doc := map[string]any{}
	if o.Input != nil {
		d := decoder{m: m, form: form}
		v, _, err := d.value(o.Input.Shape, "")
		if err != nil {
			return nil, err
		}
		if v != nil {
			doc = v.(map[string]any)
		}
	}
	return json.Marshal(doc)
}

type decoder struct {
	m    *awsmodel.Model
	form url.Values
}

// value decodes the value of shape at key; ok reports whether any of it was present.
func (d decoder) value(shape, key string) (any, bool, error) {
	s := d.m.Shapes[shape]
	switch s.Type {
	case "structure":
		out := map[string]any{}
		prefix := key
		if prefix != "" {
			prefix += "."
		}
		for name, ref := range s.Members {
			v, ok, err := d.value(ref.Shape, prefix+name)
			if err != nil {
				return nil, false, err
			}
			if ok {
				out[name] = v
			}
		}
		return out, len(out) > 0, nil
	case "list":
		if vs, ok := d.form[key]; ok && len(vs) == 1 && vs[0] == "" {
			return []any{}, true, nil // "Name=" is an empty list
		}
		var out []any
		for i := 1; ; i++ {
			elem := key + ".member." + strconv.Itoa(i)
			if s.Flattened {
				elem = key + "." + strconv.Itoa(i)
			}
			v, ok, err := d.value(s.Member.Shape, elem)
			if err != nil {
				return nil, false, err
			}
			if !ok {
				break
			}
			out = append(out, v)
		}
		return out, out != nil, nil
	case "map":
		out := map[string]any{}
		for i := 1; ; i++ {
			entry := key + ".entry." + strconv.Itoa(i)
			k, ok := d.form[entry+".key"]
			if !ok {
				break
			}
			if !utf8.ValidString(k[0]) {
				return nil, false, &awsmodel.SerializationError{Msg: fmt.Sprintf("Invalid UTF-8 string for parameter %s.key", entry)}
			}
			v, _, err := d.value(s.Value.Shape, entry+".value")
			if err != nil {
				return nil, false, err
			}
			out[k[0]] = v
		}
		return out, len(out) > 0, nil
	}
	vs, ok := d.form[key]
	if !ok {
		return nil, false, nil
	}
	raw := vs[0]
	bad := func(want string) (any, bool, error) {
		return nil, false, &awsmodel.SerializationError{Msg: fmt.Sprintf("Invalid %s for parameter %s: %q", want, key, raw)}
	}
	switch s.Type {
	case "integer", "long":
		if _, err := strconv.ParseInt(raw, 10, 64); err != nil {
			return bad("integer")
		}
		return json.Number(raw), true, nil
	case "double", "float":
		f, err := strconv.ParseFloat(raw, 64)
		if str, nonFinite := awsjson.NonFinite(f); err == nil && nonFinite {
			return str, true, nil // as the JSON protocols send it; the service decides
		}
		if err != nil {
			return bad("number")
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true, nil
	case "boolean":
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return bad("boolean")
		}
		return b, true, nil
	case "timestamp":
		t, err := ParseTime(raw)
		if err != nil {
			return bad("timestamp")
		}
		return json.Number(strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64)), true, nil
	}
	if !utf8.ValidString(raw) { // a form is percent-encoded UTF-8
		return bad("UTF-8 string")
	}
	return raw, true, nil
}

// ParseTime reads an ISO 8601 timestamp (or epoch seconds).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("not a timestamp: %q", s)
}

// Encode writes the XML response of op from its awsJson answer.
func Encode(m *awsmodel.Model, namespace, op string, answer []byte, requestID string) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `<%sResponse xmlns="%s">`, op, namespace)
	o := m.Operations[op]
	if o.Output != nil {
		dec := json.NewDecoder(strings.NewReader(string(answer)))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			return nil, err
		}
		wrapper := o.Output.ResultWrapper
		if wrapper == "" {
			wrapper = op + "Result"
		}
		b.WriteString("<" + wrapper + ">")
		writeValue(&b, m, o.Output.Shape, doc)
		b.WriteString("</" + wrapper + ">")
	}
	fmt.Fprintf(&b, `<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`, requestID, op)
	return []byte(b.String()), nil
}

func writeValue(b *strings.Builder, m *awsmodel.Model, shape string, v any) {
	s := m.Shapes[shape]
	switch s.Type {
	case "structure":
		obj, _ := v.(map[string]any)
		names := make([]string, 0, len(obj))
		for name := range obj {
			if _, ok := s.Members[name]; ok && obj[name] != nil {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			b.WriteString("<" + name + ">")
			writeValue(b, m, s.Members[name].Shape, obj[name])
			b.WriteString("</" + name + ">")
		}
	case "list":
		list, _ := v.([]any)
		for _, e := range list {
			b.WriteString("<member>")
			writeValue(b, m, s.Member.Shape, e)
			b.WriteString("</member>")
		}
	case "map":
		obj, _ := v.(map[string]any)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b.WriteString("<entry><key>")
			xml.EscapeText(b, []byte(k))
			b.WriteString("</key><value>")
			writeValue(b, m, s.Value.Shape, obj[k])
			b.WriteString("</value></entry>")
		}
	case "timestamp":
		if n, ok := v.(json.Number); ok {
			f, _ := n.Float64()
			sec, frac := math.Modf(f)
			b.WriteString(time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6).UTC().Format("2006-01-02T15:04:05.000Z"))
		}
	default:
		xml.EscapeText(b, []byte(fmt.Sprint(v)))
	}
}

// EncodeError writes an awsQuery error document.
func EncodeError(namespace, code, message string, sender bool, requestID string) []byte {
	typ := "Receiver"
	if sender {
		typ = "Sender"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>`, namespace, typ)
	xml.EscapeText(&b, []byte(code))
	b.WriteString("</Code><Message>")
	xml.EscapeText(&b, []byte(message))
	fmt.Fprintf(&b, "</Message></Error><RequestId>%s</RequestId></ErrorResponse>", requestID)
	return []byte(b.String())
}
