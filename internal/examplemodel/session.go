package examplemodel

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// sessions is a stateful model's side of SageMaker's stateful sessions: a
// request with X-Amzn-SageMaker-Session-Id NEW_SESSION opens one, answered
// with X-Amzn-SageMaker-New-Session-Id "ID; Expires=TIME"; a request naming
// it must reach this instance (another answers 400, as a model that holds
// its state in memory must); the custom attribute "close" closes it,
// answered with X-Amzn-SageMaker-Closed-Session-Id.
type sessions struct {
	mu   sync.Mutex
	open map[string]time.Time // id -> expiry
}

func (s *sessions) serve(out, in http.Header, ttl time.Duration, now time.Time) error {
	id := in.Get("X-Amzn-SageMaker-Session-Id")
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open == nil {
		s.open = map[string]time.Time{}
	}
	if id == "NEW_SESSION" {
		b := make([]byte, 8)
		rand.Read(b)
		id = "session-" + hex.EncodeToString(b)
		expires := now.Add(ttl).UTC()
		s.open[id] = expires
		out.Set("X-Amzn-SageMaker-New-Session-Id", id+"; Expires="+expires.Format(time.RFC3339))
		return nil
	}
	if expires, ok := s.open[id]; !ok || !now.Before(expires) {
		return fmt.Errorf("session %s is not held by this instance", id)
	}
	if in.Get("X-Amzn-SageMaker-Custom-Attributes") == "close" {
		delete(s.open, id)
		out.Set("X-Amzn-SageMaker-Closed-Session-Id", id)
	}
	return nil
}
