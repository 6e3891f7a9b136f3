// Package awsjson is the wire codec of AWS's JSON protocols (awsJson1_0,
// awsJson1_1, and the JSON bodies of restJson1): timestamps as epoch
// seconds, errors as {"__type", "message"} with X-Amzn-ErrorType; and
// Service, the one dispatcher of the awsJson services.
package awsjson

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/api/awsmodel"
)

// Time is a timestamp that travels as epoch seconds with a fraction.
type Time time.Time

// T converts a time for the wire; the zero time stays zero (omitted with omitempty pointers).
func T(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	x := Time(t)
	return &x
}

func (t Time) MarshalJSON() ([]byte, error) {
	sec := float64(time.Time(t).UnixNano()) / 1e9
	return strconv.AppendFloat(nil, math.Round(sec*1000)/1000, 'f', -1, 64), nil
}

func (t *Time) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		sec, frac := math.Modf(f)
		*t = Time(time.Unix(int64(sec), int64(frac*1e9)).UTC())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	parsed, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = Time(parsed)
	return nil
}

// Double is a double that may be non-finite: AWS's JSON protocols (Smithy)
// send Infinity, -Infinity and NaN as the strings "Infinity", "-Infinity"
// and "NaN"; encoding/json would refuse to encode them at all.
type Double float64

func (d Double) MarshalJSON() ([]byte, error) {
	f := float64(d)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or one of the three strings.
func (d *Double) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*d = Double(math.NaN())
	case `"Infinity"`:
		*d = Double(math.Inf(1))
	case `"-Infinity"`:
		*d = Double(math.Inf(-1))
	default:
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return fmt.Errorf("%s is not a number", b)
		}
		*d = Double(f)
	}
	return nil
}

// String writes the value as AWS's messages do: NaN, Infinity, -Infinity,
// or the number.
func (d Double) String() string {
	if b, _ := d.MarshalJSON(); b[0] == '"' {
		return string(b[1 : len(b)-1])
	}
	return strconv.FormatFloat(float64(d), 'g', -1, 64)
}

// NonFinite is the JSON string Smithy's JSON protocols use for a
// non-finite double, and ok false for a finite one.
func NonFinite(f float64) (s string, ok bool) {
	switch {
	case math.IsNaN(f):
		return "NaN", true
	case math.IsInf(f, 1):
		return "Infinity", true
	case math.IsInf(f, -1):
		return "-Infinity", true
	}
	return "", false
}

// Ptr returns the time, or nil for a nil pointer.
func (t *Time) Ptr() *time.Time {
	if t == nil {
		return nil
	}
	x := time.Time(*t)
	return &x
}

// Write answers with a JSON document.
func Write(w http.ResponseWriter, contentType string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, contentType, awserr.Internal(err))
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// WriteError answers with an AWS JSON error.
func WriteError(w http.ResponseWriter, contentType string, e *awserr.Error) {
	body := map[string]any{"__type": e.Code, "message": e.Message}
	for k, v := range e.Fields {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	if q := e.QueryErrorHeader(); q != "" {
		w.Header().Set("X-Amzn-Query-Error", q)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	w.Write(b)
}

// Op is one operation of an awsJson service: a validated request body in,
// the answer (encoded as JSON) or an error out.
type Op func(ctx context.Context, body []byte) (any, error)

// Service is an awsJson service (SageMaker, Application Auto Scaling):
// operations told apart by X-Amz-Target, requests validated against the
// service model (unknown members dropped) before any operation runs, errors
// mapped by the service's table.
type Service struct {
	ContentType  string
	TargetPrefix string
	Model        *awsmodel.Model
	Ops          map[string]Op
	Errors       awserr.Table
}

// Serve runs operation name with a request body already read and
// authenticated.
func (s *Service) Serve(w http.ResponseWriter, r *http.Request, name string, body []byte) {
	out, err := s.Call(r.Context(), name, body)
	if err != nil {
		WriteError(w, s.ContentType, err)
		return
	}
	Write(w, s.ContentType, http.StatusOK, out)
}

// Call runs operation name on a request body as Serve does, without HTTP
// (ebb simulate drives Application Auto Scaling with it): the body is
// validated against the model and an error is the service's, as the
// client would read it.
func (s *Service) Call(ctx context.Context, name string, body []byte) (any, *awserr.Error) {
	fn, ok := s.Ops[name]
	if !ok {
		return nil, awserr.UnknownOperation(s.TargetPrefix + name)
	}
	body, err := s.Model.Clean(name, body)
	if err != nil {
		return nil, s.Errors.Map(err)
	}
	out, err := fn(ctx, body)
	if err != nil {
		return nil, s.Errors.Map(err)
	}
	return out, nil
}
