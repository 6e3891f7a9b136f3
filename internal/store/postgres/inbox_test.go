package postgres

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ebbscale/ebb/internal/store/postgres/pgtest"
)

// TestPostgresMetricInbox: followers' batches are taken once each, a
// bounded number at a time; a taker that fails leaves them queued.
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
	boom := errors.New("boom")
	if _, err := s.TakeMetrics(ctx, 10, func([]byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("a failing taker: %v", err)
	}
	var got []string
	take := func(doc []byte) error { got = append(got, string(doc)); return nil }
	if n, err := s.TakeMetrics(ctx, 2, take); err != nil || n != 2 {
		t.Fatalf("TakeMetrics(2) = %d, %v", n, err)
	}
	if n, err := s.TakeMetrics(ctx, 2, take); err != nil || n != 1 {
		t.Fatalf("the rest = %d, %v", n, err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("taken %v, want each batch once", got)
	}
	if n, _ := s.TakeMetrics(ctx, 2, take); n != 0 {
		t.Fatalf("an empty inbox gave %d", n)
	}
}
