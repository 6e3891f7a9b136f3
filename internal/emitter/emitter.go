// Package emitter publishes the metrics SageMaker publishes for endpoints:
// every second it turns the router's per-variant counters into AWS/SageMaker
// datapoints, and every SampleEvery it turns instance resource usage into
// /aws/sagemaker/Endpoints datapoints, in the metrics store.
//
// Like SageMaker, a variant that saw no traffic in a minute reports zero
// Invocations for it (not nothing), so that scale-in policies see an idle
// endpoint; an asynchronous endpoint reports no Invocations,
// InvocationsPerInstance or OverheadLatency at all, as SageMaker's do not. Timestamps come from the injected clock, so under --time-scale
// the metrics run on scaled time like everything else.
package emitter

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/runtime"
)

// Namespaces and units of SageMaker's endpoint metrics.
const (
	InvocationNamespace = "AWS/SageMaker"
	InstanceNamespace   = "/aws/sagemaker/Endpoints"
	// ComponentNamespace holds the utilization of inference components'
	// copies, each relative to what the copy reserved.
	ComponentNamespace = "/aws/sagemaker/InferenceComponents"
	// ColdStartNamespace holds ebb's own cold-start metrics.
	ColdStartNamespace = "ebb/ColdStart"
)

// DefaultSampleEvery is how often instance resource usage is sampled.
const DefaultSampleEvery = 10 * time.Second

// Emitter is the loop. Its fields are its dependencies, small and declared here.
type Emitter struct {
	Router  interface{ Collect() []router.Sample }
	Hosting interface {
		RunningInstances() []hosting.RunningInstance
		Startups() []hosting.Startup
	}
	Store       interface{ Put([]metrics.Point) error }
	Clock       clock.Clock
	SampleEvery time.Duration
	Logger      *slog.Logger
	// Prometheus, if set, also receives the metrics for /metrics.
	Prometheus *Prometheus
	// NoIdleZeros leaves out the zeros of idle minutes: a follower
	// replica's emitter, whose idle minute says nothing of the endpoint's
	// (the leader's emitter reports those).
	NoIdleZeros bool

	minute     map[variantKey]*minuteState
	lastCPU    map[string]runtime.Stats // by instance ID
	lastSample time.Time
}

type variantKey struct{ endpoint, variant, component string }

type minuteState struct {
	start       time.Time // the minute being counted
	invocations int
}

// Run emits every second until ctx ends.
func (e *Emitter) Run(ctx context.Context) {
	if e.SampleEvery == 0 {
		e.SampleEvery = DefaultSampleEvery
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	clock.Every(ctx, e.Clock, time.Second, func(now time.Time) {
		if err := e.Tick(now); err != nil {
			e.Logger.Error("storing endpoint metrics", "err", err)
		}
	})
}

func dims(endpoint, variant string) []metrics.Dimension {
	return []metrics.Dimension{{Name: "EndpointName", Value: endpoint}, {Name: "VariantName", Value: variant}}
}

// Tick collects and stores one second of metrics as of now.
func (e *Emitter) Tick(now time.Time) error {
	if e.minute == nil {
		e.minute = map[variantKey]*minuteState{}
		e.lastCPU = map[string]runtime.Stats{}
	}
	pts := make([]metrics.Point, 0, 32) // a few variants' second, without growing
	var ds []metrics.Dimension          // the dimensions of the sample at hand
	add := func(ns, name, unit string, p metrics.Point) {
		p.Series = metrics.Series{Namespace: ns, MetricName: name, Dimensions: ds}
		p.Unit = unit
		if p.Timestamp.IsZero() {
			p.Timestamp = now
		}
		pts = append(pts, p)
	}
	thisMinute := now.Truncate(time.Minute)
	for _, s := range e.Router.Collect() {
		e.Prometheus.observe(s)
		k := variantKey{s.Endpoint, s.Variant, s.Component + "\x00" + s.Container + "\x00" + s.Fleet}
		// An inference component's metrics are per copy, under its name
		// alone, as SageMaker publishes them.
		perInstance, concurrent := "InvocationsPerInstance", "ConcurrentRequestsPerModel"
		ds = dims(s.Endpoint, s.Variant)
		if s.Container != "" {
			// One container of a Direct multi-container endpoint.
			ds = append(ds, metrics.Dimension{Name: "ContainerName", Value: s.Container})
		}
		if s.Fleet != "" {
			// One fleet of a blue/green deployment, by the endpoint
			// configuration it runs: an alarm can watch the new one alone.
			ds = append(ds, metrics.Dimension{Name: "EndpointConfigName", Value: s.Fleet})
		}
		if s.Component != "" {
			ds, perInstance, concurrent = []metrics.Dimension{{Name: "InferenceComponentName", Value: s.Component}}, "InvocationsPerCopy", "ConcurrentRequestsPerCopy"
		}
		idleZeros := []string{"Invocations", perInstance, "Invocation4XXErrors", "Invocation5XXErrors", "InvocationModelErrors"}
		if sl := s.Serverless; sl != nil {
			// SageMaker publishes no per-instance metric of a serverless
			// variant, and its own family instead.
			perInstance, concurrent = "", ""
			idleZeros = slices.Delete(idleZeros, 1, 2)
			if sl.ProvisionedConcurrency > 0 {
				idleZeros = append(idleZeros, "ServerlessProvisionedConcurrencyInvocations", "ServerlessProvisionedConcurrencySpilloverInvocations")
			}
			pts = append(pts, serverlessPoints(sl, ds, now)...)
		}
		if s.NoCapacity > 0 {
			add(InvocationNamespace, "NoCapacityInvocationFailures", "None", metrics.Point{Value: 1, Count: float64(s.NoCapacity)})
		}
		m := e.minute[k]
		if m == nil {
			m = &minuteState{start: thisMinute}
			e.minute[k] = m
		}
		if !m.start.Equal(thisMinute) {
			if m.invocations == 0 && !e.NoIdleZeros && !s.Async {
				// An idle minute reports zeros, as SageMaker's endpoints do.
				for _, name := range idleZeros {
					add(InvocationNamespace, name, "None", metrics.Point{Timestamp: m.start, Value: 0})
				}
			}
			m.start, m.invocations = thisMinute, 0
		}
		m.invocations += s.Invocations
		if s.Instances > 0 && concurrent != "" {
			add(InvocationNamespace, concurrent, "None",
				metrics.Point{Value: float64(s.InFlight) / float64(s.Instances)})
		}
		// Multi-model endpoints: the model cache, and what misses waited for.
		if s.LoadedModels > 0 || s.CacheHits+s.CacheMisses > 0 {
			add(InstanceNamespace, "LoadedModelCount", "None", metrics.Point{Value: float64(s.LoadedModels)})
		}
		if n := s.CacheHits + s.CacheMisses; n > 0 {
			add(InvocationNamespace, "ModelCacheHit", "None", metrics.Point{Values: []float64{1, 0}, Counts: []float64{float64(s.CacheHits), float64(s.CacheMisses)}})
		}
		for _, m := range [...]durations{{"ModelLoadingWaitTime", s.ModelLoadingWaits}, {"ModelDownloadingTime", s.ModelDownloads},
			{"ModelLoadingTime", s.ModelLoads}, {"ModelUnloadingTime", s.ModelUnloads}} {
			if len(m.ds) > 0 {
				add(InvocationNamespace, m.name, "Microseconds", metrics.Point{Values: micros(m.ds)})
			}
		}
		if s.Invocations == 0 {
			continue
		}
		n := float64(s.Invocations)
		if !s.Async { // an async endpoint's traffic shows in its own metrics (asyncinv)
			add(InvocationNamespace, "Invocations", "None", metrics.Point{Value: 1, Count: n})
		}
		if !s.Async && perInstance != "" {
			add(InvocationNamespace, perInstance, "None",
				metrics.Point{Set: &metrics.StatSet{SampleCount: n, Sum: s.PerInstance, Minimum: s.PerInstance / n, Maximum: s.PerInstance / n}})
		}
		for _, e := range [...]struct {
			name string
			n    int
		}{{"Invocation4XXErrors", s.Errors4XX}, {"Invocation5XXErrors", s.Errors5XX}, {"InvocationModelErrors", s.ModelErrors}} {
			add(InvocationNamespace, e.name, "None", metrics.Point{Values: []float64{1, 0}, Counts: []float64{float64(e.n), n - float64(e.n)}})
		}
		// ebb's own cold-start metrics, phase by phase (see router.Sample).
		for _, m := range [...]durations{{"ColdStartDecisionTime", s.ColdStartDecisions},
			{"ColdStartWaitTime", s.ColdStartWaits}, {"ColdStartFirstResponseTime", s.ColdStartFirstResponses}} {
			if len(m.ds) > 0 {
				add(ColdStartNamespace, m.name, "Milliseconds", metrics.Point{Values: millis(m.ds)})
			}
		}
		add(InvocationNamespace, "ModelLatency", "Microseconds", metrics.Point{Values: micros(s.ModelLatency)})
		if !s.Async {
			add(InvocationNamespace, "OverheadLatency", "Microseconds", metrics.Point{Values: micros(s.OverheadLatency)})
		}
	}
	pts = append(pts, e.startupPoints(now)...)
	if now.Sub(e.lastSample) >= e.SampleEvery {
		e.lastSample = now
		pts = append(pts, e.instancePoints(now)...)
	}
	if len(pts) == 0 {
		return nil
	}
	return e.Store.Put(dropEmpty(pts))
}

// serverlessPoints are a serverless variant's second, as SageMaker's
// serverless monitoring page lists them: its concurrent executions
// against MaxConcurrency, and with provisioned concurrency, the executions
// on it (a count, and against what is provisioned: a ratio of 0 to 1,
// which SageMakerVariantProvisionedConcurrencyUtilization tracks) and the
// invocations it served or that spilled over to on-demand capacity.
func serverlessPoints(sl *router.ServerlessSample, ds []metrics.Dimension, now time.Time) []metrics.Point {
	point := func(name string, p metrics.Point) metrics.Point {
		p.Series, p.Unit, p.Timestamp = metrics.Series{Namespace: InvocationNamespace, MetricName: name, Dimensions: ds}, "None", now
		return p
	}
	pts := []metrics.Point{point("ServerlessConcurrentExecutionsUtilization", metrics.Point{Value: float64(sl.InFlight) / float64(sl.MaxConcurrency)})}
	if p := sl.ProvisionedConcurrency; p > 0 {
		pts = append(pts, point("ServerlessProvisionedConcurrencyExecutions", metrics.Point{Value: float64(sl.ProvisionedInFlight)}),
			point("ServerlessProvisionedConcurrencyUtilization", metrics.Point{Value: float64(sl.ProvisionedInFlight) / float64(p)}))
		for name, n := range map[string]int{"ServerlessProvisionedConcurrencyInvocations": sl.ProvisionedInvocations,
			"ServerlessProvisionedConcurrencySpilloverInvocations": sl.SpilloverInvocations} {
			if n > 0 {
				pts = append(pts, point(name, metrics.Point{Value: 1, Count: float64(n)}))
			}
		}
	}
	return pts
}

// startupPoints publishes each instance's startup, once: how long it took
// from its start to its first healthy ping (InstanceStartupTime), and for
// a serverless environment SageMaker's ModelSetupTime, the time to launch
// its compute.
func (e *Emitter) startupPoints(now time.Time) []metrics.Point {
	var pts []metrics.Point
	for _, st := range e.Hosting.Startups() {
		d := dims(st.Endpoint, st.Variant)
		pts = append(pts, metrics.Point{Series: metrics.Series{Namespace: ColdStartNamespace, MetricName: "InstanceStartupTime", Dimensions: d},
			Unit: "Milliseconds", Timestamp: now, Value: float64(st.Took.Milliseconds())})
		if st.Serverless {
			pts = append(pts, metrics.Point{Series: metrics.Series{Namespace: InvocationNamespace, MetricName: "ModelSetupTime", Dimensions: d},
				Unit: "Microseconds", Timestamp: now, Value: float64(st.Took.Microseconds())})
		}
	}
	return pts
}

// copyPoints samples a copy of an inference component: its CPU, memory and
// GPU use normalized to what it reserved (0-100: a copy of 2 cores using
// both reports 100), one datapoint per copy under the component's name.
func (e *Emitter) copyPoints(ri hosting.RunningInstance, st runtime.Stats, now time.Time) []metrics.Point {
	var pts []metrics.Point
	d := []metrics.Dimension{{Name: "InferenceComponentName", Value: ri.Component}}
	point := func(name string, v float64) {
		pts = append(pts, metrics.Point{Series: metrics.Series{Namespace: ComponentNamespace, MetricName: name, Dimensions: d}, Unit: "Percent", Timestamp: now, Value: v})
	}
	id := ri.Instance.ID()
	cores := ri.Needs.NumberOfCpuCoresRequired
	if cores <= 0 {
		cores = 1 // a copy that reserved no cores is measured against one
	}
	if prev, ok := e.lastCPU[id]; ok && !st.NoUsage && !prev.NoUsage && st.At.After(prev.At) {
		point("CPUUtilizationNormalized", 100*(st.CPUTime-prev.CPUTime).Seconds()/st.At.Sub(prev.At).Seconds()/cores)
	}
	e.lastCPU[id] = st
	mem := ri.Needs.MaxMemoryRequiredInMb
	if mem == 0 {
		mem = ri.Needs.MinMemoryRequiredInMb
	}
	if mem > 0 && !st.NoUsage {
		point("MemoryUtilizationNormalized", 100*float64(st.MemoryBytes)/(float64(mem)*(1<<20)))
	}
	if g, n := st.GPU, math.Ceil(ri.Needs.NumberOfAcceleratorDevicesRequired); g != nil && n > 0 {
		point("GPUUtilizationNormalized", g.Utilization/n)
		point("GPUMemoryUtilizationNormalized", g.MemoryUtilization/n)
	}
	return pts
}

// instancePoints samples every healthy instance: CPU (summed over cores,
// 0-100 x vCPUs), memory and disk (0-100), one datapoint per instance so that
// Average is the mean over instances.
func (e *Emitter) instancePoints(now time.Time) []metrics.Point {
	var pts []metrics.Point
	seen := map[string]bool{}
	for _, ri := range e.Hosting.RunningInstances() {
		id := ri.Instance.ID()
		seen[id] = true
		d := dims(ri.Endpoint, ri.Variant)
		st, err := ri.Instance.Stats()
		if err != nil {
			continue
		}
		if ri.Component != "" {
			pts = append(pts, e.copyPoints(ri, st, now)...)
			continue
		}
		if ri.Serverless {
			// Of a serverless environment SageMaker publishes its memory
			// alone, among the invocation metrics (its serverless page
			// lists MemoryUtilization with them, in AWS/SageMaker).
			if !st.NoUsage {
				pts = append(pts, metrics.Point{Series: metrics.Series{Namespace: InvocationNamespace, MetricName: "MemoryUtilization", Dimensions: d},
					Unit: "Percent", Timestamp: now, Value: 100 * float64(st.MemoryBytes) / (float64(ri.Type.MemoryMiB) * (1 << 20))})
			}
			continue
		}
		point := func(name string, v float64) {
			e.Prometheus.instance(ri.Endpoint, ri.Variant, id, name, v)
			pts = append(pts, metrics.Point{Series: metrics.Series{Namespace: InstanceNamespace, MetricName: name, Dimensions: d}, Unit: "Percent", Timestamp: now, Value: v})
		}
		if prev, ok := e.lastCPU[id]; ok && !st.NoUsage && !prev.NoUsage && st.At.After(prev.At) {
			point("CPUUtilization", 100*(st.CPUTime-prev.CPUTime).Seconds()/st.At.Sub(prev.At).Seconds())
		}
		e.lastCPU[id] = st
		if ri.Type.MemoryMiB > 0 && !st.NoUsage {
			point("MemoryUtilization", 100*float64(st.MemoryBytes)/(float64(ri.Type.MemoryMiB)*(1<<20)))
		}
		if !st.NoDisk {
			point("DiskUtilization", st.DiskPercent)
		}
		if g := st.GPU; g != nil {
			point("GPUUtilization", g.Utilization)
			point("GPUMemoryUtilization", g.MemoryUtilization)
		}
	}
	for id := range e.lastCPU {
		if !seen[id] {
			delete(e.lastCPU, id)
			e.Prometheus.forget(id)
		}
	}
	return pts
}

// durations is a metric of durations.
type durations struct {
	name string
	ds   []time.Duration
}

func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

func micros(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Microsecond)
	}
	return out
}

// dropEmpty removes points with no values (latencies of a second whose
// samples were all dropped), which would otherwise count as a zero.
func dropEmpty(pts []metrics.Point) []metrics.Point {
	out := pts[:0]
	for _, p := range pts {
		if p.Values != nil && len(p.Values) == 0 {
			continue
		}
		out = append(out, p)
	}
	return out
}
