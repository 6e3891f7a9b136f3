package jsonappend

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// TestAsEncodingJSON: every value is written byte for byte as json.Marshal
// writes it.
func TestAsEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "OK -> ALARM <b>&", "tab\tnew\nline", "naïve", "bad \xff utf-8", "line\u2028sep", "Threshold Crossed: 1 datapoint [5.0 (01/12/26 10:00:00)]"} {
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
	for _, f := range []float64{0, 1, -1, 0.5, 99.50160229693434, 1e-6, 9.99e-7, 1e-9, 1e20, 1e21, 1.5e300, -2.5e-8, math.SmallestNonzeroFloat64, math.MaxFloat64, 123456789} {
		want, _ := json.Marshal(f)
		if got := Float(nil, f); string(got) != string(want) {
			t.Errorf("Float(%v) = %s, want %s", f, got, want)
		}
	}
	for _, tm := range []time.Time{{}, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.FixedZone("x", 3600))} {
		want, _ := json.Marshal(tm)
		if got := Time(nil, tm); string(got) != string(want) {
			t.Errorf("Time(%v) = %s, want %s", tm, got, want)
		}
	}
	b := append(Field([]byte("{"), "a"), '1')
	b = append(Field(b, "b"), '2', '}')
	if string(b) != `{"a":1,"b":2}` {
		t.Errorf("fields: %s", b)
	}
}

func FuzzString(f *testing.F) {
	f.Add("OK -> ALARM")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			t.Fatalf("String(%q) = %s, want %s", s, got, want)
		}
	})
}
