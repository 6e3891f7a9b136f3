package router

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Stateful sessions (InvokeEndpoint's SessionId). A request with SessionId
// NEW_SESSION is routed as any other; when the model answers with
// X-Amzn-SageMaker-New-Session-Id ("ID; Expires=TIME"), the session is bound
// to the instance that answered, and every later request naming it goes to
// that instance, as SageMaker routes them. The model's
// X-Amzn-SageMaker-Closed-Session-Id ends the session; so do its expiry and
// its instance leaving. A request naming a session the router does not know
// fails with ErrSessionNotFound rather than reaching an instance that does
// not hold it.

// NewSession is the SessionId that asks the model for a new session.
const NewSession = "NEW_SESSION"

// maxSessionLife bounds a session whose model named no expiry ebb can read
// (SageMaker leaves the expiry to the model; ebb's choice).
const maxSessionLife = 6 * time.Hour

var (
	sessionHeader       = http.CanonicalHeaderKey("X-Amzn-SageMaker-Session-Id")
	newSessionHeader    = http.CanonicalHeaderKey("X-Amzn-SageMaker-New-Session-Id")
	closedSessionHeader = http.CanonicalHeaderKey("X-Amzn-SageMaker-Closed-Session-Id")

	// ErrSessionNotFound: the request names a session that was never
	// opened, was closed, expired, or whose instance is gone.
	ErrSessionNotFound = errors.New("stateful session not found")
	// ErrSessionComponents: sessions on endpoints of inference components.
	ErrSessionComponents = errors.New("stateful sessions on inference components")
)

type sessionKey struct{ endpoint, id string }

// boundSession is a session and the instance that holds it.
type boundSession struct {
	variant string
	b       *backend
	expires time.Time
}

// sessionTable holds the open sessions of every endpoint.
type sessionTable struct {
	mu sync.Mutex
	m  map[sessionKey]boundSession
}

// lookup returns the open session id of endpoint at now.
func (t *sessionTable) lookup(endpoint, id string, now time.Time) (boundSession, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := sessionKey{endpoint, id}
	s, ok := t.m[k]
	if ok && (!now.Before(s.expires) || s.b.removed.Load()) {
		delete(t.m, k)
		return s, false
	}
	return s, ok
}

// observe records what a model's answer says of sessions: one opened on b,
// or one closed.
func (t *sessionTable) observe(endpoint, variant string, b *backend, h http.Header, now time.Time) {
	opened, closed := h[newSessionHeader], h[closedSessionHeader]
	if len(opened) == 0 && len(closed) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(opened) > 0 {
		if id, expires := parseNewSession(opened[0], now); id != "" {
			if t.m == nil {
				t.m = map[sessionKey]boundSession{}
			}
			t.m[sessionKey{endpoint, id}] = boundSession{variant, b, expires}
			if len(t.m)%1024 == 0 {
				t.prune(now)
			}
		}
	}
	if len(closed) > 0 {
		delete(t.m, sessionKey{endpoint, strings.TrimSpace(closed[0])})
	}
}

// prune forgets expired sessions and those of instances that left.
// Callers hold mu.
func (t *sessionTable) prune(now time.Time) {
	for k, s := range t.m {
		if !now.Before(s.expires) || s.b.removed.Load() {
			delete(t.m, k)
		}
	}
}

// parseNewSession reads "ID; Expires=TIME" (TIME in RFC 3339 or an HTTP
// date). Without an expiry ebb can read, or one further than
// maxSessionLife, the session lasts maxSessionLife.
func parseNewSession(v string, now time.Time) (string, time.Time) {
	id, attrs, _ := strings.Cut(v, ";")
	expires := now.Add(maxSessionLife)
	for _, a := range strings.Split(attrs, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(a), "=")
		if !strings.EqualFold(k, "Expires") {
			continue
		}
		val = strings.TrimSpace(val)
		t, err := time.Parse(time.RFC3339, val)
		if err != nil {
			t, err = http.ParseTime(val)
		}
		if err == nil && t.Before(expires) {
			expires = t
		}
	}
	return strings.TrimSpace(id), expires
}
