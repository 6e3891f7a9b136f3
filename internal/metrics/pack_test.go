package metrics

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// TestPackedDist: a packed distribution answers as the live one did, is
// stored the same, takes values again (live once more), and merges into
// another without sharing its sketch.
func TestPackedDist(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var live, packed dist
	for range 300 {
		v := 2000 + r.ExpFloat64()*8000
		live.add(v, 1)
		packed.add(v, 1)
	}
	packed.pack()
	if packed.more.sketch != nil || len(packed.more.packed) == 0 || len(packed.more.packed) > 1000 {
		t.Fatalf("packed: %d bytes, live sketch %v", len(packed.more.packed), packed.more.sketch != nil)
	}
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 1} {
		a, _ := live.quantile(q)
		b, _ := packed.quantile(q)
		if a != b {
			t.Fatalf("q%v: live %v, packed %v", q, a, b)
		}
	}
	var el, ep []byte
	live.encode(&el)
	packed.encode(&ep)
	if !bytes.Equal(el, ep) {
		t.Fatalf("stored forms differ: %d and %d bytes", len(el), len(ep))
	}
	var into, intoLive dist
	into.merge(packed)
	intoLive.merge(live)
	if into.sketched() == nil || into.sketched().GetCount() != intoLive.sketched().GetCount() || packed.more.sketch != nil {
		t.Fatalf("merged from a packed dist: %v", into.sketched())
	}
	into.add(1e6, 1) // into's sketch is its own: packed's stays as it was
	if q, _ := packed.quantile(1); q > 1e5 {
		t.Fatalf("the packed dist changed through a merge: max %v", q)
	}
	packed.add(1e6, 1)
	live.add(1e6, 1)
	if packed.more.packed != nil || packed.sketched().GetCount() != live.sketched().GetCount() {
		t.Fatal("a value added to a packed dist")
	}
}

// TestCompactPacks: Compact packs the distributions of buckets older than
// PackAge and keeps the recent ones live; percentiles over the whole range
// are the same before and after; a late value lands in a packed bucket
// and is counted, and the next Compact packs it again.
func TestCompactPacks(t *testing.T) {
	s, _ := Open(nil)
	now := t0.Add(10 * time.Hour)
	r := rand.New(rand.NewPCG(5, 6))
	latency := Series{Namespace: "AWS/SageMaker", MetricName: "ModelLatency", Dimensions: []Dimension{{"EndpointName", "e"}}}
	for at := t0; at.Before(now); at = at.Add(10 * time.Second) {
		vals := make([]float64, 20)
		for i := range vals {
			vals[i] = 1000 + r.ExpFloat64()*5000
		}
		if err := s.Put([]Point{{Series: latency, Timestamp: at, Values: vals}}); err != nil {
			t.Fatal(err)
		}
	}
	query := func() []Datapoint {
		dps, err := s.Query(latency, "", t0, now, 5*time.Minute, []float64{0.5, 0.99}, now)
		if err != nil || len(dps) != 120 {
			t.Fatalf("%d datapoints, %v", len(dps), err)
		}
		return dps
	}
	before := query()
	if err := s.Compact(now); err != nil {
		t.Fatal(err)
	}
	tl := &s.series[latency.Normalize().ID()].units[0].buckets[2] // 60 s
	cutoff := now.Add(-PackAge).Unix()
	for i, start := range tl.starts {
		if m := tl.buckets[i].dist.more; (m.packed != nil) != (start < cutoff-59) || (m.sketch != nil) == (m.packed != nil) {
			t.Fatalf("bucket at %v: packed %v, live %v", time.Unix(start, 0).UTC(), m.packed != nil, m.sketch != nil)
		}
	}
	after := query()
	for i := range before {
		if before[i].Percentiles[0.5] != after[i].Percentiles[0.5] || before[i].Percentiles[0.99] != after[i].Percentiles[0.99] {
			t.Fatalf("%v: %v before packing, %v after", before[i].Timestamp, before[i].Percentiles, after[i].Percentiles)
		}
	}
	// A late value, into an old (packed) bucket.
	late := t0.Add(time.Hour + 30*time.Second)
	if err := s.Put([]Point{{Series: latency, Timestamp: late, Value: 1e7}}); err != nil {
		t.Fatal(err)
	}
	dps, _ := s.Query(latency, "", late.Truncate(time.Minute), late.Truncate(time.Minute).Add(time.Minute), time.Minute, []float64{1}, now)
	if len(dps) != 1 || dps[0].Percentiles[1] < 9e6 || dps[0].Stats.SampleCount != 121 {
		t.Fatalf("after a late value: %+v", dps)
	}
	s.Compact(now)
	if i, _ := tl.search(late.Truncate(time.Minute).Unix()); tl.buckets[i].dist.more.packed == nil {
		t.Fatal("the changed bucket was not packed again")
	}
}
