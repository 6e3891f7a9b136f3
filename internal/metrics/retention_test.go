package metrics

import (
	"context"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
)

// TestRunRetention: the loop applies retention on its own clock, every
// RetentionInterval, and stops with its context.
func TestRunRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := Open(nil)
		s.Put([]Point{{Series: inv, Timestamp: t0, Value: 1}})
		clk := clock.NewFake(t0.Add(500 * 24 * time.Hour))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.RunRetention(ctx, clk, slog.New(slog.DiscardHandler)); close(done) }()
		defer func() { cancel(); <-done }()
		synctest.Wait()
		if s.Len() != 1 {
			t.Fatalf("%d series before the first round, want 1", s.Len())
		}
		clk.Advance(RetentionInterval)
		synctest.Wait()
		if s.Len() != 0 {
			t.Fatalf("%d series after a round past every retention, want 0", s.Len())
		}
	})
}
