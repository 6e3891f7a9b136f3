package postgres

import (
	"context"
	"slices"
	"testing"

	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/store/postgres/pgtest"
)

// TestPostgresMetricInbox: followers' batches wait, oldest first, until a
// save of buckets acknowledges them in its own transaction (a fenced-off
// save acknowledges nothing: TestPostgresFence).
func TestPostgresMetricInbox(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.Shared(t).Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, doc := range []string{"a", "b", "c"} {
		if err := s.SendMetrics(ctx, []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	pending := func() (docs []string, seqs []int64) {
		bs, err := s.PendingMetrics(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			docs, seqs = append(docs, string(b.Doc)), append(seqs, b.Seq)
		}
		return docs, seqs
	}
	docs, seqs := pending()
	if !slices.Equal(docs, []string{"a", "b"}) {
		t.Fatalf("pending %v, want the oldest two", docs)
	}
	bucket := metrics.PersistedBucket{Series: metrics.Series{Namespace: "N", MetricName: "M"}, Step: 60, Start: 60,
		Stats: metrics.StatSet{SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1}}
	if err := s.SaveBucketsAck([]metrics.PersistedBucket{bucket}, seqs); err != nil {
		t.Fatal(err)
	}
	if docs, _ = pending(); !slices.Equal(docs, []string{"c"}) {
		t.Fatalf("after the acknowledging save: %v, want c alone", docs)
	}
	n := 0
	s.LoadBuckets(func(metrics.PersistedBucket) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d buckets saved, want 1", n)
	}
}
