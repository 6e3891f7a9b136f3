package e2e

import (
	"context"
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
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

func (s *server) AutoScaling() *aas.Client {
	return aas.NewFromConfig(awsConfig("AKIDTEST", "secret"), func(o *aas.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

const variantDim = aastypes.ScalableDimensionSageMakerVariantDesiredInstanceCount

// blogScaling is the heart of the seed blog's flow on an InService
// endpoint of one instance: register its AllTraffic variant (Min 1, Max 4),
// track InvocationsPerInstance at 100, raise traffic until 4 instances
// serve, stop it until 1 does, and read why in DescribeScalingActivities
// (AlarmHigh for the scale-out, AlarmLow for the scale-in). Time must run
// faster (--time-scale 60). atPeak, when given, runs at 4 instances under
// traffic. It returns the policy.
func blogScaling(t *testing.T, sm *sagemaker.Client, rt *sagemakerruntime.Client, as *aas.Client, endpoint string, atPeak func()) *aas.PutScalingPolicyOutput {
	t.Helper()
	ctx := context.Background()
	resource := aws.String("endpoint/" + endpoint + "/variant/AllTraffic")
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: resource, ScalableDimension: variantDim,
		MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(4),
	}); err != nil {
		t.Fatalf("RegisterScalableTarget: %v", err)
	}
	put, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{
		PolicyName: aws.String("invocations"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: resource, ScalableDimension: variantDim,
		PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
			TargetValue:                   aws.Float64(100),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeSageMakerVariantInvocationsPerInstance},
			ScaleInCooldown:               aws.Int32(120), ScaleOutCooldown: aws.Int32(60),
		},
	})
	if err != nil {
		t.Fatalf("PutScalingPolicy: %v", err)
	}
	stop := traffic(rt, endpoint, 4)
	waitFor(t, sm, endpoint, "scale-out to 4", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).DesiredInstanceCount == 4 && *variantOf(o).CurrentInstanceCount == 4 && o.EndpointStatus == "InService"
	})
	if atPeak != nil {
		atPeak()
	}
	ok, failed, first := stop()
	t.Logf("%d requests, %d failed (first: %v)", ok, failed, first)
	waitFor(t, sm, endpoint, "scale-in to 1", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).DesiredInstanceCount == 1 && *variantOf(o).CurrentInstanceCount == 1 && o.EndpointStatus == "InService"
	})
	var acts *aas.DescribeScalingActivitiesOutput
	eventually(t, time.Minute, "the last scaling activity completes", func() (bool, any) {
		acts, err = as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: resource, ScalableDimension: variantDim})
		if err != nil {
			t.Fatal(err)
		}
		return len(acts.ScalingActivities) > 0 && acts.ScalingActivities[0].StatusCode == aastypes.ScalingActivityStatusCodeSuccessful, acts.ScalingActivities
	})
	var out, in bool
	for _, a := range acts.ScalingActivities {
		t.Logf("%s | %s | %s | %s", a.StatusCode, aws.ToString(a.Description), aws.ToString(a.Cause), aws.ToString(a.StatusMessage))
		if a.StatusCode != aastypes.ScalingActivityStatusCodeSuccessful {
			continue
		}
		if aws.ToString(a.Description) == "Setting desired instance count to 4." && strings.Contains(aws.ToString(a.Cause), "AlarmHigh") &&
			strings.HasSuffix(aws.ToString(a.Cause), "in state ALARM triggered policy invocations") {
			out = true
		}
		if aws.ToString(a.Description) == "Setting desired instance count to 1." && strings.Contains(aws.ToString(a.Cause), "AlarmLow") {
			in = true
		}
	}
	if !out || !in {
		t.Fatalf("activities do not explain the scale-out and scale-in: %d activities", len(acts.ScalingActivities))
	}
	return put
}

// TestSeedBlogFlow is the flow of the AWS blog post ebb was started from
// (blogScaling), with the policy's alarms as AWS makes them, the
// not-scaled activities, and the clean-up: deleting the policy deletes its
// alarms, deleting the endpoint deregisters the target. Time runs 60 times
// faster.
func TestSeedBlogFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: scales out and back in")
	}
	s := startServer(t, t.TempDir(), "--time-scale", "60")
	sm, rt, as := s.SageMaker(), s.Runtime(), s.AutoScaling()
	ctx := context.Background()
	deploy(t, sm, "blog", "ebb example-model --work-ms 2", 1)
	waitInService(t, sm, "blog")
	put := blogScaling(t, sm, rt, as, "blog", nil)
	if len(put.Alarms) != 2 || !strings.HasPrefix(aws.ToString(put.Alarms[0].AlarmName), "TargetTracking-endpoint/blog/variant/AllTraffic-AlarmHigh-") {
		t.Fatalf("policy alarms = %+v", put.Alarms)
	}
	cw := s.cloudWatchClients()["cbor"]
	alarms, _ := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("TargetTracking-endpoint/blog/")})
	if len(alarms.MetricAlarms) != 2 || *alarms.MetricAlarms[0].EvaluationPeriods != 3 || *alarms.MetricAlarms[1].EvaluationPeriods != 15 ||
		*alarms.MetricAlarms[1].Threshold != 90 || !strings.HasPrefix(aws.ToString(alarms.MetricAlarms[0].AlarmDescription), "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy "+aws.ToString(put.PolicyARN)) {
		t.Fatalf("target tracking alarms = %+v", alarms.MetricAlarms)
	}
	resource := aws.String("endpoint/blog/variant/AllTraffic")
	withNotScaled, _ := as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: resource, IncludeNotScaledActivities: aws.Bool(true)})
	notScaled := 0
	for _, a := range withNotScaled.ScalingActivities {
		if len(a.NotScaledReasons) > 0 {
			notScaled++
		}
	}
	t.Logf("%d activities, %d of them not-scaled", len(withNotScaled.ScalingActivities), notScaled)

	// Deleting the policy deletes its alarms; deleting the endpoint deregisters the target.
	if _, err := as.DeleteScalingPolicy(ctx, &aas.DeleteScalingPolicyInput{PolicyName: aws.String("invocations"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: resource, ScalableDimension: variantDim}); err != nil {
		t.Fatal(err)
	}
	alarms, _ = cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("TargetTracking-endpoint/blog/")})
	if len(alarms.MetricAlarms) != 0 {
		t.Fatalf("alarms left after DeleteScalingPolicy: %d", len(alarms.MetricAlarms))
	}
	sm.DeleteEndpoint(ctx, &sagemaker.DeleteEndpointInput{EndpointName: aws.String("blog")})
	eventually(t, time.Minute, "the target deregistered with its endpoint", func() (bool, any) {
		tg, err := as.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker})
		if err != nil {
			return false, err
		}
		return len(tg.ScalableTargets) == 0, tg.ScalableTargets
	})
}

// TestCPUPolicy is the seeds' customized-metric policy: keep CPUUtilization
// at 50% on real CPU load from the example model.
func TestCPUPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: scales on real CPU load")
	}
	cpuPolicy(t, startServer(t, t.TempDir(), "--time-scale", "60"), "ebb example-model --work-ms 20")
}

// cpuPolicy deploys image on s (at 60 times speed), loads it until CPU
// target tracking scales it out, then lets it idle until it scales in.
func cpuPolicy(t *testing.T, s *server, image string) {
	sm, rt, as := s.SageMaker(), s.Runtime(), s.AutoScaling()
	ctx := context.Background()
	deploy(t, sm, "cpu", image, 1)
	waitInService(t, sm, "cpu")
	id := aws.String("endpoint/cpu/variant/AllTraffic")
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id,
		ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("CPUUtil-ScalingPolicy"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
		ResourceId: id, ScalableDimension: variantDim, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
			TargetValue: aws.Float64(50), ScaleInCooldown: aws.Int32(300), ScaleOutCooldown: aws.Int32(300),
			CustomizedMetricSpecification: &aastypes.CustomizedMetricSpecification{
				MetricName: aws.String("CPUUtilization"), Namespace: aws.String("/aws/sagemaker/Endpoints"), Statistic: aastypes.MetricStatisticAverage, Unit: aws.String("Percent"),
				Dimensions: []aastypes.MetricDimension{{Name: aws.String("EndpointName"), Value: aws.String("cpu")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}},
			},
		}}); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				rt.InvokeEndpoint(ctx, invocation("cpu"))
			}
		}()
	}
	waitFor(t, sm, "cpu", "scale-out on CPU", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).DesiredInstanceCount > 1
	})
	stop.Store(true)
	wg.Wait()
	waitFor(t, sm, "cpu", "scale-in when idle", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).DesiredInstanceCount == 1 && o.EndpointStatus == "InService"
	})
}

// TestRestartDuringScaleOut kills the server while a scale-out is under way:
// after the restart the policy, its alarms and the activity are intact and
// the capacity converges.
func TestRestartDuringScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: restarts the server")
	}
	dir := t.TempDir()
	s := startServer(t, dir, "--time-scale", "60")
	sm, rt, as := s.SageMaker(), s.Runtime(), s.AutoScaling()
	ctx := context.Background()
	// Instances take a while to load, so the scale-out is caught in progress.
	deploy(t, sm, "restart", "ebb example-model --work-ms 1 --startup-delay 3s", 1)
	waitInService(t, sm, "restart")
	id := aws.String("endpoint/restart/variant/AllTraffic")
	as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id,
		ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(3)})
	if _, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("inv"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
		ResourceId: id, ScalableDimension: variantDim, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(10),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeSageMakerVariantInvocationsPerInstance}}}); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			rt.InvokeEndpoint(ctx, invocation("restart"))
		}
	}()
	waitFor(t, sm, "restart", "scale-out under way", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).DesiredInstanceCount == 3 && *variantOf(o).CurrentInstanceCount < 3
	})
	stop.Store(true)
	<-done
	s.Crash()

	s2 := startServer(t, dir, "--time-scale", "60")
	sm2, as2 := s2.SageMaker(), s2.AutoScaling()
	waitFor(t, sm2, "restart", "capacity converges after restart", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).CurrentInstanceCount == 3 || *variantOf(o).DesiredInstanceCount < 3
	})
	pols, err := as2.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker})
	if err != nil || len(pols.ScalingPolicies) != 1 || len(pols.ScalingPolicies[0].Alarms) != 2 {
		t.Fatalf("policy after restart: %+v, %v", pols, err)
	}
	eventually(t, time.Minute, "the scale-out activity completes after the restart", func() (bool, any) {
		acts, err := as2.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id})
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(acts.ScalingActivities, func(a aastypes.ScalingActivity) bool {
			return aws.ToString(a.Description) == "Setting desired instance count to 3." && a.StatusCode == aastypes.ScalingActivityStatusCodeSuccessful
		}), acts.ScalingActivities
	})
}

// TestReactionTime measures, live, how long a step in load takes to become
// a scale-out: with the standard InvocationsPerInstance policy (1-minute
// alarm, 3 of 3) and the high-resolution ConcurrentRequestsPerModel one
// (10-second alarm). The clock runs 60 times faster; the figures are
// reported in its time.
func TestReactionTime(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: measures live scaling")
	}
	const scale = 60
	s := startServer(t, t.TempDir(), "--time-scale", "60")
	sm, rt, as := s.SageMaker(), s.Runtime(), s.AutoScaling()
	ctx := context.Background()
	measure := func(name string, metric aastypes.MetricType, target float64) time.Duration {
		deploy(t, sm, name, "ebb example-model --work-ms 5", 1)
		waitInService(t, sm, name)
		id := aws.String("endpoint/" + name + "/variant/AllTraffic")
		as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id,
			ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(2)})
		if _, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("p"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
			ResourceId: id, ScalableDimension: variantDim, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
			TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(target),
				PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: metric}}}); err != nil {
			t.Fatal(err)
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		start := time.Now()
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					rt.InvokeEndpoint(ctx, invocation(name))
				}
			}()
		}
		waitFor(t, sm, name, "scale-out", func(o *sagemaker.DescribeEndpointOutput) bool { return *variantOf(o).DesiredInstanceCount == 2 })
		took := time.Since(start) * scale
		stop.Store(true)
		wg.Wait()
		return took
	}
	standard := measure("react-std", aastypes.MetricTypeSageMakerVariantInvocationsPerInstance, 100)
	highRes := measure("react-hr", aastypes.MetricTypeSageMakerVariantConcurrentRequestsPerModelHighResolution, 1)
	t.Logf("reaction to a step in load: standard policy %v, high-resolution policy %v (scaled time)", standard.Round(time.Second), highRes.Round(time.Second))
	if highRes >= standard {
		t.Errorf("the high-resolution policy (%v) was not faster than the standard one (%v)", highRes, standard)
	}
}
