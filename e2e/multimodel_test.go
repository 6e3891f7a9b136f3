package e2e

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// writeArtifact writes a model directory, or a .tar.gz of one, whose
// model.json says how much memory the model takes.
func writeArtifact(t *testing.T, path string, memoryMiB int) {
	t.Helper()
	doc := []byte(`{"seed": 11, "memory_mb": ` + strconv.Itoa(memoryMiB) + `}`)
	if filepath.Ext(path) != ".gz" {
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(path, "model.json"), doc, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "model.json", Mode: 0o644, Size: int64(len(doc))})
	tw.Write(doc)
	tw.Close()
	gz.Close()
	os.Chmod(path, 0o644)
}

// TestMultiModelEndpoint serves three model artifacts (two directories and
// a .tar.gz) from one instance whose container has room for two: each is
// loaded on first use through the multi-model contract, the least recently
// used one is unloaded to make room, and the model cache shows in
// CloudWatch (ModelCacheHit, ModelUnloadingTime, LoadedModelCount).
func TestMultiModelEndpoint(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "artifacts")
	writeArtifact(t, filepath.Join(prefix, "a"), 40)
	writeArtifact(t, filepath.Join(prefix, "b"), 40)
	writeArtifact(t, filepath.Join(prefix, "c.tar.gz"), 40)
	s := startServer(t, dir)
	sm, rt := s.SageMaker(), s.Runtime()
	cw := s.cloudWatchClients()["cbor"]
	ctx := context.Background()
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("mme"), PrimaryContainer: &types.ContainerDefinition{
		Image: aws.String("ebb example-model --multi-model --model-memory-mb 100 --work-ms 0"), Mode: types.ContainerModeMultiModel,
		ModelDataUrl: aws.String("file://" + prefix + "/")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("mme"), ProductionVariants: []types.ProductionVariant{{
		VariantName: aws.String("AllTraffic"), ModelName: aws.String("mme"), InstanceType: types.ProductionVariantInstanceTypeMlC5Large, InitialInstanceCount: aws.Int32(1)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("mme"), EndpointConfigName: aws.String("mme")}); err != nil {
		t.Fatal(err)
	}
	waitInService(t, sm, "mme")
	call := func(target string) (*sagemakerruntime.InvokeEndpointOutput, error) {
		return rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("mme"), TargetModel: aws.String(target),
			Body: []byte("1,2"), ContentType: aws.String("text/csv")})
	}
	// a, b load; a hits; c makes room by unloading b; b unloads a.
	for _, target := range []string{"a", "b", "a", "c.tar.gz", "b"} {
		if res, err := call(target); err != nil || len(res.Body) == 0 {
			t.Fatalf("TargetModel %s: %v", target, err)
		}
	}
	_, err := call("../../etc")
	expectAPIError(t, err, "ValidationError", "TargetModel must be a relative path under the model data prefix of endpoint mme, without . or .. segments.")
	_, err = call("missing.tar.gz")
	expectAPIError(t, err, "ValidationError", "Failed to download model data for endpoint mme: there is no artifact with that TargetModel under the model's ModelDataUrl. Please ensure that there is an object located at the URL.")
	_, err = rt.InvokeEndpoint(ctx, invocation("mme"))
	expectAPIError(t, err, "ValidationError", "Endpoint mme is a multi-model endpoint: the TargetModel header is required, naming the model artifact to invoke.")

	// A single-model server under Mode MultiModel: the first invocation
	// says what is wrong (SageMaker refuses the image at CreateModel by its
	// label; a command line has none).
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("single"), PrimaryContainer: &types.ContainerDefinition{
		Image: aws.String("ebb example-model --work-ms 0"), Mode: types.ContainerModeMultiModel, ModelDataUrl: aws.String("file://" + prefix + "/")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("single"), ProductionVariants: []types.ProductionVariant{{
		VariantName: aws.String("AllTraffic"), ModelName: aws.String("single"), InstanceType: types.ProductionVariantInstanceTypeMlC5Large, InitialInstanceCount: aws.Int32(1)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("single"), EndpointConfigName: aws.String("single")}); err != nil {
		t.Fatal(err)
	}
	waitInService(t, sm, "single")
	_, err = rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("single"), TargetModel: aws.String("a"), Body: []byte("1,2"), ContentType: aws.String("text/csv")})
	expectAPIError(t, err, "ModelError", "The container of endpoint single does not serve SageMaker's multi-model contract: it answered POST /models with 404 or 405. A model with Mode MultiModel needs an image that loads models on request (SageMaker checks the label com.amazonaws.sagemaker.capabilities.multi-models=true at CreateModel; ebb cannot check a command line, so it says so here). Use such a server, or Mode SingleModel.")

	dims := []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("mme")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}}
	stat := func(ns, name string, st cwtypes.Statistic) (float64, bool) {
		out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String(ns), MetricName: aws.String(name), Dimensions: dims,
			StartTime: aws.Time(time.Now().Add(-10 * time.Minute)), EndTime: aws.Time(time.Now().Add(time.Minute)), Period: aws.Int32(3600), Statistics: []cwtypes.Statistic{st}})
		if err != nil || len(out.Datapoints) == 0 {
			return 0, false
		}
		switch st {
		case cwtypes.StatisticSum:
			return aws.ToFloat64(out.Datapoints[0].Sum), true
		case cwtypes.StatisticSampleCount:
			return aws.ToFloat64(out.Datapoints[0].SampleCount), true
		default:
			return aws.ToFloat64(out.Datapoints[0].Maximum), true
		}
	}
	eventually(t, 20*time.Second, "the model cache metrics", func() (bool, any) {
		hits, ok1 := stat("AWS/SageMaker", "ModelCacheHit", cwtypes.StatisticSum)
		calls, ok2 := stat("AWS/SageMaker", "ModelCacheHit", cwtypes.StatisticSampleCount)
		unloads, ok3 := stat("AWS/SageMaker", "ModelUnloadingTime", cwtypes.StatisticSampleCount)
		loaded, ok4 := stat("/aws/sagemaker/Endpoints", "LoadedModelCount", cwtypes.StatisticMaximum)
		return ok1 && ok2 && ok3 && ok4 && hits == 1 && calls == 5 && unloads == 2 && loaded == 2,
			fmt.Sprintf("hits %v of %v, unloads %v, loaded %v", hits, calls, unloads, loaded)
	})
}
