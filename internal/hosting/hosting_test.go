package hosting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/store/memory"
)

// These tests run the real Service against a fake runtime inside a
// synctest bubble: time is fake, and synctest.Wait returns once every
// goroutine (each endpoint's reconciler included) has settled.

type fakeInstance struct {
	id    string
	ready chan struct{}
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	err   error
}

func (f *fakeInstance) ID() string                    { return f.id }
func (f *fakeInstance) Addr() string                  { return "127.0.0.1:1" }
func (f *fakeInstance) Ready() <-chan struct{}        { return f.ready }
func (f *fakeInstance) Done() <-chan struct{}         { return f.done }
func (f *fakeInstance) Stats() (runtime.Stats, error) { return runtime.Stats{}, nil }
func (f *fakeInstance) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
func (f *fakeInstance) end(err error) {
	f.once.Do(func() {
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
		close(f.done)
	})
}
func (f *fakeInstance) Stop(ctx context.Context) error { f.end(nil); return nil }
func (f *fakeInstance) becomeReady()                   { close(f.ready) }

// modelIn, configIn and componentIn decode requests as the API does.
func modelIn(doc string) CreateModelInput {
	in := CreateModelInput{Echo: json.RawMessage(doc)}
	mustDecode(doc, &in)
	return in
}

func configIn(doc string) CreateEndpointConfigInput {
	in := CreateEndpointConfigInput{Echo: json.RawMessage(doc)}
	mustDecode(doc, &in)
	return in
}

func componentIn(doc string) (in ComponentInput) {
	mustDecode(doc, &in)
	return in
}

func mustDecode(doc string, v any) {
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		panic(fmt.Sprintf("a test's request %s: %v", doc, err))
	}
}

type fakeRuntime struct {
	// plain runs one single-container model per instance and nothing more.
	plain     bool
	mu        sync.Mutex
	instances []*fakeInstance
	specs     []runtime.Spec
}

func (r *fakeRuntime) Runs(runtime.Feature) bool { return !r.plain }

func (r *fakeRuntime) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := &fakeInstance{id: spec.ID, ready: make(chan struct{}), done: make(chan struct{})}
	r.instances = append(r.instances, in)
	r.specs = append(r.specs, spec)
	return in, nil
}

// running returns the instances that have not ended.
func (r *fakeRuntime) running() []*fakeInstance {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*fakeInstance
	for _, in := range r.instances {
		select {
		case <-in.done:
		default:
			out = append(out, in)
		}
	}
	return out
}

func (r *fakeRuntime) readyAll() {
	for _, in := range r.running() {
		select {
		case <-in.ready:
		default:
			in.becomeReady()
		}
	}
}

type fakeRoutes struct {
	mu    sync.Mutex
	table map[string]router.Endpoint
}

func (f *fakeRoutes) Set(ep router.Endpoint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.table[ep.Name] = ep
}
func (f *fakeRoutes) Delete(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.table, name)
}
func (f *fakeRoutes) Drain(ctx context.Context, id string) error { return nil }
func (f *fakeRoutes) instances(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.table[name].Variants {
		n += len(v.Instances)
	}
	return n
}

type fixture struct {
	t      *testing.T
	s      *Service
	rt     *fakeRuntime
	routes *fakeRoutes
	st     *memory.Store
}

func newFixture(t *testing.T, st *memory.Store) *fixture {
	f := &fixture{t: t, rt: &fakeRuntime{}, routes: &fakeRoutes{table: map[string]router.Endpoint{}}, st: st}
	f.s = New(Options{Store: st, Runtime: f.rt, Routes: f.routes, Region: "us-east-1", AccountID: "123456789012", InstanceLimit: 10})
	if err := f.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.s.Close(context.Background()) })
	return f
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) config(name string, count int) {
	ctx := context.Background()
	if _, err := f.s.DescribeModel(ctx, "m"); err != nil {
		_, err := f.s.CreateModel(ctx, modelIn(`{"ModelName":"m","PrimaryContainer":{"Image":"serve"}}`))
		f.must(err)
	}
	_, err := f.s.CreateEndpointConfig(ctx, configIn(fmt.Sprintf(`{"EndpointConfigName":%q,"ProductionVariants":[{"VariantName":"v","ModelName":"m","InstanceType":"ml.m5.large","InitialInstanceCount":%d}]}`, name, count)))
	f.must(err)
}

func (f *fixture) view(name string) EndpointView {
	f.t.Helper()
	v, err := f.s.DescribeEndpoint(context.Background(), name)
	f.must(err)
	return v
}

func (f *fixture) expect(name, status string, current, desired int) {
	f.t.Helper()
	synctest.Wait()
	v := f.view(name)
	if v.Status != status || v.Variants[0].CurrentCount != current || v.Variants[0].DesiredCount != desired {
		f.t.Fatalf("%s: status %s, current %d, desired %d; want %s, %d, %d (reason %q)",
			name, v.Status, v.Variants[0].CurrentCount, v.Variants[0].DesiredCount, status, current, desired, v.FailureReason)
	}
}

func TestCreateThenScale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, memory.New())
		f.config("c", 2)
		_, err := f.s.CreateEndpoint(context.Background(), CreateEndpointInput{EndpointName: "ep", EndpointConfigName: "c"})
		f.must(err)
		f.expect("ep", StatusCreating, 0, 2)
		if n := len(f.rt.running()); n != 2 {
			t.Fatalf("%d instances started, want 2", n)
		}
		if f.routes.instances("ep") != 0 {
			t.Fatal("a Creating endpoint is routable")
		}
		f.rt.readyAll()
		f.expect("ep", StatusInService, 2, 2)
		if f.routes.instances("ep") != 2 {
			t.Fatalf("%d routed instances, want 2", f.routes.instances("ep"))
		}

		three := 3
		_, err = f.s.UpdateEndpointWeightsAndCapacities(context.Background(), "ep", []WeightAndCapacity{{VariantName: "v", DesiredInstanceCount: &three}})
		f.must(err)
		f.expect("ep", StatusUpdating, 2, 3)
		_, err = f.s.UpdateEndpointWeightsAndCapacities(context.Background(), "ep", []WeightAndCapacity{{VariantName: "v", DesiredInstanceCount: &three}})
		if !errors.Is(err, ErrInProgress) {
			t.Fatalf("update while Updating: %v, want ErrInProgress", err)
		}
		v := f.view("ep").Variants[0]
		if len(v.Status) != 1 || v.Status[0].Status != "Updating" {
			t.Fatalf("VariantStatus while scaling out = %+v", v.Status)
		}
		f.rt.readyAll()
		f.expect("ep", StatusInService, 3, 3)

		zero := 0
		_, err = f.s.UpdateEndpointWeightsAndCapacities(context.Background(), "ep", []WeightAndCapacity{{VariantName: "v", DesiredInstanceCount: &zero}})
		f.must(err)
		f.expect("ep", StatusInService, 0, 0)
		if n := len(f.rt.running()); n != 0 {
			t.Fatalf("%d instances still running at zero", n)
		}
	})
}

func TestCreateFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, memory.New())
		f.config("c", 2)
		_, err := f.s.CreateEndpoint(context.Background(), CreateEndpointInput{EndpointName: "ep", EndpointConfigName: "c"})
		f.must(err)
		synctest.Wait()
		f.rt.running()[0].end(errors.New("exit status 1"))
		f.expect("ep", StatusFailed, 0, 2)
		if !strings.Contains(f.view("ep").FailureReason, "exit status 1") {
			t.Fatalf("FailureReason = %q", f.view("ep").FailureReason)
		}
		if n := len(f.rt.running()); n != 0 {
			t.Fatalf("%d instances left on a Failed endpoint", n)
		}
	})
}

func TestCapacityChangeRollsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, memory.New())
		f.config("c", 1)
		_, err := f.s.CreateEndpoint(context.Background(), CreateEndpointInput{EndpointName: "ep", EndpointConfigName: "c"})
		f.must(err)
		synctest.Wait()
		f.rt.readyAll()
		f.expect("ep", StatusInService, 1, 1)
		three := 3
		_, err = f.s.UpdateEndpointWeightsAndCapacities(context.Background(), "ep", []WeightAndCapacity{{VariantName: "v", DesiredInstanceCount: &three}})
		f.must(err)
		synctest.Wait()
		running := f.rt.running()
		running[len(running)-1].end(errors.New("crashed while loading"))
		f.expect("ep", StatusInService, 1, 1)
		if v := f.view("ep"); v.FailureReason == "" {
			t.Fatal("no FailureReason after a rollback")
		}
		if n := len(f.rt.running()); n != 1 {
			t.Fatalf("%d instances after rollback, want 1", n)
		}
	})
}

func TestCrashedInstanceIsReplacedWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, memory.New())
		f.config("c", 1)
		_, err := f.s.CreateEndpoint(context.Background(), CreateEndpointInput{EndpointName: "ep", EndpointConfigName: "c"})
		f.must(err)
		synctest.Wait()
		f.rt.readyAll()
		f.expect("ep", StatusInService, 1, 1)

		// First crash: replaced at once, visible while it starts.
		f.rt.running()[0].end(errors.New("segfault"))
		f.expect("ep", StatusInService, 0, 1)
		v := f.view("ep").Variants[0]
		if len(v.Status) != 1 || v.Status[0].Status != "Creating" || !strings.Contains(v.Status[0].Message, "Replacing") {
			t.Fatalf("VariantStatus while replacing = %+v", v.Status)
		}
		// The replacement crashes too before it is healthy: now it waits 2 s.
		f.rt.running()[0].end(errors.New("segfault"))
		synctest.Wait()
		if n := len(f.rt.running()); n != 0 {
			t.Fatalf("replacement started without backoff (%d running)", n)
		}
		time.Sleep(1999 * time.Millisecond)
		synctest.Wait()
		if n := len(f.rt.running()); n != 0 {
			t.Fatal("replacement started before its backoff ended")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if n := len(f.rt.running()); n != 1 {
			t.Fatalf("%d instances after the backoff, want 1", n)
		}
		f.rt.readyAll()
		f.expect("ep", StatusInService, 1, 1)
	})
}

func TestBlueGreenUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, memory.New())
		f.config("old", 2)
		f.config("new", 1)
		_, err := f.s.CreateEndpoint(context.Background(), CreateEndpointInput{EndpointName: "ep", EndpointConfigName: "old"})
		f.must(err)
		synctest.Wait()
		f.rt.readyAll()
		f.expect("ep", StatusInService, 2, 2)
		oldIDs := ids(f.rt.running())

		_, err = f.s.UpdateEndpoint(context.Background(), UpdateEndpointInput{EndpointName: "ep", ConfigName: "new", RetainAll: true, Exclude: []string{"DesiredWeight"}})
		f.must(err)
		synctest.Wait()
		v := f.view("ep")
		if v.Status != StatusUpdating || v.Pending == nil || v.Pending.ConfigName != "new" || v.Pending.Variants[0].DesiredCount != 2 {
			t.Fatalf("during update: %+v", v)
		}
		if n := len(f.rt.running()); n != 4 {
			t.Fatalf("%d instances during the update, want 2 old + 2 new", n)
		}
		if f.routes.instances("ep") != 2 {
			t.Fatal("traffic moved before the new fleet was healthy")
		}
		f.rt.readyAll()
		f.expect("ep", StatusInService, 2, 2)
		if got := ids(f.rt.running()); slices.ContainsFunc(got, func(id string) bool { return slices.Contains(oldIDs, id) }) {
			t.Fatalf("old instances still running: %v", got)
		}
		if v := f.view("ep"); v.ConfigName != "new" || v.Pending != nil {
			t.Fatalf("after cut-over: config %s, pending %v", v.ConfigName, v.Pending)
		}
	})
}

func TestRestartResumesEndpoints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memory.New()
		f := newFixture(t, st)
		f.config("c", 2)
		_, err := f.s.CreateEndpoint(context.Background(), CreateEndpointInput{EndpointName: "ep", EndpointConfigName: "c"})
		f.must(err)
		synctest.Wait()
		f.rt.readyAll()
		f.expect("ep", StatusInService, 2, 2)
		f.s.Close(context.Background())

		g := newFixture(t, st)
		synctest.Wait()
		if n := len(g.rt.running()); n != 2 {
			t.Fatalf("restarted service started %d instances, want 2", n)
		}
		g.rt.readyAll()
		g.expect("ep", StatusInService, 2, 2)
	})
}

func TestDelete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, memory.New())
		f.config("c", 1)
		_, err := f.s.CreateEndpoint(context.Background(), CreateEndpointInput{EndpointName: "ep", EndpointConfigName: "c"})
		f.must(err)
		if err := f.s.DeleteEndpoint(context.Background(), "ep"); !errors.Is(err, ErrInProgress) {
			t.Fatalf("delete while Creating: %v", err)
		}
		synctest.Wait()
		f.rt.readyAll()
		synctest.Wait()
		f.must(f.s.DeleteEndpoint(context.Background(), "ep"))
		synctest.Wait()
		if _, err := f.s.DescribeEndpoint(context.Background(), "ep"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		if _, err := f.st.Get(context.Background(), kindEndpoint, "ep"); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("record not deleted")
		}
	})
}

func ids(ins []*fakeInstance) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.id)
	}
	return out
}

// TestWeightChangeUpdatingFirst: a weight-only change shows Updating, then,
// after the weight shift, InService with the new weight current.
func TestWeightChangeUpdatingFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, memory.New())
		f.config("c", 1)
		_, err := f.s.CreateEndpoint(context.Background(), CreateEndpointInput{EndpointName: "ep", EndpointConfigName: "c"})
		f.must(err)
		f.expect("ep", StatusCreating, 0, 1)
		f.rt.readyAll()
		f.expect("ep", StatusInService, 1, 1)
		two := 2.0
		_, err = f.s.UpdateEndpointWeightsAndCapacities(context.Background(), "ep", []WeightAndCapacity{{VariantName: "v", DesiredWeight: &two}})
		f.must(err)
		f.expect("ep", StatusUpdating, 1, 1)
		if v := f.view("ep").Variants[0]; v.CurrentWeight != 1 || v.DesiredWeight != 2 {
			t.Fatalf("while shifting: current weight %g, desired %g", v.CurrentWeight, v.DesiredWeight)
		}
		time.Sleep(weightShift)
		f.expect("ep", StatusInService, 1, 1)
		if v := f.view("ep").Variants[0]; v.CurrentWeight != 2 {
			t.Fatalf("after the shift: current weight %g, want 2", v.CurrentWeight)
		}
	})
}
