package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// TestMultiContainer runs a model of two containers both ways: Direct,
// each request addressed to a container by hostname and counted under its
// ContainerName; and Serial, an inference pipeline whose answer is the
// second container's answer to the first one's, checked against invoking
// the same model twice by hand.
func TestMultiContainer(t *testing.T) {
	dir := t.TempDir()
	// The second container is another model: other weights.
	writeArtifact(t, filepath.Join(dir, "other"), 10)
	s := startServer(t, dir)
	sm, rt := s.SageMaker(), s.Runtime()
	cw := s.cloudWatchClients()["cbor"]
	ctx := context.Background()
	image := "ebb example-model --work-ms 0"
	two := []types.ContainerDefinition{{Image: aws.String(image), ContainerHostname: aws.String("first")},
		{Image: aws.String(image), ContainerHostname: aws.String("second"), ModelDataUrl: aws.String("file://" + filepath.Join(dir, "other"))}}
	for name, mode := range map[string]types.InferenceExecutionMode{"direct": types.InferenceExecutionModeDirect, "pipeline": types.InferenceExecutionModeSerial} {
		if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String(name), Containers: two,
			InferenceExecutionConfig: &types.InferenceExecutionConfig{Mode: mode}}); err != nil {
			t.Fatal(err)
		}
		if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String(name), ProductionVariants: []types.ProductionVariant{{
			VariantName: aws.String("AllTraffic"), ModelName: aws.String(name), InstanceType: types.ProductionVariantInstanceTypeMlC5Large, InitialInstanceCount: aws.Int32(1)}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String(name), EndpointConfigName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	deploy(t, sm, "single", image, 1)
	for _, name := range []string{"direct", "pipeline", "single"} {
		ep := waitInService(t, sm, name)
		want := map[string]int{"direct": 2, "pipeline": 2, "single": 1}[name]
		if got := ep.ProductionVariants[0].DeployedImages; len(got) != want || aws.ToString(got[0].SpecifiedImage) != image || aws.ToString(got[0].ResolvedImage) != image {
			t.Errorf("%s: DeployedImages = %+v, want %d, one per container", name, got, want)
		}
	}
	csv := func(endpoint, host string, body []byte) string {
		t.Helper()
		return invokeContainer(t, rt, endpoint, host, body)
	}
	x := []byte("1,2,3\n4,5,6")
	once := csv("single", "", x)
	if got := csv("direct", "first", x); got != once {
		t.Fatalf("direct to first: %q, want %q", got, once)
	}
	csv("direct", "second", x)
	if got, want := csv("pipeline", "", x), csv("direct", "second", []byte(once)); got != want || got == once {
		t.Fatalf("pipeline: %q, want the second container's answer to the first's: %q", got, want)
	}
	_, err := rt.InvokeEndpoint(ctx, invocation("direct"))
	expectAPIError(t, err, "ValidationError", "Endpoint direct is a multi-container endpoint with direct invocation: the TargetContainerHostname header is required, naming the container to invoke.")
	_, err = rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("direct"), Body: x, TargetContainerHostname: aws.String("third")})
	expectAPIError(t, err, "ValidationError", "The target container hostname is not a container of endpoint direct.")
	_, err = rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("pipeline"), Body: x, TargetContainerHostname: aws.String("first")})
	expectAPIError(t, err, "ValidationError", "Endpoint pipeline is not a multi-container endpoint with direct invocation and does not support target container hostname header.")
	_, err = sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("unnamed"), Containers: []types.ContainerDefinition{{Image: aws.String(image)}, {Image: aws.String(image)}},
		InferenceExecutionConfig: &types.InferenceExecutionConfig{Mode: types.InferenceExecutionModeDirect}})
	expectAPIError(t, err, "ValidationException", "Every container of a model with InferenceExecutionConfig Mode Direct needs a ContainerHostname; container 1 of model unnamed has none.")

	// Per-container invocations, under ContainerName.
	eventually(t, 20*time.Second, "Invocations of container second", func() (bool, any) {
		out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/SageMaker"), MetricName: aws.String("Invocations"),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("direct")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")},
				{Name: aws.String("ContainerName"), Value: aws.String("second")}},
			StartTime: aws.Time(time.Now().Add(-10 * time.Minute)), EndTime: aws.Time(time.Now().Add(time.Minute)), Period: aws.Int32(3600), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
		return err == nil && len(out.Datapoints) == 1 && aws.ToFloat64(out.Datapoints[0].Sum) == 2, fmt.Sprint(out, err)
	})
}

// TestSeveralContainersOnEveryRuntime: a model of two containers runs on
// every runtime (two processes, two containers, one pod of two
// containers), each addressed by its ContainerHostname in Direct mode, and
// as a pipeline in Serial mode, whose answer is the second container's
// answer to the first one's. A server killed with -9 and restarted adopts
// them: the same processes, containers and pods serve on.
func TestSeveralContainersOnEveryRuntime(t *testing.T) {
	// Images of a model with no work per request: one layer, the same
	// answer from every process (work sizes the layers to the machine).
	for name, image := range map[string]string{"process": "ebb example-model --work-ms 0", "docker": dockerModelLogs, "kubernetes": kubeModelLogs} {
		t.Run(name, func(t *testing.T) {
			rs := everyRuntime[name](t, t.TempDir())
			s := rs.server
			sm := s.SageMaker()
			ctx := context.Background()
			two := []types.ContainerDefinition{{Image: aws.String(image), ContainerHostname: aws.String("first")},
				{Image: aws.String(image), ContainerHostname: aws.String("second")}}
			for model, mode := range map[string]types.InferenceExecutionMode{"direct": types.InferenceExecutionModeDirect, "pipeline": types.InferenceExecutionModeSerial} {
				if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String(model), Containers: two,
					InferenceExecutionConfig: &types.InferenceExecutionConfig{Mode: mode}}); err != nil {
					t.Fatal(err)
				}
				createConfigOf(t, sm, model, model)
				if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String(model), EndpointConfigName: aws.String(model)}); err != nil {
					t.Fatal(err)
				}
			}
			serves := func(s *server) {
				t.Helper()
				waitInService(t, s.SageMaker(), "direct")
				waitInService(t, s.SageMaker(), "pipeline")
				rt := s.Runtime()
				x := []byte("1,2,3\n4,5,6")
				first := invokeContainer(t, rt, "direct", "first", x)
				if got, want := invokeContainer(t, rt, "pipeline", "", x), invokeContainer(t, rt, "direct", "second", []byte(first)); got != want {
					t.Fatalf("pipeline: %q, want the second container's answer to the first's: %q", got, want)
				}
			}
			serves(s)
			if rs.kube != nil {
				onePodOfBoth(t, rs.kube)
			}
			containerStreams(t, s)
			before := rs.running()
			slices.Sort(before)
			s = rs.restart()
			serves(s)
			after := rs.running()
			slices.Sort(after)
			if !slices.Equal(before, after) {
				t.Fatalf("after kill -9 and a restart, running %v; want the same %v adopted", after, before)
			}
			containerStreams(t, s)
		})
	}
}

// onePodOfBoth checks that endpoint direct's instance is one pod of both
// its containers.
func onePodOfBoth(t *testing.T, k *kubeServer) {
	t.Helper()
	pods := 0
	for name, p := range k.pods(t) {
		if strings.Contains(name, "direct") {
			pods++
			if len(p.Spec.Containers) != 2 {
				t.Errorf("pod %s has %d containers, want the model's 2", name, len(p.Spec.Containers))
			}
		}
	}
	if pods != 1 {
		t.Errorf("%d pods of endpoint direct, want 1 of both its containers", pods)
	}
}

// containerStreams checks that each container of endpoint direct's one
// instance writes to a log stream of its own (VARIANT/INSTANCE-HOSTNAME),
// each container's start logged there once.
func containerStreams(t *testing.T, s *server) {
	t.Helper()
	const group = "/aws/sagemaker/Endpoints/direct"
	ctx := context.Background()
	eventually(t, 30*time.Second, "a log stream per container, each with its start once", func() (bool, any) {
		streams, err := s.Logs().DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
		if err != nil {
			return false, err
		}
		var names []string
		for _, st := range streams.LogStreams {
			names = append(names, aws.ToString(st.LogStreamName))
		}
		slices.Sort(names)
		if len(names) != 2 || !strings.HasSuffix(names[0], "-first") || !strings.HasSuffix(names[1], "-second") {
			return false, names
		}
		for _, name := range names {
			out, err := s.Logs().FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), LogStreamNames: []string{name},
				FilterPattern: aws.String(`"example model serving"`)})
			if err != nil || len(out.Events) != 1 {
				return false, fmt.Sprintf("%s: %d starts, %v", name, len(out.Events), err)
			}
		}
		return true, names
	})
}

// invokeContainer invokes endpoint with CSV rows, addressed to the
// container named host where host is not empty, and returns the answer.
func invokeContainer(t *testing.T, rt *sagemakerruntime.Client, endpoint, host string, body []byte) string {
	t.Helper()
	in := &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String(endpoint), Body: body, ContentType: aws.String("text/csv"), Accept: aws.String("text/csv")}
	if host != "" {
		in.TargetContainerHostname = aws.String(host)
	}
	out, err := rt.InvokeEndpoint(context.Background(), in)
	if err != nil {
		t.Fatalf("%s %s: %v", endpoint, host, err)
	}
	return string(out.Body)
}
