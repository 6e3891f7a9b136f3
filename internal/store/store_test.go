package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/metrics"
)

func TestSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ebb.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	if err := s.Create(ctx, "endpoint", "My-Ep", now, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "endpoint", "my-ep", now, []byte(`{}`)); !errors.Is(err, ErrExists) {
		t.Fatalf("case-insensitive duplicate: got %v, want ErrExists", err)
	}
	if err := s.Update(ctx, "endpoint", "my-ep", []byte(`{"a":2}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTags(ctx, "arn:x", []Tag{{"k1", "v1"}, {"k2", "v2"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTags(ctx, "arn:x", []Tag{{"k1", "v1b"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTags(ctx, "arn:x", []string{"k2", "nope"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Everything survives reopening.
	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	doc, err := s.Get(ctx, "endpoint", "MY-EP")
	if err != nil || string(doc) != `{"a":2}` {
		t.Fatalf("Get = %s, %v", doc, err)
	}
	tags, _ := s.Tags(ctx, "arn:x")
	if len(tags) != 1 || tags[0] != (Tag{"k1", "v1b"}) {
		t.Fatalf("tags = %v", tags)
	}
	if err := s.Delete(ctx, "endpoint", "my-ep"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "endpoint", "my-ep"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestMetricBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ebb.db")
	s, err := OpenSQLite(context.Background(), path)
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
	s, _ = OpenSQLite(context.Background(), path)
	defer s.Close()
	again, err := metrics.Open(s)
	if err != nil {
		t.Fatal(err)
	}
	dps, _ := again.Query(key, t0, t0.Add(time.Minute), time.Minute, []float64{0.5}, t0)
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
