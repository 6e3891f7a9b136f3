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

// TestServerlessBoto3 drives a serverless endpoint with boto3, as
// SageMaker's serverless guide does: invoked from zero, the request waits
// for an environment and succeeds (ModelSetupTime published); a burst
// beyond MaxConcurrency is throttled (ThrottlingException, retries off);
// ServerlessUpdateConfig adds provisioned concurrency, which is then
// registered with Application Auto Scaling, tracked and scheduled.
// Debian's boto3 1.26 has no ProvisionedConcurrency, so a newer one runs it.
func TestServerlessBoto3(t *testing.T) {
	python := boto3Where(t, "assert 'ServerlessUpdateConfig' in boto3.client('sagemaker', region_name='us-east-1').meta.service_model.shape_for('DesiredWeightAndCapacity').members",
		"ServerlessUpdateConfig (boto3 >= 1.28)")
	s := startServer(t, t.TempDir())
	script := `
import botocore.config, concurrent.futures, datetime, threading
sm, rt, aas, cw = (boto3.client(n, **kw) for n in ("sagemaker", "sagemaker-runtime", "application-autoscaling", "cloudwatch"))
once = boto3.client("sagemaker-runtime", config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}), **kw)
def in_service():
    for _ in range(600):
        out = sm.describe_endpoint(EndpointName="sls")
        if out["EndpointStatus"] == "InService":
            return out["ProductionVariants"][0]
        time.sleep(0.1)
    raise SystemExit("not InService: %s" % out)
sm.create_model(ModelName="sls", PrimaryContainer={"Image": "ebb example-model --work-ms 300"})
sm.create_endpoint_config(EndpointConfigName="sls", ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "sls",
    "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 2}}])
sm.create_endpoint(EndpointName="sls", EndpointConfigName="sls")
created = in_service()
cold = rt.invoke_endpoint(EndpointName="sls", Body=b"1,2", ContentType="text/csv")["Body"].read().decode()
start = threading.Barrier(6)
def burst(_):
    start.wait()
    try:
        once.invoke_endpoint(EndpointName="sls", Body=b"1", ContentType="text/csv")
        return "ok"
    except once.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
with concurrent.futures.ThreadPoolExecutor(6) as pool:
    outcomes = list(pool.map(burst, range(6)))
sm.update_endpoint_weights_and_capacities(EndpointName="sls", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic",
    "ServerlessUpdateConfig": {"ProvisionedConcurrency": 1}}])
updated = in_service()
rid, dim = "endpoint/sls/variant/AllTraffic", "sagemaker:variant:DesiredProvisionedConcurrency"
aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim, MinCapacity=1, MaxCapacity=2)
aas.put_scaling_policy(PolicyName="pc", ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim, PolicyType="TargetTrackingScaling",
    TargetTrackingScalingPolicyConfiguration={"TargetValue": 0.5, "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantProvisionedConcurrencyUtilization"}})
aas.put_scheduled_action(ServiceNamespace="sagemaker", ScheduledActionName="mornings", ResourceId=rid, ScalableDimension=dim,
    Schedule="cron(0 8 * * ? *)", ScalableTargetAction={"MinCapacity": 2, "MaxCapacity": 2})
policies = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim)["ScalingPolicies"]
now = datetime.datetime.now(datetime.timezone.utc)
setup = []
for _ in range(100):
    setup = cw.get_metric_statistics(Namespace="AWS/SageMaker", MetricName="ModelSetupTime", Dimensions=[{"Name": "EndpointName", "Value": "sls"},
        {"Name": "VariantName", "Value": "AllTraffic"}], StartTime=now - datetime.timedelta(hours=1), EndTime=now + datetime.timedelta(hours=1),
        Period=3600, Statistics=["SampleCount"])["Datapoints"]
    if setup:
        break
    time.sleep(0.1)
print(json.dumps({"created": created["CurrentServerlessConfig"], "cold": cold, "outcomes": outcomes,
    "updated": [updated["CurrentServerlessConfig"], updated["DesiredServerlessConfig"]],
    "alarms": len(policies[0]["Alarms"]), "setup": sum(d["SampleCount"] for d in setup)}))
`
	var res struct {
		Created  map[string]int
		Cold     string
		Outcomes []string
		Updated  []map[string]int
		Alarms   int
		Setup    float64
	}
	out := runBoto3(t, python, script, s.URL, &res)
	ok, throttled := 0, 0
	for _, o := range res.Outcomes {
		switch o {
		case "ok":
			ok++
		case "ThrottlingException":
			throttled++
		}
	}
	if res.Created["MaxConcurrency"] != 2 || res.Created["MemorySizeInMB"] != 2048 || res.Cold == "" || ok < 2 || throttled == 0 || ok+throttled != 6 ||
		res.Updated[0]["ProvisionedConcurrency"] != 1 || res.Updated[1]["ProvisionedConcurrency"] != 1 || res.Alarms != 2 || res.Setup < 1 {
		t.Fatalf("boto3 saw %+v", res)
	}
	t.Logf("boto3: %s", out)
}
