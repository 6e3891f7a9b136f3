package metrics

import (
	"errors"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

var inv = Series{Namespace: "AWS/SageMaker", MetricName: "Invocations", Dimensions: []Dimension{{"VariantName", "v"}, {"EndpointName", "e"}}}

func TestQueryPeriodsAndStatistics(t *testing.T) {
	s, _ := Open(nil)
	// 1..120 over two minutes, one value per second.
	var pts []Point
	for i := 0; i < 120; i++ {
		pts = append(pts, Point{Series: inv, Unit: "Count", Timestamp: t0.Add(time.Duration(i) * time.Second), Value: float64(i + 1)})
	}
	if err := s.Put(pts); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(5 * time.Minute)
	// Dimension order does not matter.
	key := Series{Namespace: "AWS/SageMaker", MetricName: "Invocations", Dimensions: []Dimension{{"EndpointName", "e"}, {"VariantName", "v"}}}
	dps, err := s.Query(key, "", t0, t0.Add(2*time.Minute), time.Minute, []float64{0.5, 0.99}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(dps) != 2 {
		t.Fatalf("%d datapoints, want 2", len(dps))
	}
	first := dps[0].Stats
	if first.SampleCount != 60 || first.Sum != 1830 || first.Minimum != 1 || first.Maximum != 60 || first.Average() != 30.5 {
		t.Fatalf("first minute = %+v", first)
	}
	if p50 := dps[0].Percentiles[0.5]; math.Abs(p50-30) > 1 {
		t.Errorf("p50 = %v, want ~30", p50)
	}
	if p99 := dps[1].Percentiles[0.99]; math.Abs(p99-119.4) > 2.5 { // 1% sketch accuracy
		t.Errorf("p99 = %v, want ~119.4", p99)
	}
	if dps[0].Unit != "Count" || !dps[1].Timestamp.Equal(t0.Add(time.Minute)) {
		t.Errorf("unit %q, second timestamp %v", dps[0].Unit, dps[1].Timestamp)
	}
	// High-resolution periods come from the 1-second buckets.
	dps, _ = s.Query(inv, "", t0, t0.Add(30*time.Second), 10*time.Second, nil, now)
	if len(dps) != 3 || dps[1].Stats.Sum != 11+12+13+14+15+16+17+18+19+20 {
		t.Fatalf("10 s periods: %+v", dps)
	}
	// A start inside a minute is rounded down to it, as CloudWatch does.
	dps, _ = s.Query(inv, "", t0.Add(5*time.Second), t0.Add(2*time.Minute), time.Minute, nil, now)
	if len(dps) != 2 || !dps[0].Timestamp.Equal(t0) || dps[0].Stats.SampleCount != 60 {
		t.Fatalf("unaligned start: %+v", dps)
	}
	// Periods follow on from the start, whatever their length.
	dps, _ = s.Query(inv, "", t0, t0.Add(2*time.Minute), 120*time.Second, nil, now)
	if len(dps) != 1 || dps[0].Stats.SampleCount != 120 {
		t.Fatalf("one 120 s period: %+v", dps)
	}
	if _, err := s.Query(inv, "", t0, now, 7*time.Second, nil, now); err != ErrPeriod {
		t.Fatalf("period 7: %v", err)
	}
}

func TestStatisticSets(t *testing.T) {
	s, _ := Open(nil)
	s.Put([]Point{
		{Series: inv, Timestamp: t0, Set: &StatSet{SampleCount: 4, Sum: 10, Minimum: 1, Maximum: 4}},
		{Series: inv, Timestamp: t0.Add(time.Second), Value: 10, Count: 2},
	})
	dps, _ := s.Query(inv, "", t0, t0.Add(time.Minute), time.Minute, []float64{0.5}, t0)
	got := dps[0].Stats
	if got.SampleCount != 6 || got.Sum != 30 || got.Minimum != 1 || got.Maximum != 10 {
		t.Fatalf("merged = %+v", got)
	}
}

func TestRetention(t *testing.T) {
	s, _ := Open(nil)
	s.Put([]Point{{Series: inv, Timestamp: t0, Value: 1}})
	// After 3 hours the 1-second data is gone, the 1-minute data is not.
	later := t0.Add(3*time.Hour + time.Minute)
	s.Compact(later)
	if dps, _ := s.Query(inv, "", t0, t0.Add(time.Minute), time.Second, nil, later); len(dps) != 0 {
		t.Fatalf("1 s data survived 3 h: %+v", dps)
	}
	if dps, _ := s.Query(inv, "", t0, t0.Add(time.Minute), time.Minute, nil, later); len(dps) != 1 {
		t.Fatal("1 min data lost before 15 days")
	}
	// After 15 days only 5-minute and hourly data remain.
	later = t0.Add(16 * 24 * time.Hour)
	s.Compact(later)
	if dps, _ := s.Query(inv, "", t0, t0.Add(time.Hour), 5*time.Minute, nil, later); len(dps) != 1 {
		t.Fatal("5 min data lost before 63 days")
	}
	s.Compact(t0.Add(456 * 24 * time.Hour))
	if s.Len() != 0 {
		t.Fatalf("%d series left after every retention passed", s.Len())
	}
}

type memPersister struct {
	mu      sync.Mutex
	buckets map[string]PersistedBucket
}

func (m *memPersister) SaveBuckets(bs []PersistedBucket) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range bs {
		m.buckets[b.Series.ID()+"/"+b.Unit+"/"+time.Unix(b.Start, 0).String()+"/"+string(rune(b.Step))] = b
	}
	return nil
}

func (m *memPersister) PruneBuckets(step, before int64) error { return nil }

func (m *memPersister) LoadBuckets(f func(PersistedBucket) error) error {
	for _, b := range m.buckets {
		if err := f(b); err != nil {
			return err
		}
	}
	return nil
}

func TestPersistence(t *testing.T) {
	p := &memPersister{buckets: map[string]PersistedBucket{}}
	s, _ := Open(p)
	for i := range 100 {
		s.Put([]Point{{Series: inv, Unit: "Microseconds", Timestamp: t0.Add(time.Duration(i) * 100 * time.Millisecond), Value: float64(i)}})
	}
	again, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Query(inv, "", t0, t0.Add(time.Minute), time.Minute, []float64{0.9}, t0)
	b, _ := again.Query(inv, "", t0, t0.Add(time.Minute), time.Minute, []float64{0.9}, t0)
	if len(b) != 1 || a[0].Stats != b[0].Stats || a[0].Percentiles[0.9] != b[0].Percentiles[0.9] || b[0].Unit != "Microseconds" {
		t.Fatalf("before %+v, after reload %+v", a, b)
	}
}

func TestList(t *testing.T) {
	s, _ := Open(nil)
	lat := Series{Namespace: "AWS/SageMaker", MetricName: "ModelLatency", Dimensions: inv.Dimensions}
	cpu := Series{Namespace: "/aws/sagemaker/Endpoints", MetricName: "CPUUtilization", Dimensions: inv.Dimensions}
	s.Put([]Point{{Series: inv, Timestamp: t0, Value: 1}, {Series: lat, Timestamp: t0, Value: 1}, {Series: cpu, Timestamp: t0, Value: 1}})
	since := t0.Add(-14 * 24 * time.Hour)
	if got := s.List("AWS/SageMaker", "", nil, since); len(got) != 2 {
		t.Fatalf("namespace filter: %v", got)
	}
	if got := s.List("", "", []Dimension{{Name: "EndpointName"}}, since); len(got) != 3 {
		t.Fatalf("dimension name filter: %v", got)
	}
	if got := s.List("", "", []Dimension{{"EndpointName", "other"}}, since); len(got) != 0 {
		t.Fatalf("dimension value filter: %v", got)
	}
	if got := s.List("", "", nil, t0.Add(time.Minute)); len(got) != 0 {
		t.Fatalf("metrics without data for 2 weeks are listed: %v", got)
	}
}

func BenchmarkPut(b *testing.B) {
	s, _ := Open(nil)
	pts := make([]Point, 100)
	for i := range pts {
		pts[i] = Point{Series: inv, Value: float64(i)}
	}
	i := 0
	for b.Loop() {
		for j := range pts {
			pts[j].Timestamp = t0.Add(time.Duration(i) * time.Second)
		}
		i++
		s.Put(pts)
	}
	b.ReportMetric(float64(b.N*len(pts))/b.Elapsed().Seconds(), "datapoints/s")
}

func BenchmarkQuery3HoursOf1s(b *testing.B) {
	s, _ := Open(nil)
	var pts []Point
	for i := 0; i < 3*3600; i++ {
		pts = append(pts, Point{Series: inv, Timestamp: t0.Add(time.Duration(i) * time.Second), Value: float64(i % 100)})
	}
	s.Put(pts)
	now := t0.Add(3 * time.Hour)
	for b.Loop() {
		s.Query(inv, "", t0, now, time.Second, nil, now)
	}
}

// BenchmarkMemoryPerSeries reports the memory one busy series holds at
// steady state: a value every second for the full 3-hour window of 1-second
// data (older resolutions hold far fewer buckets).
func BenchmarkMemoryPerSeries(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, _ := Open(nil)
		const series = 10
		for k := range series {
			key := Series{Namespace: "AWS/SageMaker", MetricName: "ModelLatency", Dimensions: []Dimension{{"EndpointName", strconv.Itoa(k)}}}
			pts := make([]Point, 0, 3*3600)
			for i := 0; i < 3*3600; i++ {
				pts = append(pts, Point{Series: key, Timestamp: t0.Add(time.Duration(i) * time.Second), Values: []float64{float64(i % 1000), float64(i % 77)}})
			}
			s.Put(pts)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/series/1e6, "MB/series")
		runtime.KeepAlive(s)
	}
}

// failingPersister fails its next fail saves.
type failingPersister struct {
	memPersister
	fail int
}

func (f *failingPersister) SaveBuckets(bs []PersistedBucket) error {
	if f.fail > 0 {
		f.fail--
		return errors.New("database gone")
	}
	return f.memPersister.SaveBuckets(bs)
}

// TestPutFailedStoresNothing: a Put whose save fails leaves memory as it
// was (PutMetricData answers 503 and the SDK's retry must count once); the
// retry then stores the points once, in memory and saved alike.
func TestPutFailedStoresNothing(t *testing.T) {
	p := &failingPersister{memPersister: memPersister{buckets: map[string]PersistedBucket{}}}
	s, _ := Open(p)
	if err := s.Put([]Point{{Series: inv, Timestamp: t0, Value: 1}}); err != nil {
		t.Fatal(err)
	}
	p.fail = 1
	pts := []Point{{Series: inv, Timestamp: t0, Values: []float64{2, 3, 4, 5, 6, 7, 8, 9, 10}}, {Series: inv, Unit: "Seconds", Timestamp: t0, Value: 4}}
	if err := s.Put(pts); err == nil {
		t.Fatal("a failed save was not reported")
	}
	if got, _ := s.Query(inv, "", t0, t0.Add(time.Hour), time.Hour, nil, t0); len(got) != 1 || got[0].Stats.SampleCount != 1 {
		t.Fatalf("after a failed Put, memory holds %+v, want the first point only", got)
	}
	if err := s.Put(pts); err != nil {
		t.Fatal(err)
	}
	again, _ := Open(&p.memPersister)
	for _, unit := range []string{"None", "Seconds"} {
		a, _ := s.Query(inv, unit, t0, t0.Add(time.Hour), time.Hour, []float64{0.5}, t0)
		b, _ := again.Query(inv, unit, t0, t0.Add(time.Hour), time.Hour, []float64{0.5}, t0)
		if len(a) != 1 || len(b) != 1 || a[0].Stats != b[0].Stats || math.Abs(a[0].Percentiles[0.5]/b[0].Percentiles[0.5]-1) > 0.02 {
			t.Fatalf("%s: in memory %+v, saved %+v", unit, a, b)
		}
	}
	if got, _ := s.Query(inv, "None", t0, t0.Add(time.Hour), time.Hour, nil, t0); got[0].Stats.SampleCount != 10 || got[0].Stats.Sum != 55 {
		t.Fatalf("after the retry: %+v, want 10 values summing to 55", got[0].Stats)
	}
}

// ackingPersister records the acknowledgements saved with buckets.
type ackingPersister struct {
	failingPersister
	acked []int64
}

func (a *ackingPersister) SaveBucketsAck(bs []PersistedBucket, acks []int64) error {
	if err := a.SaveBuckets(bs); err != nil {
		return err
	}
	a.acked = append(a.acked, acks...)
	return nil
}

// TestPutAckAcknowledgesWithTheSave: batches are acknowledged only by the
// save that holds their points; a failed one acknowledges nothing and
// stores nothing, so the batches, still queued, are put again.
func TestPutAckAcknowledgesWithTheSave(t *testing.T) {
	p := &ackingPersister{failingPersister: failingPersister{memPersister: memPersister{buckets: map[string]PersistedBucket{}}, fail: 1}}
	s, _ := Open(p)
	pts := []Point{{Series: inv, Timestamp: t0, Value: 1}}
	if err := s.PutAck(pts, []int64{7}); err == nil || len(p.acked) != 0 {
		t.Fatalf("a failed save: %v, acknowledged %v", err, p.acked)
	}
	if err := s.PutAck(pts, []int64{7}); err != nil || !slices.Equal(p.acked, []int64{7}) {
		t.Fatalf("the next save: %v, acknowledged %v, want [7]", err, p.acked)
	}
	if got, _ := s.Query(inv, "", t0, t0.Add(time.Hour), time.Hour, nil, t0); len(got) != 1 || got[0].Stats.SampleCount != 1 {
		t.Fatalf("the batch counted %+v, want once", got)
	}
}

// TestUnitsBelongToPoints: points of one series published with different
// units (or none) are kept apart; a unit selects its own, Query without one
// answers a datapoint per unit, Scan without one merges them, and all of it
// survives a reload.
func TestUnitsBelongToPoints(t *testing.T) {
	p := &memPersister{buckets: map[string]PersistedBucket{}}
	s, _ := Open(p)
	s.Put([]Point{
		{Series: inv, Unit: "Milliseconds", Timestamp: t0, Value: 10},
		{Series: inv, Unit: "Seconds", Timestamp: t0.Add(time.Second), Value: 2},
		{Series: inv, Timestamp: t0.Add(2 * time.Second), Value: 5},
		{Series: inv, Unit: "None", Timestamp: t0.Add(3 * time.Second), Value: 1},
	})
	again, _ := Open(p)
	for name, st := range map[string]*Store{"live": s, "reloaded": again} {
		all, _ := st.Query(inv, "", t0, t0.Add(time.Minute), time.Minute, nil, t0)
		got := map[string]float64{}
		for _, dp := range all {
			got[dp.Unit] = dp.Stats.Sum
		}
		if len(all) != 3 || got["Milliseconds"] != 10 || got["Seconds"] != 2 || got["None"] != 6 {
			t.Errorf("%s: without a unit %+v", name, all)
		}
		sec, _ := st.Query(inv, "Seconds", t0, t0.Add(time.Minute), time.Minute, nil, t0)
		if len(sec) != 1 || sec[0].Stats.Sum != 2 || sec[0].Unit != "Seconds" {
			t.Errorf("%s: Seconds %+v", name, sec)
		}
		if none, _ := st.Query(inv, "Count", t0, t0.Add(time.Minute), time.Minute, nil, t0); len(none) != 0 {
			t.Errorf("%s: Count %+v", name, none)
		}
		var merged []Datapoint
		st.Scan(&SeriesRef{ID: inv.Normalize().ID()}, "", t0, t0.Add(time.Minute), time.Minute, []float64{1}, t0, func(dp Datapoint) { merged = append(merged, dp) })
		if len(merged) != 1 || merged[0].Stats.Sum != 18 || merged[0].Stats.SampleCount != 4 || merged[0].Percentiles[1] < 9.8 {
			t.Errorf("%s: merged %+v", name, merged)
		}
		var ms []Datapoint
		st.Scan(&SeriesRef{ID: inv.Normalize().ID()}, "Milliseconds", t0, t0.Add(time.Minute), time.Minute, nil, t0, func(dp Datapoint) { ms = append(ms, dp) })
		if len(ms) != 1 || ms[0].Stats.Sum != 10 {
			t.Errorf("%s: Milliseconds by Scan %+v", name, ms)
		}
	}
}

// TestSeriesRefFollowsRemoval: a ref kept across the removal of its series
// (retention) finds the series that comes back, not the removed one.
func TestSeriesRefFollowsRemoval(t *testing.T) {
	st, _ := Open(nil)
	cpu := Series{Namespace: "/aws/sagemaker/Endpoints", MetricName: "CPUUtilization"}
	ref := &SeriesRef{ID: cpu.Normalize().ID()}
	sum := func(at time.Time) (total float64) {
		st.Scan(ref, "", at, at.Add(time.Minute), time.Minute, nil, at, func(dp Datapoint) { total += dp.Stats.Sum })
		return total
	}
	if got := sum(t0); got != 0 {
		t.Fatalf("before any point: %v", got)
	}
	st.Put([]Point{{Series: cpu, Timestamp: t0, Value: 7}})
	if got := sum(t0); got != 7 {
		t.Fatalf("a series put after the ref's first lookup: %v, want 7", got)
	}
	later := t0.Add(500 * 24 * time.Hour)
	if err := st.Compact(later); err != nil {
		t.Fatal(err)
	}
	st.Put([]Point{{Series: cpu, Timestamp: later, Value: 3}})
	if got := sum(later); got != 3 {
		t.Fatalf("after the series was removed and put again: %v, want 3", got)
	}
}

// TestHeldPutsAgain: what a failed Put did not store is put again, once,
// with the next points.
func TestHeldPutsAgain(t *testing.T) {
	p := &failingPersister{memPersister: memPersister{buckets: map[string]PersistedBucket{}}, fail: 2}
	s, _ := Open(p)
	h := &Held{Store: s}
	for i := range 3 {
		err := h.Put([]Point{{Series: inv, Timestamp: t0, Value: float64(i + 1)}})
		if (err == nil) != (i == 2) {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if got, _ := s.Query(inv, "", t0, t0.Add(time.Hour), time.Hour, nil, t0); len(got) != 1 || got[0].Stats.SampleCount != 3 || got[0].Stats.Sum != 6 {
		t.Fatalf("stored %+v, want 1, 2 and 3 once each", got)
	}
}
