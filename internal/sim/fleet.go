package sim

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/fault"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/runtime"
)

// fleet is the simulated endpoint's instances, as hosting reports and
// changes them (the autoscaler's Hosting): an instance takes Startup to
// become ready, and a capacity change is refused while one is starting
// (the endpoint is Updating), as live. It is also the endpoint as ebb's
// emitter sees it, a router's samples (Collect) and the ready instances'
// usage (RunningInstances), so the simulation publishes its metrics
// through the emitter itself.
type fleet struct {
	mu        sync.Mutex
	clk       clock.Clock
	startup   time.Duration
	instances []*instance // by the time they are ready
	started   int         // instances started so far, for their IDs

	window router.Sample // what was served since the last Collect
	carry  float64       // requests served but not yet whole
}

// instance is one simulated instance: when it is ready, and the CPU time
// it has used (its share of the fleet's busy slots).
type instance struct {
	id      string
	readyAt time.Time
	cpu     time.Duration
	now     func() time.Time
}

func (f *fleet) count(now time.Time) (ready, total int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, in := range f.instances {
		if !in.readyAt.After(now) {
			ready++
		}
	}
	return ready, len(f.instances)
}

// set changes the instance count: new instances start, and the ones given
// up are those still starting, then the newest.
func (f *fleet) set(n int, now time.Time, ready bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.instances) < n {
		at := now.Add(f.startup)
		if ready {
			at = now
		}
		f.started++
		f.instances = append(f.instances, &instance{id: "sim-" + strconv.Itoa(f.started), readyAt: at, now: f.clk.Now})
	}
	slices.SortStableFunc(f.instances, func(a, b *instance) int { return a.readyAt.Compare(b.readyAt) })
	f.instances = f.instances[:n]
}

// served records a second of service: requests answered, requests in
// flight at its end (waiting and in service) and the share of the ready
// instances' slots they kept busy, which is each instance's CPU.
func (f *fleet) served(now time.Time, requests, inFlight, busy float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ready []*instance
	for _, in := range f.instances {
		if !in.readyAt.After(now) {
			ready = append(ready, in)
		}
	}
	f.carry += requests
	whole := int(f.carry)
	f.carry -= float64(whole)
	f.window.Invocations += whole
	f.window.InFlight, f.window.Instances = int(inFlight+0.5), len(ready)
	if len(ready) > 0 {
		f.window.PerInstance += float64(whole) / float64(len(ready))
	}
	for _, in := range ready {
		in.cpu += time.Duration(busy * float64(time.Second))
	}
}

// Collect hands the emitter what was served since it last asked.
func (f *fleet) Collect() []router.Sample {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.window
	s.Endpoint, s.Variant = endpointName, variantName
	f.window = router.Sample{}
	return []router.Sample{s}
}

// RunningInstances lists the ready instances for the emitter to sample.
func (f *fleet) RunningInstances() []hosting.RunningInstance {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []hosting.RunningInstance
	now := f.clk.Now()
	for _, in := range f.instances {
		if !in.readyAt.After(now) {
			out = append(out, hosting.RunningInstance{Endpoint: endpointName, Variant: variantName, Instance: in})
		}
	}
	return out
}

// Startups reports none: a simulated instance's start is the model's
// Startup, which the simulation charges in its own way.
func (f *fleet) Startups() []hosting.Startup { return nil }

// An instance is a runtime.Instance for the emitter, which asks only its
// ID and usage; the rest says it runs, ready, and serves nowhere.
func (in *instance) ID() string                     { return in.id }
func (in *instance) Addr() string                   { return "" }
func (in *instance) Ready() <-chan struct{}         { return closed }
func (in *instance) Done() <-chan struct{}          { return nil }
func (in *instance) Err() error                     { return nil }
func (in *instance) Stop(ctx context.Context) error { return nil }

// Stats reports the CPU the instance used; a simulated instance has no
// memory or disk to report.
func (in *instance) Stats() (runtime.Stats, error) {
	return runtime.Stats{CPUTime: in.cpu, NoDisk: true, At: in.now()}, nil
}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

var _ runtime.Instance = (*instance)(nil)

func (f *fleet) DescribeEndpoint(ctx context.Context, name string) (hosting.EndpointView, error) {
	now := f.clk.Now()
	ready, total := f.count(now)
	status := hosting.StatusInService
	if ready < total {
		status = hosting.StatusUpdating
	}
	return hosting.EndpointView{Name: endpointName, Status: status, Variants: []hosting.VariantView{{Name: variantName, DesiredCount: total, CurrentCount: ready}}}, nil
}

func (f *fleet) UpdateEndpointWeightsAndCapacities(ctx context.Context, name string, c []hosting.WeightAndCapacity) (string, error) {
	now := f.clk.Now()
	if ready, total := f.count(now); ready < total {
		return "", fault.Errorf(hosting.ErrInProgress, "Cannot update in-progress endpoint %q.", name)
	}
	f.set(*c[0].DesiredInstanceCount, now, false)
	return "arn", nil
}

func (f *fleet) DescribeInferenceComponent(context.Context, string) (hosting.ComponentView, error) {
	return hosting.ComponentView{}, fault.Errorf(hosting.ErrNotFound, "the simulation has no inference components")
}

func (f *fleet) UpdateInferenceComponentRuntimeConfig(context.Context, string, int) (string, error) {
	return "", fault.Errorf(hosting.ErrNotFound, "the simulation has no inference components")
}
