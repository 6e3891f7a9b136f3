package metrics

import (
	"math"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"
)

func TestParseStat(t *testing.T) {
	for s, want := range map[string]float64{"Average": -1, "SampleCount": -1, "p99": 0.99, "p99.9": 0.999, "p0": 0, "p100": 1, "p50.25": 0.5025} {
		got, err := ParseStat(s)
		if err != nil || got.Name != s || math.Abs(got.Quantile-want) > 1e-12 {
			t.Errorf("ParseStat(%q) = %+v, %v; want quantile %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "average", "p", "p101", "p99.999", "tm99", "IQM", "p-1", "p1e1"} {
		if _, err := ParseStat(s); err == nil {
			t.Errorf("ParseStat(%q) accepted", s)
		}
	}
	dp := Datapoint{Stats: StatSet{SampleCount: 4, Sum: 10, Minimum: 1, Maximum: 4}, Percentiles: map[float64]float64{0.5: 2.5}}
	for s, want := range map[string]float64{"SampleCount": 4, "Average": 2.5, "Sum": 10, "Minimum": 1, "Maximum": 4, "p50": 2.5} {
		st, _ := ParseStat(s)
		if v, ok := dp.Value(st); !ok || v != want {
			t.Errorf("Value(%s) = %v, %v; want %v", s, v, ok, want)
		}
	}
	p90, _ := ParseStat("p90")
	if _, ok := dp.Value(p90); ok {
		t.Error("a percentile the datapoint lacks has a value")
	}
}

// TestDistKeepsOneValueExactly: a bucket of equal values holds no sketch and
// answers its percentiles exactly; a different value, or a merge with
// another value, turns it into a sketch that still holds every value.
func TestDistKeepsOneValueExactly(t *testing.T) {
	var d dist
	if _, ok := d.quantile(0.5); ok {
		t.Fatal("an empty distribution has no percentile")
	}
	d.add(42.5, 3)
	d.add(42.5, 1)
	if v, ok := d.quantile(0.99); !ok || v != 42.5 || d.sketch != nil || d.count != 4 {
		t.Fatalf("one value: p99 %v %v, sketch %v, count %v", v, ok, d.sketch != nil, d.count)
	}
	var agg dist
	agg.merge(d)
	other := dist{}
	other.add(1000, 4)
	agg.merge(other)
	if agg.sketch == nil || agg.sketch.GetCount() != 8 {
		t.Fatalf("merged: %+v", agg)
	}
	if v, _ := agg.quantile(0.99); math.Abs(v-1000) > 10 {
		t.Fatalf("merged p99 %v, want 1000 within 1%%", v)
	}
	if v, _ := agg.quantile(0.25); math.Abs(v-42.5) > 0.5 {
		t.Fatalf("merged p25 %v, want 42.5 within 1%%", v)
	}
	if d.sketch != nil || other.sketch != nil {
		t.Fatal("merging changed its inputs")
	}
	// The stored form is a sketch either way.
	var b []byte
	d.encode(&b)
	sk, err := ddsketch.DecodeDDSketch(b, sketchStore, nil)
	if err != nil || sk.GetCount() != 4 {
		t.Fatalf("decoded %v, %v", sk, err)
	}
}
