package hosting

import (
	"context"
	"errors"
	"strings"
	"testing"
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
// idle period after it was last needed, the newest need first to go.
func TestServerlessWant(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	const idle = 5 * time.Minute
	type step struct {
		at       time.Duration // after t0
		inflight int
		want     int
	}
	for _, c := range []struct {
		name  string
		max   int
		steps []step
	}{
		{"none until invoked", 3, []step{{0, 0, 0}, {time.Minute, 0, 0}}},
		{"one per invocation", 3, []step{{0, 1, 1}, {time.Second, 3, 3}}},
		{"never beyond MaxConcurrency", 2, []step{{0, 5, 2}}},
		{"kept while idle less than the idle period", 3, []step{{0, 2, 2}, {idle - time.Second, 0, 2}}},
		{"reclaimed after it", 3, []step{{0, 2, 2}, {idle, 0, 0}}},
		{"the extra one goes first", 3, []step{{0, 3, 3}, {time.Minute, 1, 3}, {idle, 1, 1}, {idle + time.Minute, 0, 1}, {2 * idle, 0, 0}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var busy []time.Time
			for _, s := range c.steps {
				var got int
				busy, got = serverlessWant(busy, s.inflight, c.max, t0.Add(s.at), idle)
				if got != s.want {
					t.Fatalf("at +%v with %d in flight: %d environments, want %d", s.at, s.inflight, got, s.want)
				}
			}
		})
	}
}
