package e2e

import (
	"archive/tar"
	"bytes"
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
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// writeArtifact writes a model directory, or a .tar.gz of one, whose
// model.json says how much memory the model takes.
func writeArtifact(t *testing.T, path string, memoryMiB int) {
	t.Helper()
	if filepath.Ext(path) != ".gz" {
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(path, "model.json"), modelDoc(memoryMiB), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(path, artifactTarGz(memoryMiB), 0o644); err != nil {
		t.Fatal(err)
	}
}

func modelDoc(memoryMiB int) []byte {
	return []byte(`{"seed": 11, "memory_mb": ` + strconv.Itoa(memoryMiB) + `}`)
}

// artifactTarGz is a model.tar.gz whose model.json says how much memory
// the model takes.
func artifactTarGz(memoryMiB int) []byte {
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	doc := modelDoc(memoryMiB)
	tw.WriteHeader(&tar.Header{Name: "model.json", Mode: 0o644, Size: int64(len(doc))})
	tw.Write(doc)
	tw.Close()
	gz.Close()
	return b.Bytes()
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

// TestMultiModelOnEveryRuntime: a multi-model endpoint of two instances,
// each with room for two models of 40 MiB, on every runtime. A model is
// loaded once and its requests then go to the instance that has it; five
// models make instances unload the least recently used; an artifact that
// is not there is SageMaker's ValidationError. The artifacts come from
// where each runtime reads them: a local prefix for processes and
// containers (which mount it), ebb's S3 API through --s3-endpoint on
// Kubernetes, where the puller beside each pod fetches them.
func TestMultiModelOnEveryRuntime(t *testing.T) {
	targets := []string{"a.tar.gz", "b.tar.gz", "c.tar.gz", "d.tar.gz", "e.tar.gz"}
	local := func(t *testing.T, dir string) string {
		prefix := filepath.Join(dir, "artifacts")
		os.MkdirAll(prefix, 0o755)
		for _, name := range targets {
			writeArtifact(t, filepath.Join(prefix, name), 40)
		}
		return "file://" + prefix + "/"
	}
	for name, c := range map[string]struct {
		image string
		// start runs a server whose multi-model artifacts are under prefix;
		// check looks at its instances once the endpoint is in service.
		start func(t *testing.T, dir string) (s *server, prefix string, check func(t *testing.T))
	}{
		"process": {"ebb example-model --multi-model --model-memory-mb 100 --work-ms 0", func(t *testing.T, dir string) (*server, string, func(*testing.T)) {
			s := startServer(t, dir)
			_, err := s.SageMaker().CreateModel(context.Background(), &sagemaker.CreateModelInput{ModelName: aws.String("remote"), PrimaryContainer: &types.ContainerDefinition{
				Image: aws.String("ebb example-model --multi-model"), Mode: types.ContainerModeMultiModel, ModelDataUrl: aws.String("s3://models/mme/")}})
			expectAPIError(t, err, "ValidationException", "ModelDataUrl: the process runtime reads model data from local paths and file:// URLs, not s3://models/mme/: copy the artifacts to a directory under a --model-data-root, or run ebb with --runtime docker or kubernetes")
			return s, local(t, dir), func(*testing.T) {}
		}},
		"docker": {dockerMultiModel, func(t *testing.T, dir string) (*server, string, func(*testing.T)) {
			s, _ := startDockerServer(t, dir)
			return s, local(t, dir), func(*testing.T) {}
		}},
		"kubernetes": {kubeMultiModel, func(t *testing.T, dir string) (*server, string, func(*testing.T)) {
			store := startServer(t, t.TempDir())
			ctx := context.Background()
			if _, err := store.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("models")}); err != nil {
				t.Fatal(err)
			}
			for _, name := range targets {
				if _, err := store.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("models"), Key: aws.String("mme/" + name),
					Body: bytes.NewReader(artifactTarGz(40))}); err != nil {
					t.Fatal(err)
				}
			}
			// The pullers sign with the keys of --model-fetcher-secret.
			cluster := kubeCluster(t)
			ns := cluster.Namespace(t)
			if _, err := cluster.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-keys"},
				StringData: map[string]string{"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			k := startKubeServerIn(t, dir, ns, "--s3-endpoint", store.URL, "--model-fetcher-secret", "s3-keys")
			return k.server, "s3://models/mme/", func(t *testing.T) {
				for name, p := range k.pods(t) {
					if len(p.Spec.Containers) != 2 || p.Spec.Containers[1].Name != "model-puller" {
						t.Errorf("pod %s runs %d containers, want the model and its puller", name, len(p.Spec.Containers))
					}
				}
			}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, prefix, check := c.start(t, t.TempDir())
			sm, rt := s.SageMaker(), s.Runtime()
			if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("mme"), PrimaryContainer: &types.ContainerDefinition{
				Image: aws.String(c.image), Mode: types.ContainerModeMultiModel, ModelDataUrl: aws.String(prefix)}}); err != nil {
				t.Fatal(err)
			}
			if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("mme"), ProductionVariants: []types.ProductionVariant{{
				VariantName: aws.String("AllTraffic"), ModelName: aws.String("mme"), InstanceType: types.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(2)}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("mme"), EndpointConfigName: aws.String("mme")}); err != nil {
				t.Fatal(err)
			}
			waitInService(t, sm, "mme")
			check(t)
			call := func(target string) error {
				_, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("mme"), TargetModel: aws.String(target),
					Body: []byte("1,2"), ContentType: aws.String("text/csv")})
				return err
			}
			// a four times: one load, then three hits on the instance that
			// has it; four more models than the two instances hold in all.
			for _, target := range append([]string{"a.tar.gz", "a.tar.gz", "a.tar.gz"}, targets...) {
				if err := call(target); err != nil {
					t.Fatalf("TargetModel %s: %v", target, err)
				}
			}
			expectAPIError(t, call("missing.tar.gz"), "ValidationError", "Failed to download model data for endpoint mme: there is no artifact with that TargetModel under the model's ModelDataUrl. Please ensure that there is an object located at the URL.")
			cw := s.cloudWatchClients()["cbor"]
			dims := []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("mme")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}}
			eventually(t, 20*time.Second, "the model cache metrics", func() (bool, any) {
				stats := map[string]cwtypes.Datapoint{}
				for _, m := range []string{"ModelCacheHit", "ModelUnloadingTime"} {
					out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/SageMaker"), MetricName: aws.String(m), Dimensions: dims,
						StartTime: aws.Time(time.Now().Add(-10 * time.Minute)), EndTime: aws.Time(time.Now().Add(time.Minute)), Period: aws.Int32(3600),
						Statistics: []cwtypes.Statistic{cwtypes.StatisticSum, cwtypes.StatisticSampleCount}})
					if err != nil || len(out.Datapoints) == 0 {
						return false, fmt.Sprintf("%s: %v", m, err)
					}
					stats[m] = out.Datapoints[0]
				}
				hits, calls := aws.ToFloat64(stats["ModelCacheHit"].Sum), aws.ToFloat64(stats["ModelCacheHit"].SampleCount)
				unloads := aws.ToFloat64(stats["ModelUnloadingTime"].SampleCount)
				return hits == 3 && calls == 8 && unloads >= 1, fmt.Sprintf("hits %v of %v, unloads %v", hits, calls, unloads)
			})
		})
	}
}
