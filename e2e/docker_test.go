package e2e

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/ebbscale/ebb/internal/runtime/docker/dockertest"
)

// dockerModel is the example model as a SageMaker container image, built
// offline from the ebb under test; dockerMultiModel serves the multi-model
// contract and says so in its label.
const (
	dockerModel      = "ebb-e2e/example-model:latest"
	dockerMultiModel = "ebb-e2e/example-multi-model:latest"
	dockerModelLogs  = "ebb-e2e/example-model:logging"
	dockerModelCPU   = "ebb-e2e/example-model:cpu" // 20 ms of CPU a request
	// dockerModelBroken answers every invocation 500, as a bad version does.
	dockerModelBroken = "ebb-e2e/example-model:broken"
	// dockerModelLLM is the LLM-like engine.
	dockerModelLLM = "ebb-e2e/example-model:llm"
)

var dockerImageOnce sync.Once

// startDockerServer runs ebb with --runtime docker on the tests' daemon,
// with the example model's image built.
func startDockerServer(t testing.TB, dir string, extra ...string) (*server, *dockertest.Daemon) {
	t.Helper()
	d := dockertest.Shared(t)
	dockerImageOnce.Do(func() {
		env := map[string]string{"SAGEMAKER_BIND_TO_HOST": "0.0.0.0", "SAGEMAKER_BIND_TO_PORT": "8080"}
		d.Image(t, dockerModel, ebbBin, []string{"example-model", "--work-ms", "2"}, env, nil)
		d.Image(t, dockerModelLogs, ebbBin, []string{"example-model", "--work-ms", "0", "--log-requests"}, env, nil)
		d.Image(t, dockerModelCPU, ebbBin, []string{"example-model", "--work-ms", "20"}, env, nil)
		d.Image(t, dockerModelBroken, ebbBin, []string{"example-model", "--error-rate", "1"}, env, nil)
		d.Image(t, dockerModelLLM, ebbBin, []string{"example-model", "--llm", "--max-batch", "2", "--time-per-token", "20ms"}, env, nil)
		d.Image(t, dockerMultiModel, ebbBin, []string{"example-model", "--multi-model", "--model-memory-mb", "100", "--work-ms", "0"}, env,
			map[string]string{"com.amazonaws.sagemaker.capabilities.multi-models": "true"})
	})
	return startServer(t, dir, append([]string{"--runtime", "docker", "--docker-host", d.Host}, extra...)...), d
}

// containers lists the running containers of ebb's instances, by name.
func containers(t testing.TB, d *dockertest.Daemon) map[string]container.Summary {
	t.Helper()
	list, err := d.Client.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "ebb.io/instance-id"))})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]container.Summary{}
	for _, c := range list {
		out[c.Names[0]] = c
	}
	return out
}

// TestDockerEndpointLifecycle: through the Go SDK, an endpoint of the
// example image runs as containers and answers; a container killed under
// load is replaced; ebb killed with -9 and restarted adopts the same
// containers (no duplicate, no orphan); deleting the endpoint removes them.
func TestDockerEndpointLifecycle(t *testing.T) {
	dir := t.TempDir()
	s, d := startDockerServer(t, dir)
	sm, rt := s.SageMaker(), s.Runtime()
	deploy(t, sm, "dock", dockerModel, 2)
	waitInService(t, sm, "dock")
	if got := invoke(t, rt, "dock", "1,2,3"); got.Body == nil {
		t.Fatal("no answer")
	}
	before := containers(t, d)
	if len(before) != 2 {
		t.Fatalf("%d containers, want 2: %v", len(before), slices.Collect(maps.Keys(before)))
	}

	// A container killed under load: replaced, and the endpoint serves on.
	stop := traffic(rt, "dock", 4)
	victim := slices.Collect(maps.Keys(before))[0]
	if err := d.Client.ContainerKill(context.Background(), before[victim].ID, "KILL"); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "a replacement container serves", func() (bool, any) {
		now := containers(t, d)
		_, still := now[victim]
		o, err := sm.DescribeEndpoint(context.Background(), describe("dock"))
		return !still && len(now) == 2 && err == nil && aws.ToInt32(variantOf(o).CurrentInstanceCount) == 2 && o.EndpointStatus == types.EndpointStatusInService, slices.Collect(maps.Keys(now))
	})
	ok, failed, _ := stop()
	t.Logf("under the kill: %d calls served, %d failed", ok, failed)
	if ok == 0 || failed > 4 {
		t.Fatalf("%d calls served, %d failed: want only those in flight on the killed container to fail (at most one per client, 4)", ok, failed)
	}

	// kill -9 and restart: the same containers, adopted.
	running := containers(t, d)
	s.Crash()
	s2, _ := startDockerServer(t, dir)
	o, err := s2.SageMaker().DescribeEndpoint(context.Background(), describe("dock"))
	if err != nil || aws.ToInt32(variantOf(o).CurrentInstanceCount) != 2 {
		t.Fatalf("after the restart: %v, %v", o, err)
	}
	invoke(t, s2.Runtime(), "dock", "4,5,6")
	after := containers(t, d)
	if len(after) != 2 {
		t.Fatalf("%d containers after the restart, want the same 2", len(after))
	}
	for name, c := range after {
		if running[name].ID != c.ID {
			t.Errorf("container %s is new after the restart: it should have been adopted", name)
		}
	}

	// Deleting the endpoint removes its containers.
	if _, err := s2.SageMaker().DeleteEndpoint(context.Background(), &sagemaker.DeleteEndpointInput{EndpointName: aws.String("dock")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "no container left", func() (bool, any) {
		left := containers(t, d)
		return len(left) == 0, slices.Collect(maps.Keys(left))
	})
}

// TestDockerImageThatCannotBePulled: an image no registry serves fails the
// endpoint with the registry's reason in FailureReason.
func TestDockerImageThatCannotBePulled(t *testing.T) {
	s, _ := startDockerServer(t, t.TempDir(), "--instance-start-limit", "20s")
	sm := s.SageMaker()
	deploy(t, sm, "nopull", "registry.invalid/nobody/no-such-model:1", 1)
	o := waitFor(t, sm, "nopull", "the endpoint fails", func(o *sagemaker.DescribeEndpointOutput) bool {
		return o.EndpointStatus == types.EndpointStatusFailed
	})
	if reason := aws.ToString(o.FailureReason); !strings.Contains(reason, "registry.invalid/nobody/no-such-model:1") {
		t.Fatalf("FailureReason = %q, want the pull's error naming the image", reason)
	}
	t.Logf("FailureReason: %s", aws.ToString(o.FailureReason))
}

// inspect returns the container of an instance whose name has prefix.
func inspect(t *testing.T, d *dockertest.Daemon, prefix string) []container.InspectResponse {
	t.Helper()
	var out []container.InspectResponse
	for name, c := range containers(t, d) {
		if strings.HasPrefix(name, "/ebb-"+prefix) {
			info, err := d.Client.ContainerInspect(context.Background(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, info)
		}
	}
	return out
}

// TestDockerManyModels: every way of hosting many models runs as
// containers. A multi-model endpoint loads its artifacts (a directory and a
// .tar.gz) from /opt/ml/models, and an image without SageMaker's
// multi-model label is refused at CreateModel; a model of two containers
// runs them with their ContainerHostname; inference-component copies are
// containers limited to their ComputeResourceRequirements.
func TestDockerManyModels(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "artifacts")
	writeArtifact(t, filepath.Join(prefix, "a"), 40)
	writeArtifact(t, filepath.Join(prefix, "c.tar.gz"), 40)
	s, d := startDockerServer(t, dir)
	sm, rt := s.SageMaker(), s.Runtime()
	ctx := context.Background()

	// Multi-model.
	mme := func(name, image string) error {
		_, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String(name), PrimaryContainer: &types.ContainerDefinition{
			Image: aws.String(image), Mode: types.ContainerModeMultiModel, ModelDataUrl: aws.String("file://" + prefix + "/")}})
		return err
	}
	expectAPIError(t, mme("unlabelled", dockerModel), "ValidationException",
		"Your image "+dockerModel+" does not contain required com.amazonaws.sagemaker.capabilities.multi-models=true Docker label(s).")
	if err := mme("mme", dockerMultiModel); err != nil {
		t.Fatal(err)
	}
	createConfigOf(t, sm, "mme", "mme")
	// Two containers, addressed by hostname.
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("two"), Containers: []types.ContainerDefinition{
		{Image: aws.String(dockerModel), ContainerHostname: aws.String("first")},
		{Image: aws.String(dockerModel), ContainerHostname: aws.String("second"), Environment: map[string]string{"SAGEMAKER_BIND_TO_PORT": "9090"}}},
		InferenceExecutionConfig: &types.InferenceExecutionConfig{Mode: types.InferenceExecutionModeDirect}}); err != nil {
		t.Fatal(err)
	}
	createConfigOf(t, sm, "two", "two")
	for _, name := range []string{"mme", "two"} {
		if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String(name), EndpointConfigName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	// Inference components.
	hostEndpoint(t, sm, "ic", types.ProductionVariantInstanceTypeMlC5Xlarge, 0, 0)
	createComponent(t, sm, "icd", "ic", dockerModel, 2)

	waitInService(t, sm, "mme")
	for _, target := range []string{"a", "c.tar.gz", "a"} {
		if out, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("mme"), TargetModel: aws.String(target),
			Body: []byte("1,2"), ContentType: aws.String("text/csv")}); err != nil || len(out.Body) == 0 {
			t.Fatalf("TargetModel %s: %v", target, err)
		}
	}
	if c := inspect(t, d, "mme-"); len(c) != 1 || !slices.Contains(c[0].Config.Env, "SAGEMAKER_MULTI_MODEL=true") {
		t.Fatalf("the multi-model container is not told so: %+v", c)
	}

	waitInService(t, sm, "two")
	for _, host := range []string{"first", "second"} {
		if out, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("two"), TargetContainerHostname: aws.String(host),
			Body: []byte("1,2"), ContentType: aws.String("text/csv")}); err != nil || len(out.Body) == 0 {
			t.Fatalf("container %s: %v", host, err)
		}
	}
	hosts := map[string]bool{}
	for _, c := range inspect(t, d, "two-") {
		hosts[c.Config.Hostname] = true
	}
	if !hosts["first"] || !hosts["second"] || len(hosts) != 2 {
		t.Fatalf("container hostnames %v, want first and second", hosts)
	}

	waitComponent(t, sm, "icd", "InService", inService)
	for range 4 {
		if out, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("ic"), InferenceComponentName: aws.String("icd"),
			Body: []byte("1,2"), ContentType: aws.String("text/csv")}); err != nil || len(out.Body) == 0 {
			t.Fatalf("component icd: %v", err)
		}
	}
	copies := inspect(t, d, "icd-")
	if len(copies) != 2 {
		t.Fatalf("%d copy containers, want 2", len(copies))
	}
	for _, c := range copies {
		if c.HostConfig.NanoCPUs != 1e9 || c.HostConfig.Memory != 512<<20 {
			t.Errorf("copy %s limited to %d nano-CPUs and %d bytes, want its 1 core and 512 MB", c.Name, c.HostConfig.NanoCPUs, c.HostConfig.Memory)
		}
	}
}

// createConfigOf creates an endpoint configuration of one ml.m5.large
// instance of model (the type of the test cluster's nodes).
func createConfigOf(t *testing.T, sm *sagemaker.Client, config, model string) {
	t.Helper()
	if _, err := sm.CreateEndpointConfig(context.Background(), &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String(config), ProductionVariants: []types.ProductionVariant{{
		VariantName: aws.String("AllTraffic"), ModelName: aws.String(model), InstanceType: types.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(1)}}}); err != nil {
		t.Fatal(err)
	}
}

// TestDockerSeedBlogFlow is the seed blog's flow (blogScaling) with
// instances as containers: 4 under load, 1 when idle.
func TestDockerSeedBlogFlow(t *testing.T) {
	s, d := startDockerServer(t, t.TempDir(), "--time-scale", "60")
	sm := s.SageMaker()
	deploy(t, sm, "dblog", dockerModel, 1)
	waitInService(t, sm, "dblog")
	blogScaling(t, sm, s.Runtime(), s.AutoScaling(), "dblog", func() {
		if n := len(containers(t, d)); n != 4 {
			t.Errorf("%d containers at 4 instances", n)
		}
	})
	eventually(t, time.Minute, "one container left", func() (bool, any) {
		n := len(containers(t, d))
		return n == 1, n
	})
}

// TestDockerAsyncFromZero is the first seed's async endpoint from zero
// and back (seedScaleFromZero) with its instances as containers.
func TestDockerAsyncFromZero(t *testing.T) {
	var d *dockertest.Daemon
	seedScaleFromZero(t, dockerModel, func(extra ...string) *server {
		var s *server
		s, d = startDockerServer(t, t.TempDir(), extra...)
		return s
	})
	eventually(t, time.Minute, "no container left at zero", func() (bool, any) {
		n := len(containers(t, d))
		return n == 0, n
	})
}

// TestDockerBlueGreen: UpdateEndpoint under traffic starts the new
// configuration's containers, moves traffic when they are ready with no
// failed request, and removes the old ones.
func TestDockerBlueGreen(t *testing.T) {
	s, d := startDockerServer(t, t.TempDir())
	sm, rt := s.SageMaker(), s.Runtime()
	deploy(t, sm, "dbg", dockerModel, 2)
	waitInService(t, sm, "dbg")
	old := containers(t, d)
	createConfig(t, sm, "dbg-v2", "dbg-v2", dockerModel, 2)
	stop := traffic(rt, "dbg", 8)
	if _, err := sm.UpdateEndpoint(context.Background(), &sagemaker.UpdateEndpointInput{EndpointName: aws.String("dbg"), EndpointConfigName: aws.String("dbg-v2")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sm, "dbg", "cut over to dbg-v2", func(o *sagemaker.DescribeEndpointOutput) bool {
		return o.EndpointStatus == types.EndpointStatusInService && aws.ToString(o.EndpointConfigName) == "dbg-v2"
	})
	eventually(t, time.Minute, "only the new containers left", func() (bool, any) {
		now := containers(t, d)
		for name := range now {
			if _, ok := old[name]; ok {
				return false, slices.Collect(maps.Keys(now))
			}
		}
		return len(now) == 2, slices.Collect(maps.Keys(now))
	})
	ok, failed, first := stop()
	t.Logf("%d requests during the update, %d failed", ok, failed)
	if failed > 0 {
		t.Fatalf("%d of %d requests failed during UpdateEndpoint; first: %v", failed, ok+failed, first)
	}
	if ok < 50 {
		t.Fatalf("only %d requests ran during the update", ok)
	}
}
