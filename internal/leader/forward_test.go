package leader

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/api/awserr"
)

// lease is a test's view of the Lease: who leads, and the changes.
type lease struct {
	mu      sync.Mutex
	url     string
	changes Signal
}

func (l *lease) set(url string) {
	l.mu.Lock()
	l.url = url
	l.mu.Unlock()
	l.changes.Notify()
}

func (l *lease) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.url
}

// replica is a forwarder on a real listener, as a follower runs it.
type replica struct {
	url   string
	fwd   *Forwarder
	local atomic.Pointer[http.Handler]
}

func newReplica(t *testing.T, l *lease, hold time.Duration) *replica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{url: "http://" + ln.Addr().String()}
	r.fwd = NewForwarder(Forwarder{Leader: l.get, Self: r.url, Changes: l.changes.Wait, Hold: hold,
		Local: func() http.Handler {
			if h := r.local.Load(); h != nil {
				return *h
			}
			return nil
		}})
	// As the API front does: the body read, and kept to be sent again.
	front := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.Body, _ = req.GetBody()
		r.fwd.ServeHTTP(w, req)
	})
	srv := &http.Server{Handler: front}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

// serve makes the replica serve as the leader with h.
func (r *replica) serve(l *lease, h http.Handler) {
	r.local.Store(&h)
	l.changes.Notify()
}

func echo(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, name+":"+string(b))
	})
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestForwarderHoldsThroughTheGap: a call made while no replica leads,
// then while the Lease names a dead leader, then while the new leader is
// itself but not serving yet, is held and answered by the leader once it
// serves; it is never sent to the replica itself or lost.
func TestForwarderHoldsThroughTheGap(t *testing.T) {
	l := &lease{}
	a := newReplica(t, l, time.Minute)
	b := newReplica(t, l, time.Minute)
	got := make(chan string, 1)
	go func() {
		_, body := post(t, a.url, "payload")
		got <- body
	}()
	// A killed leader: its port refuses connections.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	l.set(deadURL)
	// The new leader is b, before it serves: a's call waits (b refuses
	// forwarded calls until then), then b serves.
	l.set(b.url)
	select {
	case body := <-got:
		t.Fatalf("answered %q before any replica served", body)
	case <-time.After(3 * retryEvery): // a few retries pass; none may answer
	}
	b.serve(l, echo("b"))
	if body := <-got; body != "b:payload" {
		t.Fatalf("answer %q, want b's, with the body", body)
	}
	// a itself leads next, before it serves: a call to a waits for a.
	l.set(a.url)
	go func() {
		_, body := post(t, a.url, "again")
		got <- body
	}()
	a.serve(l, echo("a"))
	if body := <-got; body != "a:again" {
		t.Fatalf("answer %q, want a's own", body)
	}
}

// TestForwarderRefusesAForwardedCall: a call forwarded by another replica
// to one that does not serve is not forwarded again (no loop between two
// replicas whose views of the Lease disagree): it is answered 503 with
// NotLeaderHeader at once.
func TestForwarderRefusesAForwardedCall(t *testing.T) {
	l := &lease{}
	a := newReplica(t, l, time.Minute)
	b := newReplica(t, l, time.Minute)
	l.set(b.url) // a believes b leads; b believes a does
	req, _ := http.NewRequest(http.MethodPost, b.url, strings.NewReader("x"))
	req.Header.Set(ForwardedHeader, a.url)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(NotLeaderHeader) == "" {
		t.Fatalf("a forwarded call at a replica that does not serve: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestForwarderAnswersInTheRequestsProtocol: once the hold ends, the 503
// is written by the writer the API front put in the request's context
// (CBOR, awsQuery, S3 XML); awsJson without one.
func TestForwarderAnswersInTheRequestsProtocol(t *testing.T) {
	l := &lease{}
	f := NewForwarder(Forwarder{Leader: l.get, Self: "http://self", Changes: l.changes.Wait, Hold: time.Millisecond,
		Local: func() http.Handler { return nil }})
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req = req.WithContext(awserr.WithWriter(context.Background(), func(w http.ResponseWriter, e *awserr.Error) {
		w.Header().Set("Content-Type", "application/cbor")
		w.WriteHeader(e.Status)
		io.WriteString(w, e.Code)
	}))
	w := httptest.NewRecorder()
	f.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Content-Type") != "application/cbor" || w.Body.String() != "ServiceUnavailable" {
		t.Fatalf("with a writer: %d %v %q", w.Code, w.Header(), w.Body)
	}
	w = httptest.NewRecorder()
	f.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"__type":"ServiceUnavailable"`) {
		t.Fatalf("without one: %d %q", w.Code, w.Body)
	}
}
