package replica

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/store/memory"
)

func instances(r *router.Router, endpoint string) int {
	n := 0
	for _, s := range r.Collect() {
		if s.Endpoint == endpoint {
			n += s.Instances
		}
	}
	return n
}

// TestFollowerLoadsPublishedTables: what the leader's hosting publishes
// reaches a follower's router within the poll interval, changes included,
// and a withdrawn endpoint is no longer routed there.
func TestFollowerLoadsPublishedTables(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		st := memory.New()
		log := slog.New(slog.DiscardHandler)
		local, follower := router.New(router.Options{}), router.New(router.Options{})
		pub := NewPublisher(local, st, clock.Real{}, log)
		go pub.Run(ctx)
		go Follow(ctx, clock.Real{}, DefaultFollowEvery, st, follower, log)

		ep := router.Endpoint{Name: "a", Variants: []router.Variant{{Name: "v", Weight: 1,
			Instances: []router.Instance{{ID: "i1", Addr: "127.0.0.1:1"}}}}}
		pub.Set(ep)
		if got := instances(local, "a"); got != 1 {
			t.Fatalf("the leader's own router has %d instances, want 1 at once", got)
		}
		time.Sleep(DefaultFollowEvery)
		synctest.Wait()
		if got := instances(follower, "a"); got != 1 {
			t.Fatalf("follower: %d instances, want 1", got)
		}
		ep.Variants[0].Instances = append(ep.Variants[0].Instances, router.Instance{ID: "i2", Addr: "127.0.0.1:2"})
		pub.Set(ep)
		time.Sleep(DefaultFollowEvery)
		synctest.Wait()
		if got := instances(follower, "a"); got != 2 {
			t.Fatalf("follower after the change: %d instances, want 2", got)
		}
		pub.Delete("a")
		time.Sleep(DefaultFollowEvery)
		synctest.Wait()
		if _, err := follower.Invoke(ctx, router.Invocation{Endpoint: "a"}); !errors.Is(err, router.ErrEndpointNotFound) {
			t.Fatalf("a withdrawn endpoint on the follower: %v, want ErrEndpointNotFound", err)
		}
	})
}

type flakyMailbox struct {
	down bool
	got  []string
}

func (f *flakyMailbox) SendMetrics(_ context.Context, doc []byte) error {
	if f.down {
		return errors.New("PostgreSQL is down")
	}
	f.got = append(f.got, string(doc))
	return nil
}

func (f *flakyMailbox) PendingMetrics(context.Context, int) ([]metrics.Batch, error) { return nil, nil }

// TestOutboxKeepsBatchesWhileDown: a follower's measurements made while
// PostgreSQL is down are sent, in order, once it is back.
func TestOutboxKeepsBatchesWhileDown(t *testing.T) {
	mb := &flakyMailbox{down: true}
	o := &Outbox{Mailbox: mb}
	for i := range 3 {
		if err := o.Put([]metrics.Point{{Value: float64(i)}}); err == nil {
			t.Fatal("a send to a down database succeeded")
		}
	}
	mb.down = false
	if err := o.Put([]metrics.Point{{Value: 3}}); err != nil {
		t.Fatal(err)
	}
	if len(mb.got) != 4 || !strings.Contains(mb.got[0], `"Value":0`) || !strings.Contains(mb.got[3], `"Value":3`) {
		t.Fatalf("sent %v, want the 4 batches in order", mb.got)
	}
}

// mailbox holds batches until a save acknowledges them.
type mailbox struct {
	mu   sync.Mutex
	docs []metrics.Batch
}

func (m *mailbox) SendMetrics(_ context.Context, doc []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.docs = append(m.docs, metrics.Batch{Seq: int64(len(m.docs) + 1), Doc: doc})
	return nil
}

func (m *mailbox) PendingMetrics(_ context.Context, limit int) ([]metrics.Batch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.docs[:min(limit, len(m.docs))]), nil
}

// countingStore counts the points put into it; its first save fails, as a
// PostgreSQL gone at the commit would, and then stores and acknowledges
// nothing (as metrics.Store's PutAck).
type countingStore struct {
	mb     *mailbox
	n      float64
	failed bool
}

func (s *countingStore) PutAck(pts []metrics.Point, acks []int64) error {
	if !s.failed {
		s.failed = true
		return errors.New("the commit failed")
	}
	for _, p := range pts {
		s.n += p.Value
	}
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	s.mb.docs = slices.DeleteFunc(s.mb.docs, func(b metrics.Batch) bool { return slices.Contains(acks, b.Seq) })
	return nil
}

// TestInboxTakesEachBatchOnce: a batch still queued after a failed save
// is put again, and counted once.
func TestInboxTakesEachBatchOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		mb := &mailbox{}
		(&Outbox{Mailbox: mb}).Put([]metrics.Point{{Value: 3}, {Value: 4}})
		into := &countingStore{mb: mb}
		go Inbox(ctx, clock.Real{}, mb, into, slog.New(slog.DiscardHandler))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if into.n != 7 {
			t.Fatalf("counted %v, want 7", into.n)
		}
		(&Outbox{Mailbox: mb}).Put([]metrics.Point{{Value: 5}})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if into.n != 12 || len(mb.docs) != 0 {
			t.Fatalf("counted %v, want 12; %d batches left", into.n, len(mb.docs))
		}
	})
}
