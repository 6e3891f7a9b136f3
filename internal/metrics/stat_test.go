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
	if v, ok := d.quantile(0.99); !ok || v != 42.5 || d.more != nil || d.count != 4 {
		t.Fatalf("one value: p99 %v %v, more %v, count %v", v, ok, d.more, d.count)
	}
	var agg dist
	agg.merge(d)
	other := dist{}
	other.add(1000, 4)
	agg.merge(other)
	if agg.sketched() != nil {
		t.Fatalf("two values were sketched: %+v", agg)
	}
	if v, _ := agg.quantile(0.99); v != 1000 {
		t.Fatalf("merged p99 %v, want 1000 exactly", v)
	}
	if v, _ := agg.quantile(0.25); v != 42.5 {
		t.Fatalf("merged p25 %v, want 42.5 exactly", v)
	}
	if d.more != nil || other.more != nil {
		t.Fatal("merging changed its inputs")
	}
	// The stored form is a sketch either way.
	for x, count := range map[*dist]float64{&d: 4, &agg: 8} {
		var b []byte
		x.encode(&b)
		sk, err := ddsketch.DecodeDDSketch(b, sketchStore, nil)
		if err != nil || sk.GetCount() != count {
			t.Fatalf("decoded %v, %v; want %v values", sk, err, count)
		}
	}
}

// TestDistExactThenSketched: up to maxExact distinct values a distribution
// answers percentiles exactly, with DDSketch's rank; beyond, a sketch holds
// every value and answers within its 1%; merges and the stored form keep
// every count.
func TestDistExactThenSketched(t *testing.T) {
	var d dist
	ref := newSketch()
	add := func(v, c float64) {
		d.add(v, c)
		ref.AddWithCount(v, c)
	}
	for i, v := range []float64{5, 1, 3, 1, 9, -2, 0, 7} { // seven distinct values
		add(v, float64(i+1))
	}
	if d.sketched() != nil {
		t.Fatal("seven distinct values were sketched")
	}
	for _, q := range []float64{0, 0.1, 0.25, 0.5, 0.9, 0.99, 1} {
		got, _ := d.quantile(q)
		want, _ := ref.GetValueAtQuantile(q)
		if math.Abs(got-want) > 0.01*math.Abs(want)+1e-9 {
			t.Errorf("p%v = %v, the sketch says %v", q*100, got, want)
		}
	}
	add(11, 2) // the eighth distinct value: still exact
	add(12, 1) // the ninth: a sketch
	if d.sketched() == nil || d.sketched().GetCount() != ref.GetCount() {
		t.Fatalf("after nine distinct values: %+v", d)
	}
	var agg dist
	agg.merge(d)
	agg.merge(d)
	if agg.sketched() == nil || agg.sketched().GetCount() != 2*ref.GetCount() || agg.sketched() == d.sketched() {
		t.Fatalf("merged twice: %+v", agg)
	}
	for _, q := range []float64{0.1, 0.5, 0.9} {
		got, _ := d.quantile(q)
		want, _ := ref.GetValueAtQuantile(q)
		if got != want {
			t.Errorf("sketched p%v = %v, the same sketch says %v", q*100, got, want)
		}
	}
}

// sketched is the dist's sketch, for the tests.
func (d *dist) sketched() *ddsketch.DDSketch {
	sk, _ := d.sketch()
	return sk
}
