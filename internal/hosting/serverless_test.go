package hosting

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/store/memory"
)

// TestServerlessModels: a serverless variant of a multi-model model or of
// an inference pipeline is refused, as SageMaker refuses them, naming the
// variant and the model; a model that does not exist is not found.
func TestServerlessModels(t *testing.T) {
	s := New(Options{Store: memory.New(), Runtime: &fakeRuntime{}, Routes: &fakeRoutes{table: map[string]router.Endpoint{}}})
	ctx := context.Background()
	for _, doc := range []string{
		`{"ModelName":"mme","PrimaryContainer":{"Image":"x","Mode":"MultiModel","ModelDataUrl":"/m/"}}`,
		`{"ModelName":"pipe","Containers":[{"Image":"x"},{"Image":"y"}]}`,
	} {
		if _, err := s.CreateModel(ctx, modelIn(doc)); err != nil {
			t.Fatal(err)
		}
	}
	for model, want := range map[string]string{
		"mme":     "model mme is a multi-model one (Mode MultiModel): serverless endpoints do not support multi-model endpoints.",
		"pipe":    "model pipe has several containers: serverless endpoints do not support inference pipelines.",
		"missing": "Could not find model",
	} {
		_, err := s.CreateEndpointConfig(ctx, configIn(`{"EndpointConfigName":"c","ProductionVariants":[{"VariantName":"v","ModelName":"`+model+`","ServerlessConfig":{"MemorySizeInMB":1024,"MaxConcurrency":2}}]}`))
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", model, err, want)
		}
	}
}

// TestServerlessWant: a serverless variant keeps an environment per
// invocation it holds, up to MaxConcurrency, and each extra one for the
// idle period after it was last needed, the newest need first to go; its
// provisioned concurrency stays warm whatever the traffic.
func TestServerlessWant(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	const idle = 5 * time.Minute
	type step struct {
		at       time.Duration // after t0
		inflight int
		want     int
	}
	for _, c := range []struct {
		name        string
		max         int
		provisioned int
		steps       []step
	}{
		{"none until invoked", 3, 0, []step{{0, 0, 0}, {time.Minute, 0, 0}}},
		{"one per invocation", 3, 0, []step{{0, 1, 1}, {time.Second, 3, 3}}},
		{"never beyond MaxConcurrency", 2, 0, []step{{0, 5, 2}}},
		{"kept while idle less than the idle period", 3, 0, []step{{0, 2, 2}, {idle - time.Second, 0, 2}}},
		{"reclaimed after it", 3, 0, []step{{0, 2, 2}, {idle, 0, 0}}},
		{"the extra one goes first", 3, 0, []step{{0, 3, 3}, {time.Minute, 1, 3}, {idle, 1, 1}, {idle + time.Minute, 0, 1}, {2 * idle, 0, 0}}},
		{"provisioned concurrency warm before any invocation", 4, 2, []step{{0, 0, 2}, {idle * 3, 0, 2}}},
		{"within provisioned concurrency, no more", 4, 2, []step{{0, 2, 2}, {time.Second, 1, 2}}},
		{"spillover beyond it, on demand", 4, 2, []step{{0, 3, 3}, {time.Second, 5, 4}}},
		{"spillover reclaimed back to the floor", 4, 2, []step{{0, 4, 4}, {time.Minute, 0, 4}, {idle, 0, 2}, {3 * idle, 0, 2}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var busy []time.Time
			for _, s := range c.steps {
				var got int
				busy, got = serverlessWant(busy, s.inflight, router.Serverless{MaxConcurrency: c.max, ProvisionedConcurrency: c.provisioned}, t0.Add(s.at), idle)
				if got != s.want {
					t.Fatalf("at +%v with %d in flight: %d environments, want %d", s.at, s.inflight, got, s.want)
				}
			}
		})
	}
}

// TestProvisionedConcurrencyChange: a serverless variant with provisioned
// concurrency is created with that many environments warm, InService once
// they are; ServerlessUpdateConfig moves the floor (Updating, with the
// current and desired configurations apart until the new environments are
// healthy) and is refused on a variant of instances or beyond
// MaxConcurrency; an endpoint of instances cannot become serverless.
func TestProvisionedConcurrencyChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rt := &fakeRuntime{}
		s := New(Options{Store: memory.New(), Runtime: rt, Routes: &fakeRoutes{table: map[string]router.Endpoint{}}, InstanceLimit: 10,
			PeakInFlight: func(endpoint, variant string) int { return 0 }})
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(ctx) })
		f := &fixture{t: t, s: s, rt: rt}
		_, err := s.CreateModel(ctx, modelIn(`{"ModelName":"m","PrimaryContainer":{"Image":"serve"}}`))
		f.must(err)
		_, err = s.CreateEndpointConfig(ctx, configIn(`{"EndpointConfigName":"sl","ProductionVariants":[{"VariantName":"v","ModelName":"m","ServerlessConfig":{"MemorySizeInMB":2048,"MaxConcurrency":4,"ProvisionedConcurrency":1}}]}`))
		f.must(err)
		_, err = s.CreateEndpoint(ctx, CreateEndpointInput{EndpointName: "sl", EndpointConfigName: "sl"})
		f.must(err)
		f.expect("sl", StatusCreating, 0, 1)
		rt.readyAll()
		f.expect("sl", StatusInService, 1, 1)

		pc := func(c *ServerlessConfig) int { return c.provisioned() }
		three, five := 3, 5
		_, err = s.UpdateEndpointWeightsAndCapacities(ctx, "sl", []WeightAndCapacity{{VariantName: "v", ServerlessUpdateConfig: &ServerlessUpdate{ProvisionedConcurrency: &three}}})
		f.must(err)
		f.expect("sl", StatusUpdating, 1, 3)
		if v := f.view("sl").Variants[0]; pc(v.CurrentServerless) != 1 || pc(v.Serverless) != 3 || *v.Serverless.MaxConcurrency != 4 {
			t.Fatalf("while updating: current %+v, desired %+v; want 1 and 3 of MaxConcurrency 4", v.CurrentServerless, v.Serverless)
		}
		rt.readyAll()
		f.expect("sl", StatusInService, 3, 3)
		if v := f.view("sl").Variants[0]; pc(v.CurrentServerless) != 3 {
			t.Fatalf("once in service: current %+v, want provisioned concurrency 3", v.CurrentServerless)
		}

		for _, c := range []struct {
			name string
			u    WeightAndCapacity
			want string
		}{
			{"beyond MaxConcurrency", WeightAndCapacity{VariantName: "v", ServerlessUpdateConfig: &ServerlessUpdate{ProvisionedConcurrency: &five}},
				`ProvisionedConcurrency (5) of production variant "v" must be less than or equal to its MaxConcurrency (4).`},
			{"MaxConcurrency below it", WeightAndCapacity{VariantName: "v", ServerlessUpdateConfig: &ServerlessUpdate{MaxConcurrency: ptr(2)}},
				`ProvisionedConcurrency (3) of production variant "v" must be less than or equal to its MaxConcurrency (2).`},
			{"nothing to change", WeightAndCapacity{VariantName: "v", ServerlessUpdateConfig: &ServerlessUpdate{}},
				`ServerlessUpdateConfig of variant "v" sets neither MaxConcurrency nor ProvisionedConcurrency.`},
		} {
			_, err := s.UpdateEndpointWeightsAndCapacities(ctx, "sl", []WeightAndCapacity{c.u})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want %q", c.name, err, c.want)
			}
		}
		f.expect("sl", StatusInService, 3, 3)

		// Instances to serverless: refused; serverless to instances: allowed.
		_, err = s.CreateEndpointConfig(ctx, configIn(`{"EndpointConfigName":"inst","ProductionVariants":[{"VariantName":"v","ModelName":"m","InstanceType":"ml.m5.large","InitialInstanceCount":1}]}`))
		f.must(err)
		_, err = s.UpdateEndpoint(ctx, UpdateEndpointInput{EndpointName: "sl", ConfigName: "inst"})
		f.must(err)
		rt.readyAll()
		synctest.Wait()
		rt.readyAll()
		f.expect("sl", StatusInService, 1, 1)
		_, err = s.UpdateEndpointWeightsAndCapacities(ctx, "sl", []WeightAndCapacity{{VariantName: "v", ServerlessUpdateConfig: &ServerlessUpdate{ProvisionedConcurrency: &three}}})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "is not serverless: ServerlessUpdateConfig is for serverless variants") {
			t.Errorf("ServerlessUpdateConfig on a variant of instances: %v", err)
		}
		_, err = s.UpdateEndpoint(ctx, UpdateEndpointInput{EndpointName: "sl", ConfigName: "sl"})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "an endpoint of instances cannot become serverless") {
			t.Errorf("instances to serverless: %v", err)
		}
	})
}
