package modelmetrics

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metrics"
)

// Scraper is the loop that reads the instances that ask, every Every.
type Scraper struct {
	Hosting interface {
		RunningInstances() []hosting.RunningInstance
	}
	Store  interface{ Put([]metrics.Point) error }
	Clock  clock.Clock
	Client *http.Client // nil: one with Timeout
	Logger *slog.Logger

	agg    Aggregator
	failed map[string]bool // instances whose last scrape failed (logged once)
}

// Timeout is how long one scrape may take.
const Timeout = 5 * time.Second

// maxBody is the most of an exposition read: a model server's is a few
// hundred KiB at most; more is not a metrics page.
const maxBody = 8 << 20

// parallel is how many instances are read at once.
const parallel = 16

// Run reads and publishes every Every until ctx ends.
func (s *Scraper) Run(ctx context.Context) {
	clock.Every(ctx, s.Clock, Every, func(now time.Time) {
		if err := s.Tick(ctx, now); err != nil {
			s.logger().Error("storing model server metrics", "err", err)
		}
	})
}

func (s *Scraper) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// job is one instance to read.
type job struct {
	Target
	url   string
	names map[string]Kind
}

// Tick reads every instance that asks and stores the datapoints as of now.
func (s *Scraper) Tick(ctx context.Context, now time.Time) error {
	var jobs []job
	for _, ri := range s.Hosting.RunningInstances() {
		c, ok, err := FromEnvironment(ri.Environment)
		if !ok || err != nil || ri.Instance.Addr() == "" {
			continue // CreateModel refused a wrong one; a host has no server
		}
		jobs = append(jobs, job{Target: Target{Endpoint: ri.Endpoint, Variant: ri.Variant, Component: ri.Component, Instance: ri.Instance.ID()},
			url: "http://" + ri.Instance.Addr() + c.Path, names: c.Names})
	}
	if len(jobs) == 0 {
		s.agg = Aggregator{}
		return nil
	}
	scrapes := make([]*Scrape, len(jobs))
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			values, err := s.scrape(ctx, j)
			if err != nil {
				errs[i] = err
				return
			}
			scrapes[i] = &Scrape{Target: j.Target, Values: values}
		}()
	}
	wg.Wait()
	var answered []Scrape
	if s.failed == nil {
		s.failed = map[string]bool{}
	}
	for i, j := range jobs {
		switch {
		case errs[i] != nil && !s.failed[j.Instance]:
			s.logger().Warn("reading model server metrics", "endpoint", j.Endpoint, "variant", j.Variant, "component", j.Component, "instance", j.Instance, "err", errs[i])
			s.failed[j.Instance] = true
		case errs[i] == nil:
			delete(s.failed, j.Instance)
			answered = append(answered, *scrapes[i])
		}
	}
	if pts := s.agg.Points(now, answered); len(pts) > 0 {
		return s.Store.Put(pts)
	}
	return nil
}

func (s *Scraper) scrape(ctx context.Context, j job) (map[string]Value, error) {
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: Timeout}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("GET %s: %s", j.url, resp.Status)
	}
	return Parse(io.LimitReader(resp.Body, maxBody), j.names)
}
