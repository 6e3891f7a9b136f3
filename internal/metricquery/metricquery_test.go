package metricquery

import (
	"math"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/metrics"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestRun(t *testing.T) {
	st, _ := metrics.Open(nil)
	inv := metrics.Series{Namespace: "AWS/SageMaker", MetricName: "Invocations"}
	cpu := metrics.Series{Namespace: "/aws/sagemaker/Endpoints", MetricName: "CPUUtilization"}
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Minute)
		st.Put([]metrics.Point{{Series: inv, Timestamp: at, Value: 1, Count: float64(10 * (i + 1))}})
		if i != 1 {
			st.Put([]metrics.Point{{Series: cpu, Timestamp: at, Value: 50}})
		}
	}
	qs := []Query{
		{ID: "m1", MetricStat: &MetricStat{Series: inv, Period: time.Minute, Stat: "Sum"}},
		{ID: "m2", MetricStat: &MetricStat{Series: cpu, Period: time.Minute, Stat: "Average"}},
		{ID: "e1", Expression: "m1 / FILL(m2, REPEAT)", Label: "per cpu", ReturnData: true},
	}
	res, err := Run(st, qs, t0, t0.Add(3*time.Minute), t0.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	e := res[2]
	if e.Label != "per cpu" || len(e.Values) != 3 || e.Values[0] != 0.2 || e.Values[1] != 0.4 || e.Values[2] != 0.6 {
		t.Fatalf("e1 = %+v", e)
	}
	if !math.IsNaN(res[1].Values[1]) || res[0].Label != "Invocations" {
		t.Fatalf("m2 = %+v, m1 label %q", res[1], res[0].Label)
	}
	for _, bad := range [][]Query{
		{{ID: "M1", MetricStat: qs[0].MetricStat}},
		{{ID: "e1", Expression: "e1 + 1", Period: time.Minute}},
		{qs[0], {ID: "e1", Expression: "m1 +"}},
		{qs[0], {ID: "m1", Expression: "1"}},
	} {
		if _, err := Run(st, bad, t0, t0.Add(time.Minute), t0); err == nil {
			t.Errorf("%+v: want an error", bad)
		}
	}
}

// TestRead: the single-metric reader gives each period's statistic and its
// sample count, by series or by ID alike, nothing for a unit that does not
// match, and refuses an unknown statistic.
func TestRead(t *testing.T) {
	st, _ := metrics.Open(nil)
	lat := metrics.Series{Namespace: "AWS/SageMaker", MetricName: "ModelLatency"}
	for i := range 10 {
		st.Put([]metrics.Point{{Series: lat, Unit: "Microseconds", Timestamp: t0.Add(time.Duration(i) * time.Second), Value: float64(i + 1)}})
	}
	st.Put([]metrics.Point{{Series: lat, Unit: "Microseconds", Timestamp: t0.Add(time.Minute), Value: 100}})
	now := t0.Add(10 * time.Minute)
	ms := MetricStat{Series: lat, Period: time.Minute, Stat: "Average"}
	for _, ref := range []*metrics.SeriesRef{nil, {ID: lat.Normalize().ID()}} {
		dps, err := Read(st, ms, ref, t0, t0.Add(2*time.Minute), now)
		if err != nil || len(dps) != 2 || dps[0].Value != 5.5 || dps[0].SampleCount != 10 || dps[1].Value != 100 || !dps[1].Timestamp.Equal(t0.Add(time.Minute)) {
			t.Fatalf("Read(ref %+v) = %+v, %v", ref, dps, err)
		}
	}
	ms.Stat = "p90"
	if dps, _ := Read(st, ms, nil, t0, t0.Add(time.Minute), now); len(dps) != 1 || math.Abs(dps[0].Value-9) > 0.2 {
		t.Fatalf("p90 = %+v", dps)
	}
	ms.Stat, ms.Unit = "Average", "Seconds"
	if dps, err := Read(st, ms, nil, t0, t0.Add(2*time.Minute), now); err != nil || len(dps) != 0 {
		t.Fatalf("another unit: %+v, %v", dps, err)
	}
	ms.Stat, ms.Unit = "tm99", ""
	if _, err := Read(st, ms, nil, t0, t0.Add(2*time.Minute), now); err == nil {
		t.Fatal("an unsupported statistic was read")
	}
}
