package autoscaler

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/fault"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/store/postgres"
	"github.com/ebbscale/ebb/internal/store/postgres/pgtest"
)

// discardStore takes every write and keeps nothing (the loop reads nothing
// back), so the benchmark measures decisions, not persistence: with
// memory.Store a round also keeps 40,000 alarms' configuration, state and
// history and the policies and activities in memory, about 50 ms and
// 200 MB more.
type discardStore struct{}

func (discardStore) Create(context.Context, string, string, time.Time, []byte) error { return nil }
func (discardStore) Update(context.Context, string, string, []byte) error            { return nil }
func (discardStore) Upsert(context.Context, string, []store.Doc) error               { return nil }
func (m *discardStore) Delete(_ context.Context, kind, name string) error            { return nil }
func (m *discardStore) Get(context.Context, string, string) ([]byte, error) {
	return nil, store.ErrNotFound
}
func (m *discardStore) Each(context.Context, string, func([]byte) error) error   { return nil }
func (m *discardStore) List(context.Context, string) ([][]byte, error)           { return nil, nil }
func (m *discardStore) PutActivities(context.Context, []store.ActivityDoc) error { return nil }
func (m *discardStore) Activities(context.Context, string, time.Time) ([][]byte, error) {
	return nil, nil
}
func (m *discardStore) PruneActivities(context.Context, time.Time) error      { return nil }
func (m *discardStore) AddTags(context.Context, string, []store.Tag) error    { return nil }
func (m *discardStore) DeleteTags(context.Context, string, []string) error    { return nil }
func (m *discardStore) Tags(context.Context, string) ([]store.Tag, error)     { return nil, nil }
func (m *discardStore) AddHistory(context.Context, []store.HistoryItem) error { return nil }
func (m *discardStore) PruneHistory(context.Context, time.Time) error         { return nil }
func (m *discardStore) History(context.Context, string, string, time.Time, time.Time) ([]store.HistoryItem, error) {
	return nil, nil
}

// manyEndpoints is a hosting of n endpoints whose capacity changes at once.
type manyEndpoints struct {
	mu       sync.Mutex
	capacity map[string]int
}

func (f *manyEndpoints) DescribeEndpoint(_ context.Context, name string) (hosting.EndpointView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.capacity[name]
	return hosting.EndpointView{Name: name, Status: hosting.StatusInService, Variants: []hosting.VariantView{{Name: "v", DesiredCount: c, CurrentCount: c}}}, nil
}

func (f *manyEndpoints) DescribeInferenceComponent(context.Context, string) (hosting.ComponentView, error) {
	return hosting.ComponentView{}, fault.Errorf(hosting.ErrNotFound, "no inference components")
}

func (f *manyEndpoints) UpdateInferenceComponentRuntimeConfig(context.Context, string, int) (string, error) {
	return "", fault.Errorf(hosting.ErrNotFound, "no inference components")
}

func (f *manyEndpoints) UpdateEndpointWeightsAndCapacities(_ context.Context, name string, c []hosting.WeightAndCapacity) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.capacity[name] = *c[0].DesiredInstanceCount
	return "", nil
}

// BenchmarkControlPlane is 10,000 targets with two target-tracking policies
// each (20,000 policies, 40,000 alarms) and metrics that keep changing; one
// op is a full round: a minute of new datapoints, every alarm evaluated,
// every action decided and applied. The -1000 and -50000 runs are the same
// round at a tenth and five times the size (the envelope in the README).
// The -postgres runs keep every write (alarm states and history,
// activities, capacity) in a real PostgreSQL, as a replicated ebb does.
func BenchmarkControlPlane(b *testing.B) {
	discard := func(testing.TB) benchStore { return &discardStore{} }
	b.Run("changing", func(b *testing.B) { benchControlPlane(b, 10000, true, discard) })
	b.Run("steady", func(b *testing.B) { benchControlPlane(b, 10000, false, discard) })
	// The envelope: the same round at a tenth and five times the size.
	b.Run("changing-1000", func(b *testing.B) { benchControlPlane(b, 1000, true, discard) })
	b.Run("changing-50000", func(b *testing.B) { benchControlPlane(b, 50000, true, discard) })
	pg := func(t testing.TB) benchStore {
		s, err := postgres.Open(context.Background(), pgtest.Shared(t).Database(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	b.Run("changing-postgres", func(b *testing.B) { benchControlPlane(b, 10000, true, pg) })
}

// benchStore is what the autoscaler and the alarms need of a store.
type benchStore interface {
	Store
	monitor.Store
}

func benchControlPlane(b *testing.B, targets int, changing bool, open func(testing.TB) benchStore) {
	ctx := context.Background()
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	st := open(b)
	ms, _ := metrics.Open(nil)
	host := &manyEndpoints{capacity: map[string]int{}}
	// The points' dimensions are made once: making them is the harness's
	// work, storing the points the round's (and
	// they are not counted in the heap figure).
	dims := make([][]metrics.Dimension, targets)
	for i := range dims {
		dims[i] = []metrics.Dimension{{Name: "EndpointName", Value: fmt.Sprintf("ep%05d", i)}, {Name: "VariantName", Value: "v"}}
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	mon, _ := monitor.New(ctx, monitor.Options{Store: st, Metrics: ms, Clock: clk})
	s, _ := New(ctx, Options{Store: st, Hosting: host, Alarms: mon, Metrics: ms, Clock: clk, Region: "us-east-1", AccountID: "123456789012", MaxTargets: targets})
	mon.SetActions(s)
	for i := range targets {
		ep := fmt.Sprintf("ep%05d", i)
		host.capacity[ep] = 2
		id := "endpoint/" + ep + "/variant/v"
		min, max := 1, 20
		if _, err := s.Register(ctx, RegisterInput{ServiceNamespace: Namespace, ResourceID: id, ScalableDimension: Dimension, MinCapacity: &min, MaxCapacity: &max}); err != nil {
			b.Fatal(err)
		}
		for _, p := range []*TTInput{
			{TargetValue: 100, Predefined: InvocationsPerInstance, Raw: []byte("{}")},
			{TargetValue: 50, Namespace: "/aws/sagemaker/Endpoints", MetricName: "CPUUtilization", Statistic: "Average", Raw: []byte("{}"),
				Dimensions: []metrics.Dimension{{Name: "EndpointName", Value: ep}, {Name: "VariantName", Value: "v"}}},
		} {
			name := "inv"
			if p.MetricName != "" {
				name = "cpu"
			}
			if _, _, err := s.PutPolicy(ctx, PolicyInput{Name: name, ServiceNamespace: Namespace, ResourceID: id, ScalableDimension: Dimension, Type: "TargetTrackingScaling", TT: p}); err != nil {
				b.Fatal(err)
			}
		}
	}
	feed := func(minute int) {
		pts := make([]metrics.Point, 0, 2*targets)
		at := start.Add(time.Duration(minute)*time.Minute + 30*time.Second)
		for i := range targets {
			d := dims[i]
			// Load that swings over an hour, different for every target.
			v := float64((i*7)%200) + 1
			if changing {
				v = float64((i*7+minute*13)%200) + 1
			}
			pts = append(pts,
				metrics.Point{Series: metrics.Series{Namespace: "AWS/SageMaker", MetricName: "InvocationsPerInstance", Dimensions: d}, Timestamp: at, Value: v},
				metrics.Point{Series: metrics.Series{Namespace: "/aws/sagemaker/Endpoints", MetricName: "CPUUtilization", Dimensions: d}, Timestamp: at, Value: v / 2})
		}
		ms.Put(pts)
	}
	round := func(minute int) {
		feed(minute)
		clk.Advance(time.Minute)
		now := clk.Now()
		mon.EvaluateAll(ctx, now)
		s.decideQueued(ctx, now)
		s.applyPending(ctx)
		s.mu.Lock()
		s.progress(ctx, now)
		s.mu.Unlock()
		s.applyPending(ctx)
	}
	for m := range 5 { // fill the evaluation ranges
		round(m)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	minute := 5
	var scaled int
	for b.Loop() {
		round(minute)
		minute++
	}
	for _, c := range host.capacity {
		if c != 2 {
			scaled++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/round")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1e6, "MB-heap")
	b.ReportMetric(float64(scaled), "targets-scaled")
	_ = strings.TrimSpace
}
