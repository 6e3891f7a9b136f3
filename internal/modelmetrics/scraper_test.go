package modelmetrics

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/runtime"
)

// server is an instance's model server: it answers /metrics with body.
type server struct {
	runtime.Instance // only ID and Addr are used
	id, addr         string
}

func (s server) ID() string   { return s.id }
func (s server) Addr() string { return s.addr }

type running []hosting.RunningInstance

func (r running) RunningInstances() []hosting.RunningInstance { return r }

type store struct {
	mu  sync.Mutex
	pts []metrics.Point
}

func (s *store) Put(p []metrics.Point) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pts = append(s.pts, p...)
	return nil
}

func modelServer(t testing.TB, body string, status int) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestScraper reads real HTTP servers: the ones whose model asks, at its
// path; one that fails publishes nothing, and one that does not ask is not
// read.
func TestScraper(t *testing.T) {
	vllm, err := os.ReadFile("testdata/vllm.txt")
	if err != nil {
		t.Fatal(err)
	}
	asks := map[string]string{PathKey: "/metrics"}
	hs := running{
		{Endpoint: "llm", Variant: "AllTraffic", Instance: server{id: "i1", addr: modelServer(t, string(vllm), 200)}, Environment: asks},
		{Endpoint: "llm", Variant: "AllTraffic", Instance: server{id: "i2", addr: modelServer(t, "oops", 500)}, Environment: asks},
		{Endpoint: "llm", Variant: "AllTraffic", Instance: server{id: "i3", addr: "127.0.0.1:1"}, Environment: asks}, // nothing listens
		{Endpoint: "other", Variant: "AllTraffic", Instance: server{id: "i4", addr: modelServer(t, string(vllm), 200)}},
	}
	st := &store{}
	s := &Scraper{Hosting: hs, Store: st}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	if err := s.Tick(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	if p := point(st.pts, "vllm:num_requests_waiting", "llm", "AllTraffic"); p == nil || p.Value != 5 || p.Series.Namespace != Namespace {
		t.Fatalf("the variant's waiting requests: %+v", p)
	}
	if p := point(st.pts, ScrapedTargets, "llm", "AllTraffic"); p == nil || p.Value != 1 {
		t.Fatalf("targets that answered: %+v", p)
	}
	for _, p := range st.pts {
		for _, d := range p.Series.Dimensions {
			if d.Value == "other" || d.Value == "i2" || d.Value == "i3" {
				t.Fatalf("published for a target that failed or did not ask: %+v", p)
			}
		}
	}
	if !s.failed["i2"] || !s.failed["i3"] {
		t.Fatalf("failures not kept: %v", s.failed)
	}
}
