package replica

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metrics"
)

// Mailbox is where followers' metrics wait for the leader
// (store/postgres's inbox).
type Mailbox interface {
	SendMetrics(ctx context.Context, doc []byte) error
	// PendingMetrics returns the oldest queued batches; they stay queued
	// until the metric store acknowledges them (metrics.Acker).
	PendingMetrics(ctx context.Context, limit int) ([]metrics.Batch, error)
}

// Outbox is a follower emitter's metric store: each Put is one batch sent
// to the leader. Batches that cannot be sent (PostgreSQL down) wait, up to
// maxWaiting (ten minutes of a second's batches), and go first once it is
// back; beyond that the oldest are dropped, and counted.
type Outbox struct {
	Mailbox Mailbox

	mu      sync.Mutex
	waiting [][]byte
	dropped int
}

// maxWaiting bounds the batches an Outbox holds while it cannot send.
const maxWaiting = 600

// Put sends a batch of datapoints to the leader, after those still waiting.
func (o *Outbox) Put(points []metrics.Point) error {
	doc, err := json.Marshal(points)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waiting = append(o.waiting, doc)
	if n := len(o.waiting) - maxWaiting; n > 0 {
		o.waiting, o.dropped = o.waiting[n:], o.dropped+n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(o.waiting) > 0 {
		if err := o.Mailbox.SendMetrics(ctx, o.waiting[0]); err != nil {
			return fmt.Errorf("sending metrics to the leader (%d batches wait, %d dropped so far): %w", len(o.waiting), o.dropped, err)
		}
		o.waiting = o.waiting[1:]
	}
	return nil
}

// NoInstances is a follower emitter's hosting: the leader samples the
// instances.
type NoInstances struct{}

// RunningInstances returns none.
func (NoInstances) RunningInstances() []hosting.RunningInstance { return nil }

// Startups reports none: the leader's emitter publishes every startup.
func (NoInstances) Startups() []hosting.Startup { return nil }

// takeBatch bounds the batches taken at once.
const takeBatch = 256

// Inbox takes the followers' metrics into the leader's metric store every
// second until ctx ends, each batch exactly once: the store removes the
// batches from the mailbox in the transaction that saves their points
// (PutAck), and a save that fails stores nothing, so a batch is either
// saved and gone or still queued for the next try (or the next leader).
func Inbox(ctx context.Context, clk clock.Clock, m Mailbox, into interface {
	PutAck([]metrics.Point, []int64) error
}, log *slog.Logger) {
	clock.Every(ctx, clk, time.Second, func(time.Time) {
		for {
			batches, err := m.PendingMetrics(ctx, takeBatch)
			if err != nil {
				log.Warn("reading the followers' metrics", "err", err)
				return
			}
			if len(batches) == 0 {
				return
			}
			var pts []metrics.Point
			var acks []int64
			for _, b := range batches {
				var batch []metrics.Point
				if err := json.Unmarshal(b.Doc, &batch); err != nil {
					// Dropped, not retried for ever: it can never decode.
					log.Error("a follower's metrics do not decode", "err", err)
				}
				pts, acks = append(pts, batch...), append(acks, b.Seq)
			}
			if err := into.PutAck(pts, acks); err != nil {
				log.Warn("saving the followers' metrics (they stay queued: retrying)", "err", err)
				return
			}
			if len(batches) < takeBatch {
				return
			}
		}
	})
}
