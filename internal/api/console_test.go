package api

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// TestForwardedConsoleEndsWithTheReplica: a follower forwards the console
// to the leader, and a live page's forwarded stream ends when the
// follower stops, rather than holding its shutdown.
func TestForwardedConsoleEndsWithTheReplica(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		done := make(chan struct{})
		var forwarded atomic.Bool
		h := NewHandler(Config{Done: done, Forward: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			forwarded.Store(r.URL.Path == "/console/endpoints/e/live")
			<-r.Context().Done() // the leader's stream, forwarded until cancelled
		})})
		ended := make(chan struct{})
		go func() {
			req := httptest.NewRequest(http.MethodGet, "/console/endpoints/e/live", nil)
			req.Host = "127.0.0.1:8080"
			h.ServeHTTP(httptest.NewRecorder(), req)
			close(ended)
		}()
		synctest.Wait()
		if !forwarded.Load() {
			t.Fatal("the console was not forwarded")
		}
		close(done)
		synctest.Wait()
		select {
		case <-ended:
		default:
			t.Fatal("the forwarded stream outlived the replica")
		}
	})
}
