package router

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Cold starts (an ebb extension): a request that arrives while a variant has
// no instance waits in a bounded buffer while capacity starts, instead of
// failing as on AWS.

// Errors of cold starts; the API answers them with 503 ServiceUnavailable.
var (
	ErrColdStartBufferFull = errors.New("cold-start buffer full")
	ErrColdStartTimeout    = errors.New("cold start took too long")
)

// Defaults of the cold-start buffer.
const (
	DefaultColdStartBuffer  = 256
	DefaultColdStartTimeout = 4 * time.Minute // SageMaker's instance start limit
)

// ColdStartRequest asks for capacity for a variant at zero instances. The
// receiver sends one answer on Reply (buffered, so it never blocks): nil
// once the capacity change is started, or why the variant may not scale
// from zero (it is not a scalable target, or may not scale out).
type ColdStartRequest struct {
	Endpoint, Variant string
	Reply             chan<- error
}

// askColdStart sends a cold-start request and waits for its answer.
func (r *Router) askColdStart(ctx context.Context, endpoint, variant string) error {
	reply := make(chan error, 1)
	t := time.NewTimer(r.o.ColdStartTimeout)
	defer t.Stop()
	select {
	case r.o.ColdStarts <- ColdStartRequest{Endpoint: endpoint, Variant: variant, Reply: reply}:
	case <-t.C:
		return ErrColdStartTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-t.C:
		return ErrColdStartTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}

// coldWait is the requests of one endpoint waiting for capacity.
type coldWait struct {
	started time.Time
	ready   chan struct{} // closed when an instance is routable
	waiting int
	err     error // set before ready closes if the cold start was refused
}

type coldStarts struct {
	mu    sync.Mutex
	waits map[string]*coldWait
}

// waitForCapacity holds a request until the endpoint has an instance, the
// timeout passes or the caller goes away. The request that asked for the
// cold start learns how long the decision took.
func (r *Router) waitForCapacity(ctx context.Context, endpoint, variant string) (decision time.Duration, err error) {
	r.cold.mu.Lock()
	if r.cold.waits == nil {
		r.cold.waits = map[string]*coldWait{}
	}
	w := r.cold.waits[endpoint]
	// A cold start that has not brought capacity within the timeout (its
	// instance failed, say) is asked for again.
	first := w == nil || time.Since(w.started) > r.o.ColdStartTimeout
	if first {
		w = &coldWait{started: time.Now(), ready: make(chan struct{})}
		r.cold.waits[endpoint] = w
	}
	if w.waiting >= r.o.ColdStartBuffer {
		r.cold.mu.Unlock()
		return 0, ErrColdStartBufferFull
	}
	w.waiting++
	r.cold.mu.Unlock()
	defer func() {
		r.cold.mu.Lock()
		w.waiting--
		r.cold.mu.Unlock()
	}()
	if first {
		asked := time.Now()
		err := r.askColdStart(ctx, endpoint, variant)
		decision = time.Since(asked)
		switch {
		case errors.Is(err, ErrColdStartTimeout), err != nil && errors.Is(err, ctx.Err()):
			// No answer yet: the others keep waiting for capacity (the
			// request may well have been taken), each until its timeout.
			return 0, err
		case err != nil: // refused: the variant may not scale from zero
			r.cold.mu.Lock()
			if r.cold.waits[endpoint] == w {
				delete(r.cold.waits, endpoint)
			}
			w.err = ErrNoCapacity
			close(w.ready)
			r.cold.mu.Unlock()
			return 0, ErrNoCapacity
		}
	}
	t := time.NewTimer(r.o.ColdStartTimeout)
	defer t.Stop()
	select {
	case <-w.ready:
		return decision, w.err
	case <-t.C:
		return 0, ErrColdStartTimeout
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// wake releases the requests waiting for an endpoint that has capacity
// again. Callers hold r.mu.
func (r *Router) wake(endpoint string) {
	r.cold.mu.Lock()
	defer r.cold.mu.Unlock()
	if w := r.cold.waits[endpoint]; w != nil {
		delete(r.cold.waits, endpoint)
		close(w.ready)
	}
}
