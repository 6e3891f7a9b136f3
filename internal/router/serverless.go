package router

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Serverless variants, as SageMaker's serverless inference serves them:
// each instance (an environment) serves one invocation at a time, and the
// variant at most MaxConcurrency at once; the invocation beyond that is
// throttled. An invocation that finds no idle environment asks hosting
// for one (Demand) and waits until an environment is free: a new one, or
// one that finished its invocation first.
//
// Of a variant with ProvisionedConcurrency, the first that many
// invocations at once run on provisioned concurrency (hosting keeps that
// many environments warm); those beyond it spill over to on-demand
// capacity, as Lambda's provisioned concurrency, which SageMaker's
// follows, counts them.

// Serverless is a serverless variant's concurrency: the most invocations
// it serves at once, and how many of them run on provisioned concurrency
// (0: none).
type Serverless struct{ MaxConcurrency, ProvisionedConcurrency int }

// ErrThrottled: a serverless variant is serving its MaxConcurrency
// invocations.
var ErrThrottled = errors.New("the serverless variant is serving its MaxConcurrency invocations")

// ErrServerlessElsewhere: this router does not serve serverless variants
// (it asks no hosting for environments). With several replicas, a
// serverless variant's invocations are the leader's alone, so that one
// gate holds its MaxConcurrency and hosting sees every invocation it
// holds; a follower hands them to the leader.
var ErrServerlessElsewhere = errors.New("serverless variants are served by the leader replica")

// ServerlessMaxPayloadBytes is the largest request a serverless variant
// takes: SageMaker's serverless inference documents 4 MB, where
// instances take 6 MB (MaxPayloadBytes).
const ServerlessMaxPayloadBytes = 4 * 1024 * 1024

// ErrServerlessPayload: a request above ServerlessMaxPayloadBytes to a
// serverless variant.
var ErrServerlessPayload = fmt.Errorf("a serverless variant takes requests of at most %d bytes", ServerlessMaxPayloadBytes)

// Demand asks hosting for environments: InFlight invocations of a
// serverless variant want one each.
type Demand struct {
	Endpoint, Variant string
	InFlight          int
}

// gate counts a serverless variant's invocations in flight, across
// routing-table updates, and of them those on provisioned concurrency;
// it wakes those waiting for an environment when one may have become
// free.
type gate struct {
	inflight, provisioned atomic.Int64
	// peak is the most in flight at once since PeakInFlight last read it.
	peak    atomic.Int64
	mu      sync.Mutex
	changed chan struct{}
}

// ticket is an admitted invocation's place in its variant's gate.
type ticket struct {
	g           *gate
	provisioned bool // it holds one of the provisioned concurrency
}

// admit takes a place for an invocation, if the variant serves fewer
// than its MaxConcurrency, on provisioned concurrency while some is free.
func (g *gate) admit(c Serverless) (ticket, bool) {
	n := g.inflight.Add(1)
	if n > int64(c.MaxConcurrency) {
		g.inflight.Add(-1)
		return ticket{}, false
	}
	for p := g.peak.Load(); n > p; p = g.peak.Load() {
		if g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	for {
		n := g.provisioned.Load()
		if n >= int64(c.ProvisionedConcurrency) {
			return ticket{g: g}, true
		}
		if g.provisioned.CompareAndSwap(n, n+1) {
			return ticket{g: g, provisioned: true}, true
		}
	}
}

// wait returns a channel closed at the next notify.
func (g *gate) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	return g.changed
}

func (g *gate) notify() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// release ends an invocation: its environment is free.
func (t ticket) release() {
	if t.provisioned {
		t.g.provisioned.Add(-1)
	}
	t.g.inflight.Add(-1)
	t.g.notify()
}

// gateOf returns a serverless variant's gate. Callers hold r.mu.
func (r *Router) gateOf(endpoint, variant string) *gate {
	k := statsKey{endpoint: endpoint, variant: variant}
	g := r.gates[k]
	if g == nil {
		g = &gate{}
		r.gates[k] = g
	}
	return g
}

// PeakInFlight is the most invocations a serverless variant served or held
// at once since the last call, and at least as many as it holds now:
// hosting keeps that many environments. A peak, not a sample, so that
// short invocations between two calls count as needing their environment.
func (r *Router) PeakInFlight(endpoint, variant string) int {
	r.mu.Lock()
	g := r.gates[statsKey{endpoint: endpoint, variant: variant}]
	r.mu.Unlock()
	if g == nil {
		return 0
	}
	// What is in flight now starts the next peak (an admission between
	// the two loads raises it again).
	return int(max(g.peak.Swap(g.inflight.Load()), g.inflight.Load()))
}

// invokeServerless admits an invocation of serverless variant v, waits for
// an idle environment (asking hosting for one) and sends it there.
func (r *Router) invokeServerless(ctx context.Context, inv Invocation, v *variantRoute) (*Response, error) {
	if r.o.Demand == nil {
		return nil, ErrServerlessElsewhere
	}
	if len(inv.Body) > ServerlessMaxPayloadBytes {
		return nil, ErrServerlessPayload
	}
	g := v.gate
	t, ok := g.admit(*v.serverless)
	if !ok {
		// Not an invocation of the model: no Invocations, no 4XX.
		return nil, ErrThrottled
	}
	if v.serverless.ProvisionedConcurrency > 0 {
		v.stats.admitted(t.provisioned)
	}
	waited := false
	waitStart := time.Now()
	timeout := time.NewTimer(r.o.ColdStartTimeout)
	defer timeout.Stop()
	for {
		changed := g.wait()
		route := (*r.table.Load())[inv.Endpoint]
		if route == nil {
			t.release()
			return nil, ErrEndpointNotFound
		}
		if v = route.variant(v.name); v == nil || v.serverless == nil {
			t.release()
			return nil, ErrVariantNotFound
		}
		if b := v.acquireIdle(); b != nil {
			inv.reserved = b
			break
		}
		waited = true
		select {
		case r.o.Demand <- Demand{Endpoint: inv.Endpoint, Variant: v.name, InFlight: int(g.inflight.Load())}:
		default: // hosting is busy with demands already; it reads PeakInFlight too
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.release()
			return nil, ErrColdStartTimeout
		case <-ctx.Done():
			t.release()
			return nil, ctx.Err()
		}
	}
	var capacityAt time.Time // when an environment took an invocation that waited for one
	if waited {
		capacityAt = time.Now()
		v.stats.coldStart(0, capacityAt.Sub(waitStart))
	}
	resp, err := r.send(ctx, v, inv, capacityAt, nil)
	if err != nil {
		t.release()
		return nil, err
	}
	resp.ticket = t
	return resp, nil
}

// acquireIdle reserves an environment that serves no invocation.
func (v *variantRoute) acquireIdle() *backend {
	for _, b := range v.backends {
		if !b.removed.Load() && b.outstanding.CompareAndSwap(0, 1) {
			if !b.removed.Load() {
				return b
			}
			b.outstanding.Add(-1)
		}
	}
	return nil
}

// variant returns the route's variant named name.
func (e *endpointRoute) variant(name string) *variantRoute {
	for _, v := range e.variants {
		if v.name == name {
			return v
		}
	}
	return nil
}
