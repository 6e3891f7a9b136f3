package runtime

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// SageMaker's health contract for a model container, the same on every
// runtime: GET /ping must answer 200 within the start limit (four minutes),
// and then keeps being asked every few seconds; UnhealthyThreshold
// failures in a row end the instance.
const (
	DefaultStartLimit         = 4 * time.Minute
	DefaultPingInterval       = 5 * time.Second
	DefaultUnhealthyThreshold = 3
	// StartPoll is how often a starting instance is asked: it is ready
	// the moment it answers.
	StartPoll = 50 * time.Millisecond
)

// ErrUnhealthy ends an instance that failed UnhealthyThreshold pings in a
// row.
var ErrUnhealthy = errors.New("failed consecutive ping health checks")

// Health runs the contract for one instance. Zero fields take the
// defaults.
type Health struct {
	PingInterval       time.Duration
	UnhealthyThreshold int
}

// WaitReady asks ping every StartPoll until it answers, and reports true;
// false when ctx ends first (the start limit passed, or the instance
// ended).
func (h Health) WaitReady(ctx context.Context, ping func() bool) bool {
	t := time.NewTicker(StartPoll)
	defer t.Stop()
	for !ping() {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// Watch asks ping every PingInterval until ctx ends (nil) or
// UnhealthyThreshold pings in a row fail (ErrUnhealthy). A ping skip
// reports true for is not asked (an instance being stopped).
func (h Health) Watch(ctx context.Context, ping func() bool, skip func() bool) error {
	interval, threshold := h.PingInterval, h.UnhealthyThreshold
	if interval <= 0 {
		interval = DefaultPingInterval
	}
	if threshold <= 0 {
		threshold = DefaultUnhealthyThreshold
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if skip != nil && skip() {
			continue
		}
		if ping() {
			failures = 0
			continue
		}
		if failures++; failures >= threshold {
			return ErrUnhealthy
		}
	}
}

// Pinger asks an instance's GET /ping, the contract's one question, for
// every runtime.
type Pinger struct{ c *http.Client }

// NewPinger asks with a timeout per ping, over one kept-alive connection
// per instance.
func NewPinger(timeout time.Duration) Pinger {
	return Pinger{c: &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}}}
}

// Ping reports whether the instance at addr (host:port) answers 200.
func (p Pinger) Ping(addr string) bool {
	resp, err := p.c.Get("http://" + addr + "/ping")
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body) // so the connection is kept
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
