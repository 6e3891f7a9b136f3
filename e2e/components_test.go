package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const componentDim = aastypes.ScalableDimensionSageMakerInferenceComponentDesiredCopyCount

// waitComponent polls DescribeInferenceComponent until cond holds.
func waitComponent(t testing.TB, sm *sagemaker.Client, name, what string, cond func(*sagemaker.DescribeInferenceComponentOutput) bool) *sagemaker.DescribeInferenceComponentOutput {
	t.Helper()
	var out *sagemaker.DescribeInferenceComponentOutput
	eventually(t, 90*time.Second, name+": "+what, func() (bool, any) {
		o, err := sm.DescribeInferenceComponent(context.Background(), &sagemaker.DescribeInferenceComponentInput{InferenceComponentName: aws.String(name)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = o
		return cond(o), fmt.Sprintf("%s, copies %d of %d (%s)", o.InferenceComponentStatus,
			aws.ToInt32(o.RuntimeConfig.CurrentCopyCount), aws.ToInt32(o.RuntimeConfig.DesiredCopyCount), aws.ToString(o.FailureReason))
	})
	return out
}

// hostEndpoint creates an endpoint of one variant, AllTraffic, that hosts
// inference components on instances of the type, with managed instance
// scaling between min and max when max > 0, and waits until it is InService.
func hostEndpoint(t testing.TB, sm *sagemaker.Client, name string, instanceType types.ProductionVariantInstanceType, min, max int32) *sagemaker.DescribeEndpointOutput {
	t.Helper()
	ctx := context.Background()
	v := types.ProductionVariant{VariantName: aws.String("AllTraffic"), InstanceType: instanceType, InitialInstanceCount: aws.Int32(1)}
	if max > 0 {
		v.ManagedInstanceScaling = &types.ProductionVariantManagedInstanceScaling{Status: types.ManagedInstanceScalingStatusEnabled,
			MinInstanceCount: aws.Int32(min), MaxInstanceCount: aws.Int32(max)}
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String(name), ProductionVariants: []types.ProductionVariant{v}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String(name), EndpointConfigName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	return waitInService(t, sm, name)
}

// componentSpec is a component of a container image, each copy needing a
// core and 512 MB.
func componentSpec(image string) *types.InferenceComponentSpecification {
	return &types.InferenceComponentSpecification{Container: &types.InferenceComponentContainerSpecification{Image: aws.String(image)},
		ComputeResourceRequirements: &types.InferenceComponentComputeResourceRequirements{NumberOfCpuCoresRequired: aws.Float32(1), MinMemoryRequiredInMb: aws.Int32(512)}}
}

// createComponent creates an inference component of componentSpec(image)
// on an endpoint's AllTraffic.
func createComponent(t testing.TB, sm *sagemaker.Client, name, endpoint, image string, copies int32) {
	t.Helper()
	if _, err := sm.CreateInferenceComponent(context.Background(), &sagemaker.CreateInferenceComponentInput{InferenceComponentName: aws.String(name),
		EndpointName: aws.String(endpoint), VariantName: aws.String("AllTraffic"), Specification: componentSpec(image),
		RuntimeConfig: &types.InferenceComponentRuntimeConfig{CopyCount: aws.Int32(copies)}}); err != nil {
		t.Fatal(err)
	}
}

func copies(o *sagemaker.DescribeInferenceComponentOutput) (current, desired int32) {
	return aws.ToInt32(o.RuntimeConfig.CurrentCopyCount), aws.ToInt32(o.RuntimeConfig.DesiredCopyCount)
}

func inService(o *sagemaker.DescribeInferenceComponentOutput) bool {
	return o.InferenceComponentStatus == types.InferenceComponentStatusInService
}

// TestInferenceComponents hosts two inference components on the instances
// of one endpoint with managed instance scaling, with the Go SDK: each is
// invoked by name, scales its copies on its own traffic (target tracking on
// InvocationsPerCopy) while the other stays put, and instances are added
// for copies that do not fit. Then AWS's scale-to-zero recipe: idle, the
// copies and then the instances go to zero, a request fails and counts as
// NoCapacityInvocationFailures, and the step policy on that metric brings
// a copy back, and an instance with it; idle again, both go back to zero.
func TestInferenceComponents(t *testing.T) {
	// Without ebb's cold-start buffer, a request at zero copies fails as on AWS.
	s := startServer(t, t.TempDir(), "--time-scale", "60", "--cold-start-buffer", "0")
	sm, rt, as := s.SageMaker(), s.Runtime(), s.AutoScaling()
	cw := s.cloudWatchClients()["cbor"]
	ctx := context.Background()
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("ic-model"), PrimaryContainer: &types.ContainerDefinition{Image: aws.String("ebb example-model --work-ms 1")}}); err != nil {
		t.Fatal(err)
	}
	ep := hostEndpoint(t, sm, "ic", types.ProductionVariantInstanceTypeMlC5Xlarge, 0, 2)
	if n := aws.ToInt32(ep.ProductionVariants[0].CurrentInstanceCount); n != 1 {
		t.Fatalf("a new host variant with MinInstanceCount 0 runs %d instances, want its InitialInstanceCount 1", n)
	}
	if len(ep.ProductionVariants[0].DeployedImages) != 0 {
		t.Fatalf("a host variant reports images: %+v", ep.ProductionVariants[0].DeployedImages)
	}
	// On 4-core instances: b's copy and one of a's share the first; a's
	// next two copies need a second instance, which managed instance
	// scaling adds.
	needs := &types.InferenceComponentComputeResourceRequirements{NumberOfCpuCoresRequired: aws.Float32(1), MinMemoryRequiredInMb: aws.Int32(1024)}
	needsA := &types.InferenceComponentComputeResourceRequirements{NumberOfCpuCoresRequired: aws.Float32(2), MinMemoryRequiredInMb: aws.Int32(1024)}
	for _, in := range []*sagemaker.CreateInferenceComponentInput{
		{InferenceComponentName: aws.String("a"), EndpointName: aws.String("ic"), VariantName: aws.String("AllTraffic"),
			Specification: &types.InferenceComponentSpecification{ModelName: aws.String("ic-model"), ComputeResourceRequirements: needsA},
			RuntimeConfig: &types.InferenceComponentRuntimeConfig{CopyCount: aws.Int32(1)}},
		{InferenceComponentName: aws.String("b"), EndpointName: aws.String("ic"), VariantName: aws.String("AllTraffic"),
			Specification: &types.InferenceComponentSpecification{Container: &types.InferenceComponentContainerSpecification{Image: aws.String("ebb example-model --work-ms 1")}, ComputeResourceRequirements: needs},
			RuntimeConfig: &types.InferenceComponentRuntimeConfig{CopyCount: aws.Int32(1)}},
	} {
		out, err := sm.CreateInferenceComponent(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if want := "arn:aws:sagemaker:us-east-1:123456789012:inference-component/" + *in.InferenceComponentName; aws.ToString(out.InferenceComponentArn) != want {
			t.Fatalf("ARN %s, want %s", aws.ToString(out.InferenceComponentArn), want)
		}
	}
	a := waitComponent(t, sm, "a", "InService", inService)
	b := waitComponent(t, sm, "b", "InService", inService)
	if aws.ToString(a.Specification.ModelName) != "ic-model" || aws.ToString(b.Specification.Container.DeployedImage.SpecifiedImage) != "ebb example-model --work-ms 1" ||
		aws.ToFloat32(a.Specification.ComputeResourceRequirements.NumberOfCpuCoresRequired) != 2 || aws.ToString(a.EndpointName) != "ic" {
		t.Fatalf("described: %+v / %+v", a.Specification, b.Specification)
	}
	list, err := sm.ListInferenceComponents(ctx, &sagemaker.ListInferenceComponentsInput{EndpointNameEquals: aws.String("ic"), SortBy: types.InferenceComponentSortKeyName, SortOrder: types.OrderKeyAscending})
	if err != nil || len(list.InferenceComponents) != 2 || *list.InferenceComponents[0].InferenceComponentName != "a" {
		t.Fatalf("list: %+v %v", list, err)
	}

	// Invocations name a component; the endpoint alone is not enough.
	for _, c := range []string{"a", "b"} {
		res, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("ic"), InferenceComponentName: aws.String(c), Body: []byte("1,2"), ContentType: aws.String("text/csv")})
		if err != nil || aws.ToString(res.InvokedProductionVariant) != "AllTraffic" {
			t.Fatalf("invoke %s: %v %v", c, res, err)
		}
	}
	_, err = rt.InvokeEndpoint(ctx, invocation("ic"))
	expectAPIError(t, err, "ValidationError", "Inference Component Name header is required for endpoint ic, which hosts inference components. Include the InferenceComponentName of the component to invoke.")

	// Bad input changes nothing.
	_, err = sm.CreateInferenceComponent(ctx, &sagemaker.CreateInferenceComponentInput{InferenceComponentName: aws.String("huge"), EndpointName: aws.String("ic"), VariantName: aws.String("AllTraffic"),
		Specification: &types.InferenceComponentSpecification{ModelName: aws.String("ic-model"), ComputeResourceRequirements: &types.InferenceComponentComputeResourceRequirements{NumberOfCpuCoresRequired: aws.Float32(8), MinMemoryRequiredInMb: aws.Int32(1024)}},
		RuntimeConfig: &types.InferenceComponentRuntimeConfig{CopyCount: aws.Int32(1)}})
	expectAPIError(t, err, "ValidationException", "")
	_, err = sm.CreateInferenceComponent(ctx, &sagemaker.CreateInferenceComponentInput{InferenceComponentName: aws.String("multi"), EndpointName: aws.String("ic"), VariantName: aws.String("AllTraffic"),
		Specifications: []types.InferenceComponentSpecification{{ModelName: aws.String("ic-model")}}, RuntimeConfig: &types.InferenceComponentRuntimeConfig{CopyCount: aws.Int32(1)}})
	expectAPIError(t, err, "ValidationException", "ebb does not support inference components with several specifications (one per instance type) (Specifications [{\"ModelName\":\"ic-model\"}]) yet; remove Specifications from the request or leave it at its default.")
	_, err = sm.DescribeInferenceComponent(ctx, &sagemaker.DescribeInferenceComponentInput{InferenceComponentName: aws.String("huge")})
	expectAPIError(t, err, "ValidationException", `Could not find inference component "arn:aws:sagemaker:us-east-1:123456789012:inference-component/huge".`)
	_, err = sm.DeleteEndpoint(ctx, &sagemaker.DeleteEndpointInput{EndpointName: aws.String("ic")})
	expectAPIError(t, err, "ValidationException", "")

	// Application Auto Scaling scales a's copies on its own traffic.
	for c, min := range map[string]int32{"a": 0, "b": 1} {
		if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
			ResourceId: aws.String("inference-component/" + c), ScalableDimension: componentDim, MinCapacity: aws.Int32(min), MaxCapacity: aws.Int32(3)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("copies"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
		ResourceId: aws.String("inference-component/a"), ScalableDimension: componentDim, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(20),
			ScaleInCooldown: aws.Int32(120), ScaleOutCooldown: aws.Int32(60),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeSageMakerInferenceComponentInvocationsPerCopy}},
	}); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("ic"), InferenceComponentName: aws.String("a"), Body: []byte("1"), ContentType: aws.String("text/csv")})
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	waitComponent(t, sm, "a", "scale-out of copies", func(o *sagemaker.DescribeInferenceComponentOutput) bool {
		cur, _ := copies(o)
		return cur > 1 && inService(o)
	})
	stop.Store(true)
	wg.Wait()
	if cur, desired := copies(waitComponent(t, sm, "b", "", inService)); cur != 1 || desired != 1 {
		t.Fatalf("b moved with a's traffic: %d of %d copies", cur, desired)
	}
	if v := waitInService(t, sm, "ic").ProductionVariants[0]; aws.ToInt32(v.CurrentInstanceCount) != 2 || v.ManagedInstanceScaling == nil {
		t.Fatalf("managed instance scaling did not add an instance: %+v", v)
	}
	// b goes, so that a alone decides how many instances there are.
	if _, err := sm.DeleteInferenceComponent(ctx, &sagemaker.DeleteInferenceComponentInput{InferenceComponentName: aws.String("b")}); err != nil {
		t.Fatal(err)
	}
	acts, err := as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: aws.String("inference-component/a"), ScalableDimension: componentDim})
	if err != nil || len(acts.ScalingActivities) == 0 {
		t.Fatalf("activities: %v %v", acts, err)
	}

	// Idle: target tracking scales in to zero copies (MinCapacity 0), and a
	// request then fails and counts as NoCapacityInvocationFailures.
	waitComponent(t, sm, "a", "scale-in to zero", func(o *sagemaker.DescribeInferenceComponentOutput) bool {
		cur, desired := copies(o)
		return cur == 0 && desired == 0 && inService(o)
	})
	waitFor(t, sm, "ic", "no instances without copies", func(o *sagemaker.DescribeEndpointOutput) bool {
		v := o.ProductionVariants[0]
		return aws.ToInt32(v.CurrentInstanceCount) == 0 && aws.ToInt32(v.DesiredInstanceCount) == 0
	})
	// AWS's recipe: a step policy on that metric brings a copy back.
	step, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("wake"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
		ResourceId: aws.String("inference-component/a"), ScalableDimension: componentDim, PolicyType: aastypes.PolicyTypeStepScaling,
		StepScalingPolicyConfiguration: &aastypes.StepScalingPolicyConfiguration{AdjustmentType: aastypes.AdjustmentTypeChangeInCapacity, MetricAggregationType: aastypes.MetricAggregationTypeMaximum,
			Cooldown: aws.Int32(60), StepAdjustments: []aastypes.StepAdjustment{{MetricIntervalLowerBound: aws.Float64(0), ScalingAdjustment: aws.Int32(1)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("ic-a-no-capacity"), Namespace: aws.String("AWS/SageMaker"),
		MetricName: aws.String("NoCapacityInvocationFailures"), Dimensions: []cwtypes.Dimension{{Name: aws.String("InferenceComponentName"), Value: aws.String("a")}},
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), DatapointsToAlarm: aws.Int32(1), Threshold: aws.Float64(1),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold, AlarmActions: []string{aws.ToString(step.PolicyARN)}}); err != nil {
		t.Fatal(err)
	}
	_, err = rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("ic"), InferenceComponentName: aws.String("a"), Body: []byte("1"), ContentType: aws.String("text/csv")})
	expectAPIError(t, err, "ValidationError", "Inference component of endpoint ic has no capacity to process this request. Application Auto Scaling may be in progress (if configured), or increase the copy count with UpdateInferenceComponentRuntimeConfig.")
	waitComponent(t, sm, "a", "a copy back from zero", func(o *sagemaker.DescribeInferenceComponentOutput) bool {
		cur, _ := copies(o)
		return cur >= 1 && inService(o)
	})
	if _, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("ic"), InferenceComponentName: aws.String("a"), Body: []byte("1"), ContentType: aws.String("text/csv")}); err != nil {
		t.Fatalf("after waking: %v", err)
	}
	if v := waitInService(t, sm, "ic").ProductionVariants[0]; aws.ToInt32(v.CurrentInstanceCount) != 1 {
		t.Fatalf("an instance for the woken copy: %+v", v)
	}
	// Idle again: back to zero copies and zero instances.
	waitComponent(t, sm, "a", "scale-in to zero again", func(o *sagemaker.DescribeInferenceComponentOutput) bool {
		cur, desired := copies(o)
		return cur == 0 && desired == 0 && inService(o)
	})
	waitFor(t, sm, "ic", "no instances again", func(o *sagemaker.DescribeEndpointOutput) bool {
		return aws.ToInt32(o.ProductionVariants[0].CurrentInstanceCount) == 0
	})

	// Deleting the components deregisters their targets; then the endpoint goes.
	for _, c := range []string{"a"} {
		if _, err := sm.DeleteInferenceComponent(ctx, &sagemaker.DeleteInferenceComponentInput{InferenceComponentName: aws.String(c)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "no components and no targets left", func() (bool, any) {
		l, err := sm.ListInferenceComponents(ctx, &sagemaker.ListInferenceComponentsInput{})
		ts, err2 := as.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker})
		if err != nil || err2 != nil {
			return false, errors.Join(err, err2)
		}
		return len(l.InferenceComponents) == 0 && len(ts.ScalableTargets) == 0, fmt.Sprint(l.InferenceComponents, ts.ScalableTargets)
	})
	if _, err := sm.DeleteEndpoint(ctx, &sagemaker.DeleteEndpointInput{EndpointName: aws.String("ic")}); err != nil {
		t.Fatal(err)
	}
}

// TestInferenceComponentsBoto3 drives inference components with boto3, as
// the SageMaker guide's examples do. Debian's boto3 1.26 has none of the
// six inference-component operations nor InvokeEndpoint's
// InferenceComponentName, so only a newer boto3 runs it.
func TestInferenceComponentsBoto3(t *testing.T) {
	python := boto3Where(t, "assert 'CreateInferenceComponent' in boto3.client('sagemaker', region_name='us-east-1').meta.service_model.operation_names",
		"inference components (boto3 >= 1.33)")
	s := startServer(t, t.TempDir())
	script := `
sm, rt, aas = boto3.client("sagemaker", **kw), boto3.client("sagemaker-runtime", **kw), boto3.client("application-autoscaling", **kw)
def wait(describe, key, **args):
    for _ in range(600):
        out = describe(**args)
        if out[key] == "InService":
            return out
        time.sleep(0.1)
    raise SystemExit("not InService: %s" % out)
sm.create_endpoint_config(EndpointConfigName="py", ProductionVariants=[{"VariantName": "AllTraffic", "InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 1,
    "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 2}, "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}}])
sm.create_endpoint(EndpointName="py", EndpointConfigName="py")
wait(sm.describe_endpoint, "EndpointStatus", EndpointName="py")
sm.create_inference_component(InferenceComponentName="py-ic", EndpointName="py", VariantName="AllTraffic",
    Specification={"Container": {"Image": "ebb example-model --work-ms 0"}, "ComputeResourceRequirements": {"NumberOfCpuCoresRequired": 2, "MinMemoryRequiredInMb": 1024}},
    RuntimeConfig={"CopyCount": 1})
wait(sm.describe_inference_component, "InferenceComponentStatus", InferenceComponentName="py-ic")
body = rt.invoke_endpoint(EndpointName="py", InferenceComponentName="py-ic", Body=b"1,2", ContentType="text/csv")["Body"].read().decode()
sm.update_inference_component_runtime_config(InferenceComponentName="py-ic", DesiredRuntimeConfig={"CopyCount": 3})
ic = wait(sm.describe_inference_component, "InferenceComponentStatus", InferenceComponentName="py-ic")
ep = sm.describe_endpoint(EndpointName="py")
aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId="inference-component/py-ic",
    ScalableDimension="sagemaker:inference-component:DesiredCopyCount", MinCapacity=1, MaxCapacity=4)
targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
names = [c["InferenceComponentName"] for c in sm.list_inference_components(EndpointNameEquals="py")["InferenceComponents"]]
sm.delete_inference_component(InferenceComponentName="py-ic")
print(json.dumps({"body": body, "copies": ic["RuntimeConfig"]["CurrentCopyCount"], "instances": ep["ProductionVariants"][0]["CurrentInstanceCount"],
    "targets": [(t["ResourceId"], t["ScalableDimension"]) for t in targets], "names": names}))
`
	var res struct {
		Body              string
		Copies, Instances int
		Targets           [][2]string
		Names             []string
	}
	runBoto3(t, python, script, s.URL, &res)
	// Three copies of two cores on 4-core instances: managed scaling adds a
	// second instance for the third.
	if res.Body == "" || res.Copies != 3 || res.Instances != 2 || len(res.Targets) != 1 || res.Targets[0] != [2]string{"inference-component/py-ic", string(componentDim)} ||
		len(res.Names) != 1 || res.Names[0] != "py-ic" {
		t.Fatalf("boto3 saw %+v", res)
	}
}

// TestInferenceComponentColdStart: on every runtime, with ebb's
// cold-start buffer (on by default), a request for a component at zero
// copies, on an endpoint at zero instances, waits while an instance and a
// copy start, and is served; the time it waited is logged side by side.
func TestInferenceComponentColdStart(t *testing.T) {
	for name, c := range map[string]struct {
		image string
		start func(t *testing.T) *server
	}{
		"process":    {"ebb example-model --work-ms 0", func(t *testing.T) *server { return startServer(t, t.TempDir()) }},
		"docker":     {dockerModel, func(t *testing.T) *server { s, _ := startDockerServer(t, t.TempDir()); return s }},
		"kubernetes": {kubeModel, func(t *testing.T) *server { return startKubeServer(t, t.TempDir()).server }},
	} {
		t.Run(name, func(t *testing.T) {
			s := c.start(t)
			sm, rt, as := s.SageMaker(), s.Runtime(), s.AutoScaling()
			ctx := context.Background()
			hostEndpoint(t, sm, "cold", types.ProductionVariantInstanceTypeMlM5Large, 0, 1)
			createComponent(t, sm, "sleepy", "cold", c.image, 0)
			waitComponent(t, sm, "sleepy", "InService at zero copies", inService)
			waitFor(t, sm, "cold", "zero instances", func(o *sagemaker.DescribeEndpointOutput) bool {
				return aws.ToInt32(o.ProductionVariants[0].CurrentInstanceCount) == 0
			})
			if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
				ResourceId: aws.String("inference-component/sleepy"), ScalableDimension: componentDim, MinCapacity: aws.Int32(0), MaxCapacity: aws.Int32(1)}); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("cold"), InferenceComponentName: aws.String("sleepy"), Body: []byte("1"), ContentType: aws.String("text/csv")})
			if err != nil || len(res.Body) == 0 {
				t.Fatalf("the waking request: %v %v", res, err)
			}
			t.Logf("%s: the request at zero copies was answered in %v", name, time.Since(start).Round(time.Millisecond))
			acts, err := as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: aws.String("inference-component/sleepy"), ScalableDimension: componentDim})
			if err != nil || len(acts.ScalingActivities) != 1 || !strings.Contains(aws.ToString(acts.ScalingActivities[0].Cause), "no copy (ebb cold start)") {
				t.Fatalf("activities %+v %v", acts, err)
			}
			if v := waitInService(t, sm, "cold").ProductionVariants[0]; aws.ToInt32(v.CurrentInstanceCount) != 1 {
				t.Fatalf("instances after the cold start: %+v", v)
			}
		})
	}
}

// TestInferenceComponentsAcrossRestart: components are part of their
// endpoint's record; after a restart (kill -9) their copies are adopted
// and serve. UpdateInferenceComponent then replaces the copies with a
// new specification, one at a time, and bad input changes nothing.
func TestInferenceComponentsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	sm := s.SageMaker()
	ctx := context.Background()
	hostEndpoint(t, sm, "r", types.ProductionVariantInstanceTypeMlC5Xlarge, 0, 0)
	createComponent(t, sm, "keep", "r", "ebb example-model --work-ms 0", 2)
	waitComponent(t, sm, "keep", "InService", inService)
	s.Crash()
	s = startServer(t, dir)
	sm, rt := s.SageMaker(), s.Runtime()
	invokeKeep := func() {
		t.Helper()
		if _, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("r"), InferenceComponentName: aws.String("keep"), Body: []byte("1"), ContentType: aws.String("text/csv")}); err != nil {
			t.Fatalf("invoke after restart: %v", err)
		}
	}
	waitComponent(t, sm, "keep", "two copies after the restart", func(o *sagemaker.DescribeInferenceComponentOutput) bool {
		cur, _ := copies(o)
		return cur == 2 && inService(o)
	})
	invokeKeep()

	// Bad input: the model's constraints, then ebb's own.
	_, err := sm.UpdateInferenceComponentRuntimeConfig(ctx, &sagemaker.UpdateInferenceComponentRuntimeConfigInput{InferenceComponentName: aws.String("keep"),
		DesiredRuntimeConfig: &types.InferenceComponentRuntimeConfig{CopyCount: aws.Int32(-1)}})
	expectAPIError(t, err, "ValidationException", "")
	_, err = sm.UpdateInferenceComponent(ctx, &sagemaker.UpdateInferenceComponentInput{InferenceComponentName: aws.String("keep"),
		Specification: &types.InferenceComponentSpecification{Container: &types.InferenceComponentContainerSpecification{Image: aws.String("x")},
			ComputeResourceRequirements: &types.InferenceComponentComputeResourceRequirements{NumberOfCpuCoresRequired: aws.Float32(0.1), MinMemoryRequiredInMb: aws.Int32(512)}}})
	expectAPIError(t, err, "ValidationException", "")
	if cur, desired := copies(waitComponent(t, sm, "keep", "", inService)); cur != 2 || desired != 2 {
		t.Fatalf("bad input changed the component: %d of %d", cur, desired)
	}

	// A new specification replaces the copies one at a time.
	if _, err := sm.UpdateInferenceComponent(ctx, &sagemaker.UpdateInferenceComponentInput{InferenceComponentName: aws.String("keep"),
		Specification: componentSpec("ebb example-model --work-ms 1")}); err != nil {
		t.Fatal(err)
	}
	o := waitComponent(t, sm, "keep", "updated", func(o *sagemaker.DescribeInferenceComponentOutput) bool {
		cur, _ := copies(o)
		return inService(o) && cur == 2
	})
	if img := aws.ToString(o.Specification.Container.DeployedImage.SpecifiedImage); img != "ebb example-model --work-ms 1" {
		t.Fatalf("image after the update: %s", img)
	}
	invokeKeep()
}

// TestComponentsOnEveryRuntime: on every runtime an inference component's
// copies run (as processes, containers, pods requesting their
// ComputeResourceRequirements), answer by name, and a server killed with
// -9 and restarted adopts them: the same copies serve on, none is started
// anew. On Kubernetes a copy the scheduler cannot place fails the
// component with the scheduler's reason.
func TestComponentsOnEveryRuntime(t *testing.T) {
	for name, image := range map[string]string{"process": "ebb example-model --work-ms 0", "docker": dockerModel, "kubernetes": kubeModel} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var extra []string
			if name == "kubernetes" { // the copy no node takes fails soon
				extra = []string{"--instance-start-limit", "10s"}
			}
			rs := everyRuntime[name](t, t.TempDir(), extra...)
			s, running := rs.server, rs.running
			sm := s.SageMaker()
			hostEndpoint(t, sm, "ic", types.ProductionVariantInstanceTypeMlM5Large, 0, 0)
			createComponent(t, sm, "two", "ic", image, 2)
			waitComponent(t, sm, "two", "InService", inService)
			call := func(s *server) {
				t.Helper()
				if _, err := s.Runtime().InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("ic"),
					InferenceComponentName: aws.String("two"), Body: []byte("1,2"), ContentType: aws.String("text/csv")}); err != nil {
					t.Fatalf("invoking component two: %v", err)
				}
			}
			call(s)
			before := running()
			slices.Sort(before)
			if len(before) != 2 {
				t.Fatalf("copies running: %v, want 2", before)
			}

			s = rs.restart()
			sm = s.SageMaker()
			waitComponent(t, sm, "two", "two copies after the restart", func(o *sagemaker.DescribeInferenceComponentOutput) bool {
				cur, _ := copies(o)
				return cur == 2 && inService(o)
			})
			call(s)
			after := running()
			slices.Sort(after)
			if !slices.Equal(before, after) {
				t.Fatalf("copies after the restart %v, want the same %v: adopted, not started anew", after, before)
			}

			if name != "kubernetes" {
				return
			}
			// A copy no node can take: the cluster has no ml.c5.xlarge
			// nodes; the scheduler says so.
			hostEndpoint(t, sm, "nowhere", types.ProductionVariantInstanceTypeMlC5Xlarge, 0, 0)
			createComponent(t, sm, "stranded", "nowhere", image, 1)
			o := waitComponent(t, sm, "stranded", "fails", func(o *sagemaker.DescribeInferenceComponentOutput) bool {
				return o.InferenceComponentStatus == types.InferenceComponentStatusFailed
			})
			if reason := aws.ToString(o.FailureReason); !strings.Contains(reason, "Unschedulable") || !strings.Contains(reason, "node") {
				t.Fatalf("FailureReason = %q, want the scheduler's reason", reason)
			}
			t.Logf("FailureReason: %s", aws.ToString(o.FailureReason))

			// A deleted component's Deployment goes with it.
			if _, err := sm.DeleteInferenceComponent(ctx, &sagemaker.DeleteInferenceComponentInput{InferenceComponentName: aws.String("two")}); err != nil {
				t.Fatal(err)
			}
			eventually(t, time.Minute, "the deleted component's Deployment gone", func() (bool, any) {
				deps, err := rs.kube.cluster.Client.AppsV1().Deployments(rs.kube.ns).List(ctx, metav1.ListOptions{LabelSelector: "ebb.io/endpoint=ic"})
				if err != nil {
					return false, err
				}
				var ids []string
				for _, d := range deps.Items {
					ids = append(ids, d.Annotations["ebb.io/deployment-id"])
				}
				return !slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(id, "component-two-") }), ids
			})
		})
	}
}
