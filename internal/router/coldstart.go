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

// ColdStartRequest asks for capacity for a variant at zero instances, or an
// inference component at zero copies (Component set, Variant empty). The
// receiver sends one answer on Reply (buffered, so it never blocks): nil
// once the capacity change is started, or why it may not scale from zero
// (it is not a scalable target, or may not scale out).
type ColdStartRequest struct {
	Endpoint, Variant, Component string
	Reply                        chan<- error
}

// askColdStart sends a cold-start request and waits for its answer.
func (r *Router) askColdStart(ctx context.Context, ask ColdStartRequest) error {
	reply := make(chan error, 1)
	ask.Reply = reply
	t := time.NewTimer(r.o.ColdStartTimeout)
	defer t.Stop()
	select {
	case r.o.ColdStarts <- ask:
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

// coldWait is the requests of one endpoint (or inference component) waiting
// for capacity.
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

// waitForCapacity holds a request until what key names (an endpoint, or
// an inference component: waitKey) has capacity, the timeout passes or the
// caller goes away. The first request asks for the cold start and learns
// how long the decision took.
func (r *Router) waitForCapacity(ctx context.Context, key string, ask ColdStartRequest) (decision time.Duration, err error) {
	r.cold.mu.Lock()
	if r.cold.waits == nil {
		r.cold.waits = map[string]*coldWait{}
	}
	w := r.cold.waits[key]
	// A cold start that has not brought capacity within the timeout (its
	// instance failed, say) is asked for again.
	first := w == nil || time.Since(w.started) > r.o.ColdStartTimeout
	if first {
		w = &coldWait{started: time.Now(), ready: make(chan struct{})}
		r.cold.waits[key] = w
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
		err := r.askColdStart(ctx, ask)
		decision = time.Since(asked)
		switch {
		case errors.Is(err, ErrColdStartTimeout), err != nil && errors.Is(err, ctx.Err()):
			// No answer yet: the others keep waiting for capacity (the
			// request may well have been taken), each until its timeout.
			return 0, err
		case err != nil: // refused: the variant may not scale from zero
			r.cold.mu.Lock()
			if r.cold.waits[key] == w {
				delete(r.cold.waits, key)
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

// wake releases the requests waiting for what key names, which has
// capacity again. Callers hold r.mu.
func (r *Router) wake(key string) {
	r.cold.mu.Lock()
	defer r.cold.mu.Unlock()
	if w := r.cold.waits[key]; w != nil {
		delete(r.cold.waits, key)
		close(w.ready)
	}
}

// waitKey names the cold-start wait of an inference component.
func waitKey(endpoint, component string) string { return endpoint + "\x00" + component }
