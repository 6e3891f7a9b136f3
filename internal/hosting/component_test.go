package hosting

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/ebbscale/ebb/internal/store/memory"
)

// componentFixture is an endpoint of two ml.c5.xlarge hosts (4 vCPUs, 8 GiB
// each) for inference components.
func componentFixture(t *testing.T) *fixture {
	f := newFixture(t, memory.New())
	ctx := context.Background()
	_, err := f.s.CreateModel(ctx, modelIn(`{"ModelName":"m","PrimaryContainer":{"Image":"serve","Environment":{"EBB_METRICS_PATH":"/metrics"}}}`))
	f.must(err)
	_, err = f.s.CreateEndpointConfig(ctx, configIn(`{"EndpointConfigName":"c","ProductionVariants":[{"VariantName":"v","InstanceType":"ml.c5.xlarge","InitialInstanceCount":2}]}`))
	f.must(err)
	_, err = f.s.CreateEndpoint(ctx, CreateEndpointInput{EndpointName: "e", EndpointConfigName: "c"})
	f.must(err)
	f.expect("e", StatusInService, 2, 2)
	if n := len(f.rt.running()); n != 0 {
		t.Fatalf("%d model servers for hosts, want none", n)
	}
	return f
}

func (f *fixture) component(name string, cpus float64, copies int) error {
	_, err := f.s.CreateInferenceComponent(context.Background(), componentIn(fmt.Sprintf(
		`{"InferenceComponentName":%q,"EndpointName":"e","VariantName":"v","Specification":{"ModelName":"m","ComputeResourceRequirements":{"NumberOfCpuCoresRequired":%g,"MinMemoryRequiredInMb":1024}},"RuntimeConfig":{"CopyCount":%d}}`,
		name, cpus, copies)))
	return err
}

func (f *fixture) componentView(name string) ComponentView {
	f.t.Helper()
	synctest.Wait()
	v, err := f.s.DescribeInferenceComponent(context.Background(), name)
	f.must(err)
	return v
}

// copiesPerHost counts the running copies on each host.
func (f *fixture) copiesPerHost() []int {
	synctest.Wait()
	e, _ := f.s.lookup("e")
	var out []int
	done := make(chan struct{})
	e.do(context.Background(), func() error {
		for _, h := range e.hostsOf("v") {
			n := 0
			for _, c := range e.copies {
				if c.host == h && !c.stopping {
					n++
				}
			}
			out = append(out, n)
		}
		close(done)
		return nil
	})
	<-done
	return out
}

func TestComponentsArePlacedOnHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := componentFixture(t)
		f.must(f.component("big", 3, 2)) // one per host: 3 of 4 cores
		f.must(f.component("small", 1, 3))
		if v := f.componentView("big"); v.Status != ComponentCreating || v.CurrentCopies != 0 || v.DesiredCopies != 2 {
			t.Fatalf("before health: %+v", v)
		}
		f.rt.readyAll()
		big, small := f.componentView("big"), f.componentView("small")
		if big.Status != ComponentInService || big.CurrentCopies != 2 {
			t.Fatalf("big: %+v", big)
		}
		// Two small copies fit (one core left on each host); the third waits,
		// and with no instance to come the component settles as it is.
		if small.CurrentCopies != 2 || small.Status != ComponentInService || !strings.Contains(small.FailureReason, "1 of 3 copies cannot be placed") {
			t.Fatalf("small: %+v", small)
		}
		if got := f.copiesPerHost(); fmt.Sprint(got) != "[2 2]" {
			t.Fatalf("copies per host %v", got)
		}
		// The running copies carry their component's container
		// environment (what the model asks of ebb: modelmetrics).
		running := f.s.RunningInstances()
		for _, ri := range running {
			if ri.Component == "" || ri.Environment["EBB_METRICS_PATH"] != "/metrics" {
				t.Fatalf("running %+v", ri)
			}
		}
		if len(running) != 4 {
			t.Fatalf("%d copies running, want 4", len(running))
		}
		// Routes: per component, its healthy copies; the hosts take none.
		f.routes.mu.Lock()
		ep := f.routes.table["e"]
		f.routes.mu.Unlock()
		if len(ep.Variants) != 0 || len(ep.Components) != 2 || len(ep.Components[0].Copies)+len(ep.Components[1].Copies) != 4 {
			t.Fatalf("routes %+v", ep)
		}

		// A third host makes room for the pending copy.
		n := 3
		_, err := f.s.UpdateEndpointWeightsAndCapacities(context.Background(), "e", []WeightAndCapacity{{VariantName: "v", DesiredInstanceCount: &n}})
		f.must(err)
		synctest.Wait()
		f.rt.readyAll()
		if small = f.componentView("small"); small.CurrentCopies != 3 || small.Status != ComponentInService || small.FailureReason != "" {
			t.Fatalf("after a third host: %+v", small)
		}

		// Scaling a component in stops copies; deleting it stops them all.
		_, err = f.s.UpdateInferenceComponentRuntimeConfig(context.Background(), "small", 1)
		f.must(err)
		if small = f.componentView("small"); small.CurrentCopies != 1 || small.Status != ComponentInService {
			t.Fatalf("scaled in: %+v", small)
		}
		if err := f.s.DeleteEndpoint(context.Background(), "e"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("deleting an endpoint with components: %v", err)
		}
		f.must(f.s.DeleteInferenceComponent(context.Background(), "small"))
		f.must(f.s.DeleteInferenceComponent(context.Background(), "big"))
		synctest.Wait()
		if _, err := f.s.DescribeInferenceComponent(context.Background(), "big"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted component: %v", err)
		}
		if n := len(f.rt.running()); n != 0 {
			t.Fatalf("%d copies still running", n)
		}
		f.must(f.s.DeleteEndpoint(context.Background(), "e"))
	})
}

func TestComponentsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := componentFixture(t)
		for _, c := range []struct {
			name  string
			cpus  float64
			want  error
			label string
		}{
			{"huge", 5, ErrInvalid, "more cores than an instance has"},
			{"ok", 1, nil, ""},
			{"OK", 1, ErrExists, "a name taken, in another case"},
		} {
			if err := f.component(c.name, c.cpus, 1); !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
				t.Fatalf("%s (%s): %v, want %v", c.name, c.label, err, c.want)
			}
		}
		if _, err := f.s.DescribeInferenceComponent(context.Background(), "huge"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a refused component exists: %v", err)
		}
		// A variant that serves a model hosts no components.
		f.config("plain", 1)
		_, err := f.s.CreateEndpoint(context.Background(), CreateEndpointInput{EndpointName: "p", EndpointConfigName: "plain"})
		f.must(err)
		f.rt.readyAll()
		synctest.Wait()
		_, err = f.s.CreateInferenceComponent(context.Background(), componentIn(`{"InferenceComponentName":"x","EndpointName":"p","VariantName":"v","Specification":{"ModelName":"m","ComputeResourceRequirements":{"MinMemoryRequiredInMb":1024}},"RuntimeConfig":{"CopyCount":1}}`))
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("component on a model variant: %v", err)
		}
	})
}

// TestManagedInstanceScaling starts the initial instance count whatever
// MinInstanceCount, keeps it until a component comes, adds an instance for
// a copy that does not fit, removes instances without copies down to
// MinInstanceCount 0 and back, and to 0 again when the last component goes.
func TestManagedInstanceScaling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, memory.New())
		ctx := context.Background()
		_, err := f.s.CreateModel(ctx, modelIn(`{"ModelName":"m","PrimaryContainer":{"Image":"serve"}}`))
		f.must(err)
		_, err = f.s.CreateEndpointConfig(ctx, configIn(`{"EndpointConfigName":"c","ProductionVariants":[{"VariantName":"v","InstanceType":"ml.c5.xlarge","InitialInstanceCount":1,
			"ManagedInstanceScaling":{"Status":"ENABLED","MinInstanceCount":0,"MaxInstanceCount":2}}]}`))
		f.must(err)
		_, err = f.s.CreateEndpoint(ctx, CreateEndpointInput{EndpointName: "e", EndpointConfigName: "c"})
		f.must(err)
		// The initial instance stays until it has held a copy.
		f.rt.readyAll()
		f.expect("e", StatusInService, 1, 1)
		f.must(f.component("big", 3, 3)) // one per instance
		synctest.Wait()
		f.rt.readyAll()
		v := f.componentView("big")
		if v.CurrentCopies != 2 || !strings.Contains(v.FailureReason, "1 of 3 copies cannot be placed") {
			t.Fatalf("at MaxInstanceCount: %+v", v)
		}
		f.expect("e", StatusInService, 2, 2)

		// At MaxInstanceCount the component settles with the copies that fit.
		if v.Status != ComponentInService {
			t.Fatalf("at MaxInstanceCount: %+v", v)
		}
		_, err = f.s.UpdateInferenceComponentRuntimeConfig(ctx, "big", 0)
		f.must(err)
		synctest.Wait()
		f.expect("e", StatusInService, 0, 0)
		f.must(f.s.DeleteInferenceComponent(ctx, "big"))
		synctest.Wait()

		f.must(f.component("small", 1, 1))
		synctest.Wait()
		f.rt.readyAll()
		if v := f.componentView("small"); v.CurrentCopies != 1 || v.Status != ComponentInService {
			t.Fatalf("from zero instances: %+v", v)
		}
		f.expect("e", StatusInService, 1, 1)

		// Once it has hosted components, the variant goes to
		// MinInstanceCount when the last one is deleted.
		f.must(f.s.DeleteInferenceComponent(ctx, "small"))
		synctest.Wait()
		f.expect("e", StatusInService, 0, 0)
	})
}

// TestUnsupportedFeatures: a runtime that does not run many models per
// endpoint (runtime.Featured) has them refused, naming it, at CreateModel,
// CreateInferenceComponent and CreateEndpoint.
func TestUnsupportedFeatures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memory.New()
		s := New(Options{Store: st, Runtime: &fakeRuntime{plain: true}, Routes: &fakeRoutes{table: map[string]router.Endpoint{}}, RuntimeName: "kubernetes"})
		ctx := context.Background()
		for what, doc := range map[string]string{
			"multi-model":        `{"ModelName":"mm","PrimaryContainer":{"Image":"serve","Mode":"MultiModel","ModelDataUrl":"/m/"}}`,
			"several containers": `{"ModelName":"mc","Containers":[{"Image":"a"},{"Image":"b"}]}`,
		} {
			if _, err := s.CreateModel(ctx, modelIn(doc)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "--runtime kubernetes") {
				t.Fatalf("%s: %v", what, err)
			}
		}
		if _, err := s.CreateInferenceComponent(ctx, componentIn(`{"InferenceComponentName":"x","EndpointName":"e","RuntimeConfig":{"CopyCount":1}}`)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("component: %v", err)
		}
		// An endpoint of hosts for components: refused at CreateEndpoint,
		// not InService with nothing to run.
		if _, err := s.CreateEndpointConfig(ctx, configIn(`{"EndpointConfigName":"hosts","ProductionVariants":[{"VariantName":"v","InstanceType":"ml.g5.xlarge","InitialInstanceCount":1}]}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateEndpoint(ctx, CreateEndpointInput{EndpointName: "e", EndpointConfigName: "hosts"}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "inference components with --runtime kubernetes") {
			t.Fatalf("an endpoint of component hosts: %v", err)
		}
		if _, err := s.DescribeEndpoint(ctx, "e"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the refused endpoint exists: %v", err)
		}
	})
}

// imageRuntime is a fake runtime that holds some images (ImageInspector).
type imageRuntime struct {
	fakeRuntime
	images map[string]map[string]string
}

func (r *imageRuntime) ImageLabels(_ context.Context, image string) (map[string]string, bool, error) {
	labels, ok := r.images[image]
	return labels, ok, nil
}

// TestMultiModelImageLabel: where the runtime reads images, CreateModel
// refuses a multi-model image without SageMaker's capability label, as
// SageMaker does, and leaves one it does not hold to its launch; the
// instances of a multi-model variant are told so (Spec.MultiModel and
// SAGEMAKER_MULTI_MODEL=true).
func TestMultiModelImageLabel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &imageRuntime{images: map[string]map[string]string{
			"plain:1": {"maintainer": "me"},
			"mme:1":   {runtime.MultiModelLabel: "true"},
		}}
		s := New(Options{Store: memory.New(), Runtime: rt, Routes: &fakeRoutes{table: map[string]router.Endpoint{}}, RuntimeName: "docker"})
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		ctx := context.Background()
		model := func(name, image string) error {
			_, err := s.CreateModel(ctx, modelIn(`{"ModelName":"`+name+`","PrimaryContainer":{"Image":"`+image+`","Mode":"MultiModel","ModelDataUrl":"/m/","Environment":{"A":"1"}}}`))
			return err
		}
		if err := model("plain", "plain:1"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "does not contain required com.amazonaws.sagemaker.capabilities.multi-models=true Docker label") {
			t.Fatalf("an image without the label: %v", err)
		}
		for _, image := range []string{"mme:1", "not-pulled-yet:1"} {
			if err := model(strings.TrimSuffix(image, ":1"), image); err != nil {
				t.Fatalf("%s: %v", image, err)
			}
		}
		if _, err := s.CreateEndpointConfig(ctx, configIn(`{"EndpointConfigName":"c","ProductionVariants":[{"VariantName":"v","ModelName":"mme","InstanceType":"ml.m5.large","InitialInstanceCount":1}]}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateEndpoint(ctx, CreateEndpointInput{EndpointName: "e", EndpointConfigName: "c"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		rt.mu.Lock()
		defer rt.mu.Unlock()
		if len(rt.specs) != 1 || rt.specs[0].MultiModelPrefix != "/m/" || rt.specs[0].Environment["SAGEMAKER_MULTI_MODEL"] != "true" || rt.specs[0].Environment["A"] != "1" || rt.specs[0].ModelDataURL != "" {
			t.Fatalf("specs = %+v, want one multi-model instance told so", rt.specs)
		}
	})
}

func TestCopyDeployment(t *testing.T) {
	for _, c := range []struct {
		label, name string
		gen         int
		ok          bool
	}{
		{copyDeployment("My-Model-2", 3), "my-model-2", 3, true},
		{"component-a-0", "a", 0, true},
		{"component-a", "", 0, false},
		{"component--1", "", 0, false},
		{"3f2a9c1d", "", 0, false},
		{"component-a-b", "", 0, false},
	} {
		name, gen, ok := parseCopyDeployment(c.label)
		if name != c.name || gen != c.gen || ok != c.ok {
			t.Errorf("%q: %q %d %v, want %q %d %v", c.label, name, gen, ok, c.name, c.gen, c.ok)
		}
	}
}
