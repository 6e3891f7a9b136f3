package metrics

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestTimelineKeepsOrder: buckets added out of order are found and read in
// time order, and dropping the old ones keeps the rest.
func TestTimelineKeepsOrder(t *testing.T) {
	var tl timeline
	for _, start := range []int64{120, 60, 300, 180, 60, 0} {
		tl.add(start).stats.Add(float64(start), 1)
	}
	if want := []int64{0, 60, 120, 180, 300}; !slices.Equal(tl.starts, want) {
		t.Fatalf("starts %v, want %v", tl.starts, want)
	}
	if b := tl.get(60); b == nil || b.stats.SampleCount != 2 {
		t.Fatalf("bucket 60: %+v", b)
	}
	if tl.get(240) != nil || tl.from(200) != 4 || tl.from(400) != 5 {
		t.Fatal("a missing bucket found")
	}
	tl.dropBefore(121)
	if want := []int64{180, 300}; !slices.Equal(tl.starts, want) || tl.buckets[0].stats.Sum != 180 {
		t.Fatalf("after dropping: %v %+v", tl.starts, tl.buckets)
	}
}

// TestQueryMergesOutOfOrderPoints: points that arrive late land in their
// periods, and periods without data are left out.
func TestQueryMergesOutOfOrderPoints(t *testing.T) {
	s, _ := Open(nil)
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	key := Series{Namespace: "N", MetricName: "M"}
	var pts []Point
	for _, m := range []int{9, 1, 0, 4, 5, 1} { // minutes, out of order, one twice
		pts = append(pts, Point{Series: key, Timestamp: base.Add(time.Duration(m)*time.Minute + 10*time.Second), Value: float64(m)})
	}
	s.Put(pts)
	dps, err := s.Query(key, "", base, base.Add(10*time.Minute), 5*time.Minute, nil, base.Add(time.Hour))
	if err != nil || len(dps) != 2 {
		t.Fatalf("5-minute periods: %+v, %v", dps, err)
	}
	if dps[0].Stats.SampleCount != 4 || dps[0].Stats.Sum != 6 || dps[1].Stats.SampleCount != 2 || dps[1].Stats.Sum != 14 {
		t.Fatalf("5-minute periods: %+v", dps)
	}
	dps, _ = s.Query(key, "", base, base.Add(10*time.Minute), time.Minute, nil, base.Add(time.Hour))
	var mins []int
	for _, dp := range dps {
		mins = append(mins, int(dp.Timestamp.Sub(base)/time.Minute))
	}
	if want := []int{0, 1, 4, 5, 9}; !slices.Equal(mins, want) || dps[1].Stats.SampleCount != 2 {
		t.Fatalf("1-minute periods at %v, want %v (%+v)", mins, want, dps)
	}
}

// TestTimelineSearch: the guess from the last bucket's distance finds what
// a binary search finds, on regular timelines, ones with gaps and ones
// with buckets between the steps.
func TestTimelineSearch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		var tl timeline
		at := int64(r.IntN(1000))
		for range 1 + r.IntN(40) {
			tl.starts = append(tl.starts, at)
			at += []int64{60, 60, 60, 120, 1, 600}[r.IntN(6)]
		}
		tl.buckets = make([]bucket, len(tl.starts))
		for probe := tl.starts[0] - 70; probe <= at+70; probe++ {
			i, ok := tl.search(probe)
			wi, wok := slices.BinarySearch(tl.starts, probe)
			if i != wi || ok != wok {
				t.Fatalf("search(%d) in %v = %d, %v; want %d, %v", probe, tl.starts, i, ok, wi, wok)
			}
		}
	}
}
