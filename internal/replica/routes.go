package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/store"
)

// routeKind is the document kind of published routing tables.
const routeKind = "route"

// DefaultFollowEvery is how often a follower reloads the routing table.
const DefaultFollowEvery = 500 * time.Millisecond

// Publisher is the leader's hosting.Routes: it routes locally and publishes
// every change to the store for the followers. Writes happen on Run's
// goroutine, latest table first, so that hosting never waits on the store.
type Publisher struct {
	Local  hosting.Routes
	Store  store.Documents
	Clock  clock.Clock
	Logger *slog.Logger

	mu      sync.Mutex
	pending map[string]*router.Endpoint // nil: deleted
	wake    chan struct{}
}

// NewPublisher returns a publisher in front of local.
func NewPublisher(local hosting.Routes, st store.Documents, clk clock.Clock, log *slog.Logger) *Publisher {
	return &Publisher{Local: local, Store: st, Clock: clk, Logger: log, pending: map[string]*router.Endpoint{}, wake: make(chan struct{}, 1)}
}

// Set routes an endpoint locally and queues its publication.
func (p *Publisher) Set(ep router.Endpoint) {
	p.Local.Set(ep)
	p.queue(ep.Name, &ep)
}

// Delete stops routing an endpoint and queues its withdrawal.
func (p *Publisher) Delete(name string) {
	p.Local.Delete(name)
	p.queue(name, nil)
}

// Drain waits for the local requests of an instance. Followers stop sending
// to it within their poll interval.
func (p *Publisher) Drain(ctx context.Context, id string) error { return p.Local.Drain(ctx, id) }

func (p *Publisher) queue(name string, ep *router.Endpoint) {
	p.mu.Lock()
	p.pending[name] = ep
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run writes queued tables until ctx ends; a write that fails is tried
// again at the next second's tick (unless a newer table replaced it).
func (p *Publisher) Run(ctx context.Context) {
	tick := p.Clock.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-tick.C():
		}
		p.mu.Lock()
		work := p.pending
		p.pending = map[string]*router.Endpoint{}
		p.mu.Unlock()
		for name, ep := range work {
			if err := p.write(ctx, name, ep); err != nil {
				p.Logger.Warn("publishing the routing table", "endpoint", name, "err", err)
				p.mu.Lock()
				if _, newer := p.pending[name]; !newer {
					p.pending[name] = ep
				}
				p.mu.Unlock()
			}
		}
	}
}

func (p *Publisher) write(ctx context.Context, name string, ep *router.Endpoint) error {
	if ep == nil {
		if err := p.Store.Delete(ctx, routeKind, name); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	}
	doc, err := json.Marshal(ep)
	if err != nil {
		return err
	}
	err = p.Store.Update(ctx, routeKind, name, doc)
	if errors.Is(err, store.ErrNotFound) {
		err = p.Store.Create(ctx, routeKind, name, p.Clock.Now(), doc)
	}
	return err
}

// Follow loads the published routing tables into r every interval until
// ctx ends: a changed table is Set, a withdrawn one Deleted.
func Follow(ctx context.Context, clk clock.Clock, every time.Duration, st store.Documents, r *router.Router, log *slog.Logger) {
	seen := map[string][]byte{}
	load := func(time.Time) {
		docs, err := st.List(ctx, routeKind)
		if err != nil {
			log.Warn("loading the routing table", "err", err)
			return // keep routing with the table we have
		}
		now := make(map[string][]byte, len(docs))
		for _, doc := range docs {
			var ep router.Endpoint
			if err := json.Unmarshal(doc, &ep); err != nil {
				log.Error("a published routing table does not decode", "err", err)
				continue
			}
			now[ep.Name] = doc
			if !bytes.Equal(seen[ep.Name], doc) {
				r.Set(ep)
			}
		}
		for name := range seen {
			if _, ok := now[name]; !ok {
				r.Delete(name)
			}
		}
		seen = now
	}
	load(clk.Now())
	clock.Every(ctx, clk, every, load)
}
