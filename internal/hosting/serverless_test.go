package hosting

import (
	"context"
	"errors"
	"strings"
	"testing"

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
