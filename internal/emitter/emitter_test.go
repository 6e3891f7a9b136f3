package emitter

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/runtime"
)

type fakeRouter struct{ next []router.Sample }

func (f *fakeRouter) Collect() []router.Sample {
	out := f.next
	f.next = []router.Sample{{Endpoint: "ep", Variant: "v", Instances: 2}}
	return out
}

type fakeInstance struct {
	runtime.Instance
	stats runtime.Stats
}

func (f *fakeInstance) ID() string                    { return "i-1" }
func (f *fakeInstance) Stats() (runtime.Stats, error) { return f.stats, nil }

type fakeHosting struct{ in *fakeInstance }

func (fakeHosting) Startups() []hosting.Startup { return nil }

func (f fakeHosting) RunningInstances() []hosting.RunningInstance {
	typ, _ := runtime.LookupInstanceType("ml.m5.large") // 2 vCPUs, 8 GiB
	return []hosting.RunningInstance{{Endpoint: "ep", Variant: "v", Type: typ, Instance: f.in}}
}

var key = func(name string) metrics.Series {
	return metrics.Series{Namespace: InvocationNamespace, MetricName: name, Dimensions: dims("ep", "v")}
}

func TestTick(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	store, _ := metrics.Open(nil)
	in := &fakeInstance{stats: runtime.Stats{At: t0, MemoryBytes: 2 << 30, DiskPercent: 40}}
	r := &fakeRouter{next: []router.Sample{{
		Endpoint: "ep", Variant: "v", Instances: 2, InFlight: 3,
		Invocations: 4, PerInstance: 2, Errors4XX: 1, ModelErrors: 1,
		ModelLatency:    []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond},
		OverheadLatency: []time.Duration{10 * time.Microsecond, 10 * time.Microsecond, 10 * time.Microsecond, 10 * time.Microsecond},
	}}}
	e := &Emitter{Router: r, Hosting: fakeHosting{in}, Store: store, Clock: clock.NewFake(t0), SampleEvery: 10 * time.Second}
	for i := 0; i <= 130; i++ {
		now := t0.Add(time.Duration(i) * time.Second)
		if i == 10 {
			// 10 s later the instance has used 5 s of CPU: 50% (of 200%).
			in.stats = runtime.Stats{At: now, CPUTime: 5 * time.Second, MemoryBytes: 2 << 30, DiskPercent: 40}
		}
		if err := e.Tick(now); err != nil {
			t.Fatal(err)
		}
	}
	end := t0.Add(3 * time.Minute)
	get := func(name string, period time.Duration, q ...float64) []metrics.Datapoint {
		s := key(name)
		if name == "CPUUtilization" || name == "MemoryUtilization" || name == "DiskUtilization" {
			s.Namespace = InstanceNamespace
		}
		dps, err := store.Query(s, "", t0, end, period, q, end)
		if err != nil {
			t.Fatal(err)
		}
		return dps
	}
	inv := get("Invocations", time.Minute)
	if len(inv) != 2 || inv[0].Stats.Sum != 4 || inv[1].Stats.Sum != 0 || inv[1].Stats.SampleCount != 1 {
		t.Fatalf("Invocations per minute = %+v; want 4, then an idle minute's 0", inv)
	}
	if got := get("InvocationsPerInstance", time.Minute)[0].Stats.Sum; got != 2 {
		t.Errorf("InvocationsPerInstance = %v, want 2", got)
	}
	if got := get("Invocation4XXErrors", time.Minute)[0].Stats; got.Sum != 1 || got.Average() != 0.25 {
		t.Errorf("4XX = %+v, want sum 1, average 0.25", got)
	}
	lat := get("ModelLatency", time.Minute, 0.5)[0]
	if lat.Stats.Maximum != 4000 || lat.Stats.Average() != 2500 || lat.Unit != "Microseconds" {
		t.Errorf("ModelLatency = %+v", lat)
	}
	if c := get("ConcurrentRequestsPerModel", time.Second); len(c) == 0 || c[0].Stats.Maximum != 1.5 {
		t.Errorf("ConcurrentRequestsPerModel = %+v, want 1.5 (3 in flight / 2 instances)", c)
	}
	cpu := get("CPUUtilization", time.Minute)
	if len(cpu) == 0 || math.Abs(cpu[0].Stats.Maximum-50) > 0.01 {
		t.Errorf("CPUUtilization = %+v, want 50", cpu)
	}
	if mem := get("MemoryUtilization", time.Minute); mem[0].Stats.Maximum != 25 {
		t.Errorf("MemoryUtilization = %+v, want 25 (2 of 8 GiB)", mem)
	}
	if d := get("DiskUtilization", time.Minute); d[0].Stats.Average() != 40 {
		t.Errorf("DiskUtilization = %+v", d)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	store, _ := metrics.Open(nil)
	e := &Emitter{Router: &fakeRouter{}, Hosting: fakeHosting{&fakeInstance{}}, Store: store, Clock: clock.NewFake(time.Unix(0, 0))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	cancel()
	<-done
}

// TestAsyncEndpointMetrics: an asynchronous endpoint publishes no
// Invocations, InvocationsPerInstance or OverheadLatency (nor their idle
// zeros), as SageMaker's do not; ModelLatency and the error counts it does.
func TestAsyncEndpointMetrics(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	store, _ := metrics.Open(nil)
	r := &asyncRouter{next: []router.Sample{{Endpoint: "ep", Variant: "v", Instances: 1, Async: true, Invocations: 2, PerInstance: 2, Errors5XX: 1, ModelErrors: 1,
		ModelLatency: []time.Duration{time.Millisecond, time.Millisecond}, OverheadLatency: []time.Duration{time.Microsecond, time.Microsecond}}}}
	e := &Emitter{Router: r, Hosting: fakeHosting{&fakeInstance{}}, Store: store, Clock: clock.NewFake(t0)}
	for i := 0; i <= 130; i++ {
		if err := e.Tick(t0.Add(time.Duration(i) * time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	end := t0.Add(3 * time.Minute)
	for name, want := range map[string]bool{"Invocations": false, "InvocationsPerInstance": false, "OverheadLatency": false, "ModelLatency": true, "Invocation5XXErrors": true} {
		dps, _ := store.Query(key(name), "", t0, end, time.Minute, nil, end)
		if got := len(dps) > 0; got != want {
			t.Errorf("%s published: %v, want %v (%+v)", name, got, want, dps)
		}
	}
}

type asyncRouter struct{ next []router.Sample }

func (f *asyncRouter) Collect() []router.Sample {
	out := f.next
	f.next = []router.Sample{{Endpoint: "ep", Variant: "v", Instances: 1, Async: true}}
	return out
}

type copyHosting struct{ in *fakeInstance }

func (copyHosting) Startups() []hosting.Startup { return nil }

func (f copyHosting) RunningInstances() []hosting.RunningInstance {
	typ, _ := runtime.LookupInstanceType("ml.c5.xlarge")
	return []hosting.RunningInstance{{Endpoint: "ep", Variant: "v", Type: typ, Instance: f.in, Component: "ic",
		Needs: hosting.Requirements{NumberOfCpuCoresRequired: 2, MinMemoryRequiredInMb: 1024}}}
}

// TestComponentMetrics: a copy's utilization is relative to what it
// reserved, under its component's name; its invocations are per copy.
func TestComponentMetrics(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	store, _ := metrics.Open(nil)
	in := &fakeInstance{stats: runtime.Stats{At: t0, MemoryBytes: 512 << 20}}
	r := &fakeRouter{next: []router.Sample{{Endpoint: "ep", Component: "ic", Instances: 2, InFlight: 1, Invocations: 3, PerInstance: 1.5, NoCapacity: 2,
		ModelLatency: []time.Duration{time.Millisecond}, OverheadLatency: []time.Duration{time.Microsecond}}}}
	e := &Emitter{Router: r, Hosting: copyHosting{in}, Store: store, Clock: clock.NewFake(t0), SampleEvery: 10 * time.Second}
	for i := 0; i <= 20; i++ {
		now := t0.Add(time.Duration(i) * time.Second)
		if i == 10 {
			in.stats = runtime.Stats{At: now, CPUTime: 10 * time.Second, MemoryBytes: 512 << 20} // one of two cores
		}
		if err := e.Tick(now); err != nil {
			t.Fatal(err)
		}
	}
	ic := []metrics.Dimension{{Name: "InferenceComponentName", Value: "ic"}}
	get := func(ns, name string) metrics.StatSet {
		dps, err := store.Query(metrics.Series{Namespace: ns, MetricName: name, Dimensions: ic}, "", t0, t0.Add(time.Minute), time.Minute, nil, t0.Add(time.Minute))
		if err != nil || len(dps) == 0 {
			t.Fatalf("%s/%s: %v %v", ns, name, dps, err)
		}
		return dps[0].Stats
	}
	if got := get(InvocationNamespace, "InvocationsPerCopy").Sum; got != 1.5 {
		t.Errorf("InvocationsPerCopy sum %v, want 1.5", got)
	}
	if got := get(InvocationNamespace, "NoCapacityInvocationFailures").Sum; got != 2 {
		t.Errorf("NoCapacityInvocationFailures sum %v, want 2", got)
	}
	for _, c := range []struct {
		ns, name string
		want     float64
	}{
		{InvocationNamespace, "ConcurrentRequestsPerCopy", 0.5},
		{ComponentNamespace, "CPUUtilizationNormalized", 50},    // one of two reserved cores
		{ComponentNamespace, "MemoryUtilizationNormalized", 50}, // 512 of 1024 MiB
	} {
		if got := get(c.ns, c.name).Maximum; math.Abs(got-c.want) > 0.01 {
			t.Errorf("%s/%s = %v, want %v", c.ns, c.name, got, c.want)
		}
	}
}

// startupHosting reports startups once each, as hosting does.
type startupHosting struct{ startups []hosting.Startup }

func (*startupHosting) RunningInstances() []hosting.RunningInstance { return nil }
func (h *startupHosting) Startups() []hosting.Startup {
	out := h.startups
	h.startups = nil
	return out
}

// TestStartups: every startup is published once, whether or not the
// instance is still there to sample: InstanceStartupTime, and for a
// serverless environment ModelSetupTime in microseconds.
func TestStartups(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	store, _ := metrics.Open(nil)
	h := &startupHosting{startups: []hosting.Startup{{Endpoint: "ep", Variant: "v", Took: 250 * time.Millisecond, Serverless: true},
		{Endpoint: "ep", Variant: "v", Took: 750 * time.Millisecond}}}
	e := &Emitter{Router: &fakeRouter{}, Hosting: h, Store: store, Clock: clock.NewFake(t0), SampleEvery: 10 * time.Second}
	for i := range 3 {
		if err := e.Tick(t0.Add(time.Duration(i) * time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	end := t0.Add(time.Minute)
	for _, c := range []struct {
		ns, name      string
		count, maxVal float64
	}{{ColdStartNamespace, "InstanceStartupTime", 2, 750}, {InvocationNamespace, "ModelSetupTime", 1, 250000}} {
		dps, err := store.Query(metrics.Series{Namespace: c.ns, MetricName: c.name, Dimensions: dims("ep", "v")}, "", t0, end, time.Minute, nil, end)
		if err != nil || len(dps) != 1 || dps[0].Stats.SampleCount != c.count || dps[0].Stats.Maximum != c.maxVal {
			t.Errorf("%s: %+v, %v; want %v samples, the largest %v", c.name, dps, err, c.count, c.maxVal)
		}
	}
}

type serverlessHosting struct{ in *fakeInstance }

func (serverlessHosting) Startups() []hosting.Startup { return nil }

func (f serverlessHosting) RunningInstances() []hosting.RunningInstance {
	return []hosting.RunningInstance{{Endpoint: "ep", Variant: "v", Type: runtime.InstanceType{VCPUs: 1, MemoryMiB: 1024}, Instance: f.in, Serverless: true}}
}

// TestServerlessMetrics: a serverless variant publishes SageMaker's
// serverless family (executions against MaxConcurrency; with provisioned
// concurrency, the executions on it, its utilization and the invocations
// it served or spilled over) and its environments' memory among the
// invocation metrics, and none of the per-instance metrics.
func TestServerlessMetrics(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	store, _ := metrics.Open(nil)
	in := &fakeInstance{stats: runtime.Stats{At: t0, MemoryBytes: 512 << 20}}
	sl := &router.ServerlessSample{Serverless: router.Serverless{MaxConcurrency: 4, ProvisionedConcurrency: 2},
		InFlight: 3, ProvisionedInFlight: 2, ProvisionedInvocations: 5, SpilloverInvocations: 2}
	r := &fakeRouter{next: []router.Sample{{Endpoint: "ep", Variant: "v", Instances: 3, InFlight: 3, Invocations: 7, PerInstance: 7.0 / 3,
		ModelLatency: []time.Duration{time.Millisecond}, OverheadLatency: []time.Duration{time.Microsecond}, Serverless: sl}}}
	e := &Emitter{Router: r, Hosting: serverlessHosting{in}, Store: store, Clock: clock.NewFake(t0), SampleEvery: 10 * time.Second}
	if err := e.Tick(t0); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(time.Minute)
	for _, c := range []struct {
		ns, name string
		stat     func(metrics.StatSet) float64
		want     float64
	}{
		{InvocationNamespace, "ServerlessConcurrentExecutionsUtilization", metrics.StatSet.Average, 0.75},
		{InvocationNamespace, "ServerlessProvisionedConcurrencyExecutions", func(s metrics.StatSet) float64 { return s.Maximum }, 2},
		{InvocationNamespace, "ServerlessProvisionedConcurrencyUtilization", metrics.StatSet.Average, 1},
		{InvocationNamespace, "ServerlessProvisionedConcurrencyInvocations", func(s metrics.StatSet) float64 { return s.Sum }, 5},
		{InvocationNamespace, "ServerlessProvisionedConcurrencySpilloverInvocations", func(s metrics.StatSet) float64 { return s.Sum }, 2},
		{InvocationNamespace, "Invocations", func(s metrics.StatSet) float64 { return s.Sum }, 7},
		{InvocationNamespace, "MemoryUtilization", metrics.StatSet.Average, 50},
	} {
		dps, err := store.Query(metrics.Series{Namespace: c.ns, MetricName: c.name, Dimensions: dims("ep", "v")}, "", t0, end, time.Minute, nil, end)
		if err != nil || len(dps) != 1 || c.stat(dps[0].Stats) != c.want {
			t.Errorf("%s: %+v, %v; want %v", c.name, dps, err, c.want)
		}
	}
	for _, s := range []metrics.Series{key("InvocationsPerInstance"), key("ConcurrentRequestsPerModel"),
		{Namespace: InstanceNamespace, MetricName: "MemoryUtilization", Dimensions: dims("ep", "v")},
		{Namespace: InstanceNamespace, MetricName: "DiskUtilization", Dimensions: dims("ep", "v")}} {
		if dps, _ := store.Query(s, "", t0, end, time.Minute, nil, end); len(dps) != 0 {
			t.Errorf("%s/%s published for a serverless variant: %+v", s.Namespace, s.MetricName, dps)
		}
	}
}

// TestPrometheusCountsOnce: a fleet's or a container's share of a
// variant's sample is not counted again on /metrics.
func TestPrometheusCountsOnce(t *testing.T) {
	p := NewPrometheus(prometheus.NewRegistry())
	for _, s := range []router.Sample{{Endpoint: "ep", Variant: "v", Invocations: 10, Instances: 2},
		{Endpoint: "ep", Variant: "v", Fleet: "new", Invocations: 3, Instances: 1},
		{Endpoint: "ep", Variant: "v", Container: "c1", Invocations: 7}} {
		p.observe(s)
	}
	if got := testutil.ToFloat64(p.invocations.WithLabelValues("ep", "v")); got != 10 {
		t.Fatalf("ebb_invocations_total = %v, want the variant's 10", got)
	}
	if got := testutil.ToFloat64(p.instances.WithLabelValues("ep", "v")); got != 2 {
		t.Fatalf("ebb_healthy_instances = %v, want the variant's 2", got)
	}
}
