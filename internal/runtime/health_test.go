package runtime

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestHealth: a starting instance is ready at its first good ping; a
// running one ends after UnhealthyThreshold failures in a row (a good ping
// in between starts the count again), and pings skipped while it stops
// count for nothing.
func TestHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := Health{PingInterval: time.Second, UnhealthyThreshold: 3}
		answers := []bool{false, false, true}
		asked := 0
		ping := func() bool { asked++; a := answers[0]; answers = answers[1:]; return a }
		start := time.Now()
		if !h.WaitReady(context.Background(), ping) || asked != 3 || time.Since(start) != 2*StartPoll {
			t.Fatalf("ready after %d pings and %v", asked, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(context.Background(), StartPoll/2)
		if h.WaitReady(ctx, func() bool { return false }) {
			t.Fatal("ready without an answer")
		}
		cancel()

		answers = []bool{false, false, true, false, false, false}
		start = time.Now()
		if err := h.Watch(context.Background(), ping, nil); err != ErrUnhealthy || time.Since(start) != 6*time.Second {
			t.Fatalf("Watch = %v after %v, want ErrUnhealthy after 6 s", err, time.Since(start))
		}
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Watch(ctx, func() bool { return false }, func() bool { return true }); err != nil {
			t.Fatalf("Watch while stopping = %v, want nil when ctx ends", err)
		}
	})
}
