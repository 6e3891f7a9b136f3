package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

func (s *server) S3() *s3.Client {
	return s3.NewFromConfig(awsConfig("AKIDTEST", "secret"), func(o *s3.Options) { o.BaseEndpoint = aws.String(s.URL); o.UsePathStyle = true })
}

// asyncConfig creates the model and an async endpoint configuration.
func asyncConfig(t *testing.T, sm *sagemaker.Client, name, image string, topic string) {
	t.Helper()
	ctx := context.Background()
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String(name), PrimaryContainer: &types.ContainerDefinition{Image: aws.String(image)}}); err != nil {
		t.Fatal(err)
	}
	out := &types.AsyncInferenceOutputConfig{S3OutputPath: aws.String("s3://async/out"), S3FailurePath: aws.String("s3://async/fail")}
	if topic != "" {
		out.NotificationConfig = &types.AsyncInferenceNotificationConfig{SuccessTopic: aws.String(topic), ErrorTopic: aws.String(topic)}
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{
		EndpointConfigName: aws.String(name),
		ProductionVariants: []types.ProductionVariant{{VariantName: aws.String("prod"), ModelName: aws.String(name), InstanceType: types.ProductionVariantInstanceTypeMlC5Large, InitialInstanceCount: aws.Int32(1)}},
		AsyncInferenceConfig: &types.AsyncInferenceConfig{OutputConfig: out,
			ClientConfig: &types.AsyncInferenceClientConfig{MaxConcurrentInvocationsPerInstance: aws.Int32(2)}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String(name), EndpointConfigName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

func readObject(t *testing.T, s *server, key string) (string, bool) {
	out, err := s.S3().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("async"), Key: aws.String(key)})
	if err != nil {
		return "", false
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return string(b), true
}

func waitObject(t *testing.T, s *server, key string) string {
	t.Helper()
	var body string
	eventually(t, 2*time.Minute, "s3://async/"+key+" appears", func() (ok bool, _ any) {
		body, ok = readObject(t, s, key)
		return ok, "absent"
	})
	return body
}

// TestAsyncSeedScaleFromZero is the first seed's configuration end to end
// (seedScaleFromZero).
func TestAsyncSeedScaleFromZero(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: scales an async endpoint from and to zero")
	}
	seedScaleFromZero(t, "ebb example-model --work-ms 5", func(extra ...string) *server { return startServer(t, t.TempDir(), extra...) })
}

// seedScaleFromZero is the first seed's configuration on a server that
// start runs, with a model of image: an async endpoint idles at zero
// instances; a request arrives; HasBacklogWithoutCapacity goes to 1, its
// alarm fires the step policy, capacity goes 0 -> 1, the output appears in
// S3, the webhook gets the notification, and the endpoint returns to zero.
func seedScaleFromZero(t *testing.T, image string, start func(extra ...string) *server) {
	var mu sync.Mutex
	var notes []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		notes = append(notes, m)
		mu.Unlock()
	}))
	defer hook.Close()
	topic := "arn:aws:sns:us-east-1:123456789012:inference-done"
	s := start("--time-scale", "60", "--sns-webhook", topic+"="+hook.URL)
	sm, as, cw, s3c := s.SageMaker(), s.AutoScaling(), s.cloudWatchClients()["cbor"], s.S3()
	ctx := context.Background()
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("async")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	asyncConfig(t, sm, "esd", image, topic)
	waitInService(t, sm, "esd")
	// Its instances serve its queue only: a real-time invocation is refused.
	refusal := "Endpoint esd of account 123456789012 is an asynchronous endpoint and does not support InvokeEndpoint or InvokeEndpointWithResponseStream; use InvokeEndpointAsync."
	_, rerr := s.Runtime().InvokeEndpoint(ctx, invocation("esd"))
	expectAPIError(t, rerr, "ValidationError", refusal)
	_, rerr = s.Runtime().InvokeEndpointWithResponseStream(ctx, &sagemakerruntime.InvokeEndpointWithResponseStreamInput{EndpointName: aws.String("esd"), Body: []byte("1"), ContentType: aws.String("text/csv")})
	expectAPIError(t, rerr, "ValidationError", refusal)

	// The seed's scaling: target tracking on CPU at 50%, and a step policy
	// on HasBacklogWithoutCapacity to leave zero.
	resource := aws.String("endpoint/esd/variant/prod")
	ns := aastypes.ServiceNamespaceSagemaker
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: ns, ResourceId: resource, ScalableDimension: variantDim, MinCapacity: aws.Int32(0), MaxCapacity: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("CPUUtil-ScalingPolicy"), ServiceNamespace: ns, ResourceId: resource, ScalableDimension: variantDim,
		PolicyType: aastypes.PolicyTypeTargetTrackingScaling, TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
			TargetValue: aws.Float64(50), ScaleInCooldown: aws.Int32(300), ScaleOutCooldown: aws.Int32(300),
			CustomizedMetricSpecification: &aastypes.CustomizedMetricSpecification{MetricName: aws.String("CPUUtilization"), Namespace: aws.String("/aws/sagemaker/Endpoints"),
				Statistic: aastypes.MetricStatisticAverage, Unit: aws.String("Percent"),
				Dimensions: []aastypes.MetricDimension{{Name: aws.String("EndpointName"), Value: aws.String("esd")}, {Name: aws.String("VariantName"), Value: aws.String("prod")}}}}}); err != nil {
		t.Fatal(err)
	}
	step, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("HasBacklogWithoutCapacity-ScalingPolicy"), ServiceNamespace: ns, ResourceId: resource, ScalableDimension: variantDim,
		PolicyType: aastypes.PolicyTypeStepScaling, StepScalingPolicyConfiguration: &aastypes.StepScalingPolicyConfiguration{
			AdjustmentType: aastypes.AdjustmentTypeChangeInCapacity, MetricAggregationType: aastypes.MetricAggregationTypeAverage, Cooldown: aws.Int32(300),
			StepAdjustments: []aastypes.StepAdjustment{{MetricIntervalLowerBound: aws.Float64(0), ScalingAdjustment: aws.Int32(1)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("stable-diffusion-hasbacklogwithoutcapacity-alarm"),
		MetricName: aws.String("HasBacklogWithoutCapacity"), Namespace: aws.String("AWS/SageMaker"), Statistic: cwtypes.StatisticAverage,
		Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("esd")}},
		Period:     aws.Int32(60), EvaluationPeriods: aws.Int32(2), DatapointsToAlarm: aws.Int32(2), Threshold: aws.Float64(1),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold, TreatMissingData: aws.String("missing"),
		AlarmActions: []string{aws.ToString(step.PolicyARN)}}); err != nil {
		t.Fatal(err)
	}

	// Idle: CPU is low for 15 minutes and the endpoint goes to zero.
	waitFor(t, sm, "esd", "idle endpoint at zero", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).DesiredInstanceCount == 0 && *variantOf(o).CurrentInstanceCount == 0 && o.EndpointStatus == "InService"
	})

	// A request arrives, as the seed sends it: input in S3, then InvokeEndpointAsync.
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("async"), Key: aws.String("in/prompt.csv"), Body: bytes.NewReader([]byte("1,2,3\n4,5,6"))}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	inv, err := s.Runtime().InvokeEndpointAsync(ctx, &sagemakerruntime.InvokeEndpointAsyncInput{EndpointName: aws.String("esd"),
		InputLocation: aws.String("s3://async/in/prompt.csv"), ContentType: aws.String("text/csv"), Accept: aws.String("text/csv")})
	if err != nil {
		t.Fatalf("InvokeEndpointAsync: %v", err)
	}
	id := aws.ToString(inv.InferenceId)
	if id == "" || aws.ToString(inv.OutputLocation) != "s3://async/out/"+id+".out" {
		t.Fatalf("InvokeEndpointAsync = %+v", inv)
	}
	out := waitObject(t, s, "out/"+id+".out")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 {
		t.Fatalf("output %q, want two scores", out)
	}
	ep, _ := sm.DescribeEndpoint(ctx, describe("esd"))
	if *variantOf(ep).DesiredInstanceCount != 1 {
		t.Errorf("capacity after the scale from zero = %d, want 1", *variantOf(ep).DesiredInstanceCount)
	}
	eventually(t, time.Minute, "the notification", func() (bool, any) {
		mu.Lock()
		defer mu.Unlock()
		return len(notes) > 0, len(notes)
	})
	mu.Lock()
	if len(notes) != 1 || notes[0]["inferenceId"] != id || notes[0]["invocationStatus"] != "Completed" || notes[0]["eventName"] != "InferenceResult" {
		t.Fatalf("notifications %+v", notes)
	}
	mu.Unlock()

	// Idle again: back to zero.
	waitFor(t, sm, "esd", "back to zero", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).DesiredInstanceCount == 0 && *variantOf(o).CurrentInstanceCount == 0
	})
	acts, _ := as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: ns, ResourceId: resource})
	fromZero := false
	for _, a := range acts.ScalingActivities {
		if strings.Contains(aws.ToString(a.Cause), "stable-diffusion-hasbacklogwithoutcapacity-alarm") && aws.ToString(a.Description) == "Setting desired instance count to 1." {
			fromZero = true
		}
	}
	if !fromZero {
		t.Fatalf("no activity explains the scale from zero: %+v", acts.ScalingActivities)
	}
}
