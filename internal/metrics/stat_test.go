package metrics

import (
	"math"
	"testing"
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
