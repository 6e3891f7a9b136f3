package router

import (
	"slices"
	"sync"
	"time"
)

// Outcome is how one invocation ended, for metrics.
type Outcome int

const (
	OutcomeOK       Outcome = iota
	Outcome4XX              // the model answered 4xx
	Outcome5XX              // the model answered 5xx
	OutcomeFailed           // no answer: connection error, timeout
	OutcomeRejected         // never reached a model (no capacity)
)

// variantStats accumulates one variant's invocation metrics between two
// Collect calls. Recording takes one uncontended mutex and appends to two
// slices: well under a microsecond.
type variantStats struct {
	mu        sync.Mutex
	cur       Sample
	instances int // healthy instances, for InvocationsPerInstance
	async     bool
}

// Sample is what a variant saw between two Collect calls.
type Sample struct {
	Endpoint, Variant string
	// Component is set for an inference component's sample (Variant is
	// then empty): per copy, not per instance. Container is set for one
	// container's share of a Direct multi-container variant's sample.
	Component, Container string
	// NoCapacity counts the requests refused for want of a copy.
	NoCapacity      int
	Invocations     int
	PerInstance     float64 // Σ 1/instances at each invocation
	Errors4XX       int
	Errors5XX       int
	ModelErrors     int // non-2xx answers, connection errors, timeouts
	ModelLatency    []time.Duration
	OverheadLatency []time.Duration
	// InFlight is the number of requests in flight at Collect time.
	InFlight int
	// Instances is the number of healthy instances at Collect time.
	Instances int
	// Async is set for an asynchronous endpoint's variant.
	Async bool
	// Cold starts, in phases: the decision (the request's arrival until
	// the autoscaler accepted to start an instance), the wait (arrival until
	// an instance could take the request) and the first response (from then
	// until the answer was complete).
	ColdStartDecisions      []time.Duration
	ColdStartWaits          []time.Duration
	ColdStartFirstResponses []time.Duration
	// Multi-model endpoints: invocations that found their model loaded
	// (CacheHits) or not, what each miss waited for (downloading and
	// loading the model, unloading others to make room), and the models
	// loaded on the variant's instances at Collect time.
	CacheHits, CacheMisses                                      int
	ModelLoadingWaits, ModelDownloads, ModelLoads, ModelUnloads []time.Duration
	LoadedModels                                                int
	// Serverless is set for a serverless variant.
	Serverless *ServerlessSample
	// Fleet is set for one fleet's share of a variant's sample during a
	// blue/green deployment: the endpoint configuration it runs.
	Fleet string
}

// ServerlessSample is what a serverless variant serves: at Collect time,
// the invocations in flight (waiting for an environment too) and those of
// them on provisioned concurrency, against its configuration; since the
// last Collect, the invocations admitted on provisioned concurrency and
// those that spilled over to on-demand capacity (counted only on a
// variant with provisioned concurrency).
type ServerlessSample struct {
	Serverless
	InFlight, ProvisionedInFlight                int
	ProvisionedInvocations, SpilloverInvocations int
}

// maxLatencySamples bounds the latencies kept per collection interval; at
// higher rates later requests still count but their latencies are dropped.
const maxLatencySamples = 1 << 16

func (s *variantStats) record(o Outcome, model, overhead time.Duration) {
	s.mu.Lock()
	c := &s.cur
	if o != OutcomeRejected {
		c.Invocations++
		if s.instances > 0 {
			c.PerInstance += 1 / float64(s.instances)
		}
		switch o {
		case Outcome4XX:
			c.Errors4XX++
			c.ModelErrors++
		case Outcome5XX:
			c.Errors5XX++
			c.ModelErrors++
		case OutcomeFailed:
			c.ModelErrors++
		}
		if len(c.ModelLatency) < maxLatencySamples {
			c.ModelLatency = append(c.ModelLatency, model)
			c.OverheadLatency = append(c.OverheadLatency, overhead)
		}
	}
	s.mu.Unlock()
}

func (s *variantStats) cache(hit bool) {
	s.mu.Lock()
	if hit {
		s.cur.CacheHits++
	} else {
		s.cur.CacheMisses++
	}
	s.mu.Unlock()
}

func (s *variantStats) loaded(wait, download, load time.Duration, unloads []time.Duration) {
	s.mu.Lock()
	c := &s.cur
	c.ModelLoadingWaits = append(c.ModelLoadingWaits, wait)
	if download > 0 {
		c.ModelDownloads = append(c.ModelDownloads, download)
	}
	c.ModelLoads = append(c.ModelLoads, load)
	c.ModelUnloads = append(c.ModelUnloads, unloads...)
	s.mu.Unlock()
}

// admitted counts an invocation of a serverless variant with provisioned
// concurrency: on it, or spilled over.
func (s *variantStats) admitted(provisioned bool) {
	s.mu.Lock()
	if s.cur.Serverless == nil {
		s.cur.Serverless = &ServerlessSample{}
	}
	if provisioned {
		s.cur.Serverless.ProvisionedInvocations++
	} else {
		s.cur.Serverless.SpilloverInvocations++
	}
	s.mu.Unlock()
}

// setInstances sets the healthy instances invocations are counted per,
// and whether the endpoint is asynchronous.
func (s *variantStats) setInstances(n int, async bool) {
	s.mu.Lock()
	s.instances, s.async = n, async
	s.mu.Unlock()
}

func (s *variantStats) noCapacity() {
	s.mu.Lock()
	s.cur.NoCapacity++
	s.mu.Unlock()
}

func (s *variantStats) coldStart(decision, waited time.Duration) {
	s.mu.Lock()
	if decision > 0 {
		s.cur.ColdStartDecisions = append(s.cur.ColdStartDecisions, decision)
	}
	s.cur.ColdStartWaits = append(s.cur.ColdStartWaits, waited)
	s.mu.Unlock()
}

func (s *variantStats) coldResponse(d time.Duration) {
	s.mu.Lock()
	s.cur.ColdStartFirstResponses = append(s.cur.ColdStartFirstResponses, d)
	s.mu.Unlock()
}

func (s *variantStats) take() Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.cur
	out.Async = s.async
	s.cur = Sample{
		ModelLatency:    make([]time.Duration, 0, cap(out.ModelLatency)),
		OverheadLatency: make([]time.Duration, 0, cap(out.OverheadLatency)),
	}
	return out
}

type statsKey struct{ endpoint, variant, component, container, fleet string }

// stats returns the accumulator of a variant, creating it. Callers hold r.mu.
func (r *Router) stats(endpoint, variant string) *variantStats {
	return r.statsOf(statsKey{endpoint: endpoint, variant: variant})
}

// componentStats returns the accumulator of an inference component.
func (r *Router) componentStats(endpoint, component string) *variantStats {
	return r.statsOf(statsKey{endpoint: endpoint, component: component})
}

func (r *Router) statsOf(k statsKey) *variantStats {
	s := r.variantStats[k]
	if s == nil {
		s = &variantStats{}
		r.variantStats[k] = s
	}
	return s
}

// Collect returns, for every variant in the routing table, what it saw since
// the last call. Variants of deleted endpoints are reported one last time.
func (r *Router) Collect() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	table := *r.table.Load()
	var out []Sample
	for k, s := range r.variantStats {
		sample := s.take()
		sample.Endpoint, sample.Variant, sample.Component, sample.Container, sample.Fleet = k.endpoint, k.variant, k.component, k.container, k.fleet
		route := table[k.endpoint]
		live := false
		if route != nil {
			vs := route.variants
			if k.component != "" {
				vs = nil
				if c := route.components[k.component]; c != nil {
					vs = []*variantRoute{c}
				}
			}
			for _, v := range vs {
				if k.container != "" && v.containers[k.container] == nil {
					continue
				}
				if k.fleet != "" {
					// One fleet of a blue/green deployment: its own instances.
					switch {
					case v.name != k.variant:
						continue
					case v.green != nil && v.green.fleet == s:
						v = v.green
					case v.fleet != s:
						continue
					}
				}
				if v.name == k.variant || k.component != "" {
					live = true
					backends := v.backends
					if k.fleet == "" && v.green != nil { // the variant counts both fleets
						backends = append(slices.Clip(backends), v.green.backends...)
					}
					sample.Instances = len(backends)
					for _, b := range backends {
						sample.InFlight += int(b.outstanding.Load())
						sample.LoadedModels += b.models.count()
					}
					if v.gate != nil {
						if sample.Serverless == nil {
							sample.Serverless = &ServerlessSample{}
						}
						sample.Serverless.Serverless = *v.serverless
						sample.Serverless.InFlight = int(v.gate.inflight.Load())
						sample.Serverless.ProvisionedInFlight = int(v.gate.provisioned.Load())
					}
				}
			}
		}
		if !live {
			delete(r.variantStats, k)
		}
		out = append(out, sample)
	}
	return out
}
