package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/metrics"
)

// TestMetricBuckets: what the metrics store saves comes back after a
// restart, and retention prunes it on disk (the generic bucket behaviour is
// in storetest).
func TestMetricBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ebb.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := metrics.Open(s)
	key := metrics.Series{Namespace: "AWS/SageMaker", MetricName: "ModelLatency", Dimensions: []metrics.Dimension{{Name: "EndpointName", Value: "e"}}}
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for i := range 50 {
		if err := ms.Put([]metrics.Point{{Series: key, Unit: "Microseconds", Timestamp: t0.Add(time.Duration(i) * time.Second), Value: float64(i * 10)}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, _ = Open(context.Background(), path)
	defer s.Close()
	again, err := metrics.Open(s)
	if err != nil {
		t.Fatal(err)
	}
	dps, _ := again.Query(key, "", t0, t0.Add(time.Minute), time.Minute, []float64{0.5}, t0)
	if len(dps) != 1 || dps[0].Stats.SampleCount != 50 || dps[0].Stats.Maximum != 490 || dps[0].Percentiles[0.5] < 235 || dps[0].Percentiles[0.5] > 255 {
		t.Fatalf("after restart: %+v", dps)
	}
	if err := again.Compact(t0.Add(4 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	var n int
	s.db.QueryRow("SELECT COUNT(*) FROM metric_buckets WHERE step = 1").Scan(&n)
	if n != 0 {
		t.Fatalf("%d 1-second buckets kept past 3 hours", n)
	}
}

// TestBucketUnitsMigration: buckets stored before units joined the key
// (unit ” for points without one) come back as "None" after the
// migration, beside a bucket of the same time in another unit.
func TestBucketUnitsMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ebb.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	old, err := migrations.ReadFile("migrations/0002_metrics.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TABLE metric_buckets", string(old),
		"PRAGMA user_version = 5"} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	series := metrics.Series{Namespace: "App", MetricName: "M"}
	if _, err := s.db.Exec(`INSERT INTO metric_buckets VALUES (?, '{"Namespace":"App","MetricName":"M"}', '', 60, 0, 1, 5, 5, 5, NULL)`, series.ID()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SaveBuckets([]metrics.PersistedBucket{{Series: series, Unit: "Seconds", Step: 60, Start: 0, Stats: metrics.StatSet{SampleCount: 1, Sum: 2, Minimum: 2, Maximum: 2}}}); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	s.LoadBuckets(func(b metrics.PersistedBucket) error { got[b.Unit] = b.Stats.Sum; return nil })
	if len(got) != 2 || got["None"] != 5 || got["Seconds"] != 2 {
		t.Fatalf("after the migration: %v", got)
	}
}
