package e2e

import (
	"context"
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
	"github.com/chromedp/chromedp"
)

const provisionedDim = aastypes.ScalableDimensionSageMakerVariantDesiredProvisionedConcurrency

// provisioned is a serverless variant's provisioned concurrency, current
// and desired.
func provisioned(o *sagemaker.DescribeEndpointOutput) (current, desired int32) {
	v := o.ProductionVariants[0]
	if c := v.CurrentServerlessConfig; c != nil {
		current = aws.ToInt32(c.ProvisionedConcurrency)
	}
	if c := v.DesiredServerlessConfig; c != nil {
		desired = aws.ToInt32(c.ProvisionedConcurrency)
	}
	return current, desired
}

// TestServerlessProvisionedConcurrency, with the Go SDK: a serverless
// variant with provisioned concurrency 1 is warm before any invocation;
// its provisioned concurrency is a scalable target (MinCapacity 0
// refused), and under a load of three at once, beyond it, the spillover is
// counted and target tracking on
// SageMakerVariantProvisionedConcurrencyUtilization raises it, through the
// alarms AWS creates for the policy; a scheduled action then raises the
// floor to 3, and that many environments stay warm while idle.
func TestServerlessProvisionedConcurrency(t *testing.T) {
	s := startServer(t, t.TempDir(), "--time-scale", "60")
	sm, rt, as, cw := s.SageMaker(), s.Runtime(), s.AutoScaling(), s.cloudWatchClients()["cbor"]
	ctx := context.Background()
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("pc"), PrimaryContainer: &types.ContainerDefinition{Image: aws.String("ebb example-model --work-ms 50")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("pc"), ProductionVariants: []types.ProductionVariant{{
		VariantName: aws.String("AllTraffic"), ModelName: aws.String("pc"),
		ServerlessConfig: &types.ProductionVariantServerlessConfig{MemorySizeInMB: aws.Int32(1024), MaxConcurrency: aws.Int32(6), ProvisionedConcurrency: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("pc"), EndpointConfigName: aws.String("pc")}); err != nil {
		t.Fatal(err)
	}
	if cur, _ := provisioned(waitInService(t, sm, "pc")); cur != 1 {
		t.Fatalf("provisioned concurrency %d, want 1", cur)
	}
	if n := len(s.instances()); n != 1 {
		t.Fatalf("%d environments before any invocation, want the provisioned one", n)
	}

	id := aws.String("endpoint/pc/variant/AllTraffic")
	_, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id,
		ScalableDimension: provisionedDim, MinCapacity: aws.Int32(0), MaxCapacity: aws.Int32(4)})
	expectAPIError(t, err, "ValidationException", "Minimum capacity (0) cannot be less than 1 for scalable dimension sagemaker:variant:DesiredProvisionedConcurrency.")
	tracking(t, as, *id, provisionedDim, 1, 4, "pc", aastypes.MetricTypeSageMakerVariantProvisionedConcurrencyUtilization, 0.5)
	pol, err := as.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id, ScalableDimension: provisionedDim})
	if err != nil || len(pol.ScalingPolicies) != 1 || len(pol.ScalingPolicies[0].Alarms) != 2 {
		t.Fatalf("policies %+v, %v; want one with its two alarms", pol, err)
	}
	alarms, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("TargetTracking-endpoint/pc/variant/AllTraffic")})
	if err != nil || len(alarms.MetricAlarms) != 2 {
		t.Fatalf("alarms %+v, %v; want AWS's two", alarms, err)
	}
	for _, a := range alarms.MetricAlarms {
		if aws.ToString(a.MetricName) != "ServerlessProvisionedConcurrencyUtilization" || aws.ToString(a.Namespace) != "AWS/SageMaker" {
			t.Fatalf("alarm %s watches %s/%s", aws.ToString(a.AlarmName), aws.ToString(a.Namespace), aws.ToString(a.MetricName))
		}
	}

	// Three at once on one provisioned: it is saturated, the rest spill over.
	var stop atomic.Bool
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := rt.InvokeEndpoint(ctx, invocation("pc")); err != nil {
					failed.Store(err)
				}
			}
		}()
	}
	out := waitFor(t, sm, "pc", "provisioned concurrency raised by target tracking", func(o *sagemaker.DescribeEndpointOutput) bool {
		cur, desired := provisioned(o)
		return cur >= 2 && cur == desired && o.EndpointStatus == types.EndpointStatusInService
	})
	stop.Store(true)
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("an invocation under load: %v", err)
	}
	acts, err := as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id, ScalableDimension: provisionedDim})
	if err != nil || len(acts.ScalingActivities) == 0 || !strings.Contains(aws.ToString(acts.ScalingActivities[0].Cause), "TargetTracking-endpoint/pc/variant/AllTraffic-AlarmHigh") {
		t.Fatalf("activities %+v, %v; want the high alarm's", acts, err)
	}
	cur, _ := provisioned(out)
	t.Logf("provisioned concurrency %d: %s", cur, aws.ToString(acts.ScalingActivities[0].Description))
	for _, name := range []string{"ServerlessProvisionedConcurrencyInvocations", "ServerlessProvisionedConcurrencySpilloverInvocations"} {
		st, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/SageMaker"), MetricName: aws.String(name),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("pc")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}},
			StartTime:  aws.Time(time.Now().Add(-24 * time.Hour)), EndTime: aws.Time(time.Now().Add(24 * time.Hour)), Period: aws.Int32(86400),
			Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
		if err != nil || len(st.Datapoints) == 0 || aws.ToFloat64(st.Datapoints[0].Sum) == 0 {
			t.Fatalf("%s: %+v, %v; want some", name, st, err)
		}
	}

	// The console shows the story: concurrency against MaxConcurrency
	// and the provisioned floor, the spillover, and the floor's scaling.
	if !testing.Short() {
		b := newBrowser(t)
		b.run(t, 30*time.Second, chromedp.Navigate(s.URL+"/console/endpoints/pc"), chromedp.WaitVisible(`[id="chart-serverless-AllTraffic"]`))
		b.waitJS(t, 30*time.Second, "the serverless charts: executions under MaxConcurrency, spillover, provisioned concurrency raised", `(() => {
			const summary = id => JSON.parse(document.getElementById(id)?.dataset.summary || "[]");
			const lines = JSON.parse(document.getElementById("chart-serverless-AllTraffic").dataset.lines || "[]");
			const spilled = summary("chart-spillover-AllTraffic").find(s => s.label.startsWith("spilled over"));
			const desired = summary("chart-provisioned").find(s => s.label === "desired");
			const execs = summary("chart-serverless-AllTraffic").find(s => s.label === "executions (peak)");
			return lines.some(l => l.label === "MaxConcurrency" && l.value === 6) && lines.some(l => l.label === "provisioned concurrency") &&
				!!spilled && spilled.max > 0 && !!desired && desired.max >= 2 && !!execs && execs.max >= 2 &&
				document.querySelector('#variants tr[data-variant="AllTraffic"]').textContent.includes("serverless, 1024 MB, at most 6 at once");
		})()`)
		b.screenshot(t, screenshotDir(t), "serverless")
		b.noErrors(t)
	}

	// A scheduled action raises the floor to 3; idle, 3 stay warm.
	if _, err := as.PutScheduledAction(ctx, &aas.PutScheduledActionInput{ScheduledActionName: aws.String("busy-hour"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
		ResourceId: id, ScalableDimension: provisionedDim, Schedule: aws.String("rate(1 minute)"),
		ScalableTargetAction: &aastypes.ScalableTargetAction{MinCapacity: aws.Int32(3), MaxCapacity: aws.Int32(4)}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sm, "pc", "provisioned concurrency raised by the scheduled action", func(o *sagemaker.DescribeEndpointOutput) bool {
		cur, desired := provisioned(o)
		return cur >= 3 && cur == desired && o.EndpointStatus == types.EndpointStatusInService
	})
	eventually(t, time.Minute, "the provisioned environments, warm and no more, once idle", func() (bool, any) {
		o, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("pc")})
		if err != nil {
			return false, err
		}
		cur, _ := provisioned(o)
		n := len(s.instances())
		return n == int(cur) && n >= 3, n
	})
}
