package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// errorsAlarm puts an alarm on a variant's Invocation5XXErrors (any in a
// minute); config, if set, watches that endpoint configuration's fleet
// alone (its EndpointConfigName dimension).
func errorsAlarm(t testing.TB, cw *cloudwatch.Client, name, endpoint, config string) {
	t.Helper()
	dims := []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String(endpoint)}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}}
	if config != "" {
		dims = append(dims, cwtypes.Dimension{Name: aws.String("EndpointConfigName"), Value: aws.String(config)})
	}
	if _, err := cw.PutMetricAlarm(context.Background(), &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(name), Namespace: aws.String("AWS/SageMaker"),
		MetricName: aws.String("Invocation5XXErrors"), Dimensions: dims, Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
		Threshold: aws.Float64(0), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, TreatMissingData: aws.String("notBreaching")}); err != nil {
		t.Fatal(err)
	}
}

// blueGreen is a DeploymentConfig of a traffic routing mode, its waits in
// (scaled) seconds, rolled back by alarm. Its time limit is the largest,
// 8 scaled hours (8 real minutes at --time-scale 60): a loaded machine
// starts pods slowly.
func blueGreen(routing types.TrafficRoutingConfig, terminationWait int32, alarm string) *types.DeploymentConfig {
	return &types.DeploymentConfig{BlueGreenUpdatePolicy: &types.BlueGreenUpdatePolicy{TrafficRoutingConfiguration: &routing,
		TerminationWaitInSeconds: aws.Int32(terminationWait), MaximumExecutionTimeoutInSeconds: aws.Int32(28800)},
		AutoRollbackConfiguration: &types.AutoRollbackConfig{Alarms: []types.Alarm{{AlarmName: aws.String(alarm)}}}}
}

// TestDeploymentGuardrails, with the Go SDK under steady load, on every
// runtime (--time-scale 60): a good new version with CANARY (one of two
// instances) then all: the new fleet bakes with its share, no request
// fails, and the old fleet goes TerminationWaitInSeconds after the new
// one takes all traffic. Then a bad version (answers 500) with LINEAR
// steps of 50 % and an alarm on the new fleet's errors alone: the alarm
// fires, traffic goes back to the old fleet by itself, the endpoint ends
// InService on the old configuration with the reason, and the only
// failed requests are the new fleet's, before the rollback. Then a
// rolling update in batches of one keeps at least one instance healthy
// and fails no request, and RetainDeploymentConfig rolls the next update
// the same way.
func TestDeploymentGuardrails(t *testing.T) { withGoodAndBad(t, deploymentGuardrails) }

// withGoodAndBad runs f on every runtime (--time-scale 60) with a model
// that answers and one that answers every invocation with 500.
func withGoodAndBad(t *testing.T, f func(t *testing.T, s *runtimeServer, good, bad string)) {
	for name, image := range map[string]struct{ good, bad string }{
		"process":    {"ebb example-model --work-ms 2", "ebb example-model --error-rate 1"},
		"docker":     {dockerModel, dockerModelBroken},
		"kubernetes": {kubeModel, kubeModelBroken},
	} {
		t.Run(name, func(t *testing.T) {
			f(t, everyRuntime[name](t, t.TempDir(), "--time-scale", "60"), image.good, image.bad)
		})
	}
}

func deploymentGuardrails(t *testing.T, s *runtimeServer, good, bad string) {
	sm, rt, cw := s.SageMaker(), s.Runtime(), s.cloudWatchClients()["cbor"]
	ctx := context.Background()
	deploy(t, sm, "dg", good, 2)
	waitInService(t, sm, "dg")
	createConfig(t, sm, "dg-v2", "dg-v2", good, 2)
	createConfig(t, sm, "dg-bad", "dg-bad", bad, 2)
	errorsAlarm(t, cw, "dg-errors", "dg", "")
	errorsAlarm(t, cw, "dg-bad-errors", "dg", "dg-bad")

	// A good version, canary first.
	stop := traffic(rt, "dg", 2)
	if _, err := sm.UpdateEndpoint(ctx, &sagemaker.UpdateEndpointInput{EndpointName: aws.String("dg"), EndpointConfigName: aws.String("dg-v2"),
		DeploymentConfig: blueGreen(types.TrafficRoutingConfig{Type: types.TrafficRoutingConfigTypeCanary, WaitIntervalInSeconds: aws.Int32(120),
			CanarySize: &types.CapacitySize{Type: types.CapacitySizeTypeInstanceCount, Value: aws.Int32(1)}}, 240, "dg-errors")}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	out := waitFor(t, sm, "dg", "the canary baked, then all traffic on the new fleet", func(o *sagemaker.DescribeEndpointOutput) bool {
		if p := o.PendingDeploymentSummary; p != nil {
			for _, st := range p.ProductionVariants[0].VariantStatus {
				mu.Lock()
				seen[aws.ToString(st.StatusMessage)] = true
				mu.Unlock()
			}
		}
		return o.EndpointStatus == types.EndpointStatusInService && aws.ToString(o.EndpointConfigName) == "dg-v2"
	})
	if n := len(s.running()); n != 4 {
		t.Fatalf("%d instances once the new fleet took all traffic, want 4 (the old fleet waits TerminationWaitInSeconds)", n)
	}
	eventually(t, time.Minute, "the old fleet gone after TerminationWaitInSeconds", func() (bool, any) { n := len(s.running()); return n == 2, n })
	ok, failed, first := stop()
	if failed > 0 || ok == 0 {
		t.Fatalf("the canary deployment: %d served, %d failed (%v); want none failed", ok, failed, first)
	}
	var canary bool
	for m := range seen {
		canary = canary || strings.HasPrefix(m, "50% of the traffic on the new fleet")
	}
	if !canary || out.LastDeploymentConfig == nil || out.LastDeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type != types.TrafficRoutingConfigTypeCanary {
		t.Fatalf("statuses seen %v, last deployment config %+v; want the canary baking at 50%%, and the config", seen, out.LastDeploymentConfig)
	}

	// A bad version, in linear steps: its errors roll it back.
	stop = traffic(rt, "dg", 2)
	if _, err := sm.UpdateEndpoint(ctx, &sagemaker.UpdateEndpointInput{EndpointName: aws.String("dg"), EndpointConfigName: aws.String("dg-bad"),
		DeploymentConfig: blueGreen(types.TrafficRoutingConfig{Type: types.TrafficRoutingConfigTypeLinear, WaitIntervalInSeconds: aws.Int32(600),
			LinearStepSize: &types.CapacitySize{Type: types.CapacitySizeTypeCapacityPercent, Value: aws.Int32(50)}}, 0, "dg-bad-errors")}); err != nil {
		t.Fatal(err)
	}
	out = waitFor(t, sm, "dg", "rolled back by the alarm on the new fleet's errors", func(o *sagemaker.DescribeEndpointOutput) bool {
		return o.EndpointStatus == types.EndpointStatusInService && o.PendingDeploymentSummary == nil && aws.ToString(o.FailureReason) != ""
	})
	_, failed, first = stop()
	if want := "Rolled back the update to endpoint configuration dg-bad: alarm dg-bad-errors went into ALARM."; aws.ToString(out.EndpointConfigName) != "dg-v2" ||
		!strings.HasPrefix(aws.ToString(out.FailureReason), want) {
		t.Fatalf("after the rollback: on %s, reason %q; want dg-v2 and %q", aws.ToString(out.EndpointConfigName), aws.ToString(out.FailureReason), want)
	}
	if failed == 0 || !strings.Contains(first.Error(), "the model failed") {
		t.Fatalf("the bad fleet failed no request (%d, %v)", failed, first)
	}
	t.Logf("the bad version failed %d requests before the rollback", failed)
	// The console tells the story: the reason, and what rolled it back.
	resp, err := http.Get(s.URL + "/console/endpoints/dg")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"Rolled back the update to endpoint configuration dg-bad", "Last deployment configuration: rolled back by <code>dg-bad-errors</code>", "LINEAR"} {
		if !strings.Contains(string(page), want) {
			t.Fatalf("the console's endpoint page lacks %q", want)
		}
	}
	// And its traffic share chart: the bad fleet took a share, then none.
	resp, err = http.Get(s.URL + "/console/endpoints/dg/live?once=1")
	if err != nil {
		t.Fatal(err)
	}
	var snap struct {
		Charts []struct {
			ID     string
			Series []struct {
				Label  string
				Values []*float64
			}
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var shares []float64
	for _, c := range snap.Charts {
		for _, ser := range c.Series {
			if c.ID == "fleets" && ser.Label == "AllTraffic on dg-bad" {
				for _, v := range ser.Values {
					if v != nil {
						shares = append(shares, *v)
					}
				}
			}
		}
	}
	if len(shares) == 0 || slices.Max(shares) == 0 {
		t.Fatalf("the console's traffic share of the bad fleet: %v; want a share before the rollback", shares)
	}
	eventually(t, time.Minute, "the bad fleet gone", func() (bool, any) { n := len(s.running()); return n == 2, n })
	stop, served := trafficServed(rt, "dg", 2)
	eventually(t, time.Minute, "traffic after the rollback", func() (bool, any) { return served() >= 50, served() })
	if ok, failed, first := stop(); failed > 0 || ok == 0 {
		t.Fatalf("after the rollback: %d served, %d failed (%v)", ok, failed, first)
	}

	// A rolling update in batches of one: never fewer than one healthy
	// instance (desired less the batch), and no request fails.
	createConfig(t, sm, "dg-v3", "dg-v3", good, 2)
	stop = traffic(rt, "dg", 2)
	if _, err := sm.UpdateEndpoint(ctx, &sagemaker.UpdateEndpointInput{EndpointName: aws.String("dg"), EndpointConfigName: aws.String("dg-v3"),
		DeploymentConfig: &types.DeploymentConfig{RollingUpdatePolicy: &types.RollingUpdatePolicy{WaitIntervalInSeconds: aws.Int32(60), MaximumExecutionTimeoutInSeconds: aws.Int32(28800),
			MaximumBatchSize: &types.CapacitySize{Type: types.CapacitySizeTypeInstanceCount, Value: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}
	least, batches := 2, map[string]bool{}
	waitFor(t, sm, "dg", "the rolling update", func(o *sagemaker.DescribeEndpointOutput) bool {
		healthy := int(aws.ToInt32(o.ProductionVariants[0].CurrentInstanceCount))
		if p := o.PendingDeploymentSummary; p != nil {
			healthy += int(aws.ToInt32(p.ProductionVariants[0].CurrentInstanceCount))
			for _, st := range p.ProductionVariants[0].VariantStatus {
				batches[aws.ToString(st.StatusMessage)] = true
			}
		}
		least = min(least, healthy)
		return o.EndpointStatus == types.EndpointStatusInService && aws.ToString(o.EndpointConfigName) == "dg-v3"
	})
	if ok, failed, first := stop(); failed > 0 || ok == 0 || least < 1 || !batches["Replacing instances in batches of 1: batch 2 of 2."] {
		t.Fatalf("the rolling update: %d served, %d failed (%v), at least %d healthy, statuses %v; want none failed, at least 1, both batches",
			ok, failed, first, least, batches)
	}
	eventually(t, time.Minute, "the old fleet gone", func() (bool, any) { n := len(s.running()); return n == 2, n })

	// RetainDeploymentConfig: the next update rolls in batches again.
	updateRolledByRetained(t, sm, "dg", "dg-v2")
}

// updateRolledByRetained updates an endpoint to config with
// RetainDeploymentConfig and checks that the update rolled in batches of
// one, as the retained configuration says.
func updateRolledByRetained(t *testing.T, sm *sagemaker.Client, endpoint, config string) {
	t.Helper()
	if _, err := sm.UpdateEndpoint(context.Background(), &sagemaker.UpdateEndpointInput{EndpointName: aws.String(endpoint), EndpointConfigName: aws.String(config),
		RetainDeploymentConfig: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	rolled := false
	waitFor(t, sm, endpoint, "the update with the retained rolling policy", func(o *sagemaker.DescribeEndpointOutput) bool {
		if p := o.PendingDeploymentSummary; p != nil {
			for _, st := range p.ProductionVariants[0].VariantStatus {
				rolled = rolled || strings.HasPrefix(aws.ToString(st.StatusMessage), "Replacing instances in batches of 1")
			}
		}
		return o.EndpointStatus == types.EndpointStatusInService && aws.ToString(o.EndpointConfigName) == config
	})
	if !rolled {
		t.Fatal("RetainDeploymentConfig: the update did not roll in batches")
	}
}

// TestComponentRollingUpdate, with the Go SDK under steady load, on every
// runtime (--time-scale 60): an inference component of two copies is
// updated with a RollingUpdatePolicy in batches of one copy and an alarm on
// its errors: a good specification rolls through both batches and no
// request fails; a bad one (answers 500) fires the alarm during the first
// batch's bake, and the component rolls back by itself to the previous
// specification, InService with the reason, its failed requests only those
// the bad copy answered, and none after.
func TestComponentRollingUpdate(t *testing.T) { withGoodAndBad(t, componentRollingUpdate) }

func componentRollingUpdate(t *testing.T, s *runtimeServer, good, bad string) {
	sm, rt, cw := s.SageMaker(), s.Runtime(), s.cloudWatchClients()["cbor"]
	ctx := context.Background()
	hostEndpoint(t, sm, "icr", types.ProductionVariantInstanceTypeMlM5Large, 0, 0)
	createComponent(t, sm, "icr", "icr", good, 2)
	waitComponent(t, sm, "icr", "InService", inService)
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("icr-errors"), Namespace: aws.String("AWS/SageMaker"),
		MetricName: aws.String("Invocation5XXErrors"), Dimensions: []cwtypes.Dimension{{Name: aws.String("InferenceComponentName"), Value: aws.String("icr")}},
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(0),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, TreatMissingData: aws.String("notBreaching")}); err != nil {
		t.Fatal(err)
	}
	invoke := func() error {
		_, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("icr"), InferenceComponentName: aws.String("icr"),
			Body: []byte("1,2"), ContentType: aws.String("text/csv")})
		return err
	}
	update := func(image, version string, wait int32) {
		t.Helper()
		spec := componentSpec(image)
		spec.Container.Environment = map[string]string{"VERSION": version}
		if _, err := sm.UpdateInferenceComponent(ctx, &sagemaker.UpdateInferenceComponentInput{InferenceComponentName: aws.String("icr"),
			Specification: spec, DeploymentConfig: &types.InferenceComponentDeploymentConfig{
				RollingUpdatePolicy: &types.InferenceComponentRollingUpdatePolicy{WaitIntervalInSeconds: aws.Int32(wait), MaximumExecutionTimeoutInSeconds: aws.Int32(28800),
					MaximumBatchSize: &types.InferenceComponentCapacitySize{Type: types.InferenceComponentCapacitySizeTypeCopyCount, Value: aws.Int32(1)}},
				AutoRollbackConfiguration: &types.AutoRollbackConfig{Alarms: []types.Alarm{{AlarmName: aws.String("icr-errors")}}}}}); err != nil {
			t.Fatal(err)
		}
	}

	// A good specification, a copy at a time.
	stop, _ := calls(2, invoke)
	update(good, "2", 60)
	out := waitComponent(t, sm, "icr", "the good update rolled through", func(o *sagemaker.DescribeInferenceComponentOutput) bool {
		return inService(o) && o.LastDeploymentConfig != nil
	})
	if ok, failed, first := stop(); failed > 0 || ok == 0 || aws.ToString(out.FailureReason) != "" {
		t.Fatalf("the good update: %d served, %d failed (%v), reason %q; want none failed", ok, failed, first, aws.ToString(out.FailureReason))
	}
	if p := out.LastDeploymentConfig.RollingUpdatePolicy; p == nil || aws.ToInt32(p.MaximumBatchSize.Value) != 1 {
		t.Fatalf("LastDeploymentConfig = %+v", out.LastDeploymentConfig)
	}

	// A bad one: its errors roll it back while its first batch bakes.
	stop, _ = calls(2, invoke)
	update(bad, "3", 600)
	out = waitComponent(t, sm, "icr", "rolled back by the alarm", func(o *sagemaker.DescribeInferenceComponentOutput) bool {
		return inService(o) && aws.ToString(o.FailureReason) != ""
	})
	_, failed, first := stop()
	if want := "Rolled back the update of inference component icr: alarm icr-errors went into ALARM."; !strings.HasPrefix(aws.ToString(out.FailureReason), want) ||
		out.Specification.Container.Environment["VERSION"] != "2" {
		t.Fatalf("after the rollback: environment %v, reason %q; want VERSION 2 (the previous specification) and %q", out.Specification.Container.Environment, aws.ToString(out.FailureReason), want)
	}
	if failed == 0 || !strings.Contains(first.Error(), "the model failed") {
		t.Fatalf("the bad copy failed no request (%d, %v)", failed, first)
	}
	t.Logf("the bad specification failed %d requests before the rollback", failed)
	eventually(t, time.Minute, "two copies of the good specification, the bad one gone", func() (bool, any) { n := len(s.running()); return n == 2, n })
	stop, served := calls(2, invoke)
	eventually(t, time.Minute, "traffic after the rollback", func() (bool, any) { return served() >= 50, served() })
	if ok, failed, first := stop(); failed > 0 || ok == 0 {
		t.Fatalf("after the rollback: %d served, %d failed (%v)", ok, failed, first)
	}
}

// TestCreateEndpointDeploymentConfig: CreateEndpoint's DeploymentConfig
// governs no deployment (there is nothing to shift from); it is the
// endpoint's deployment configuration, shown as LastDeploymentConfig, and
// the first UpdateEndpoint with RetainDeploymentConfig rolls by it.
func TestCreateEndpointDeploymentConfig(t *testing.T) {
	s := startServer(t, t.TempDir(), "--time-scale", "60")
	sm := s.SageMaker()
	ctx := context.Background()
	createConfig(t, sm, "cdc", "cdc", "ebb example-model --work-ms 0", 2)
	createConfig(t, sm, "cdc-v2", "cdc-v2", "ebb example-model --work-ms 1", 2)
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("cdc"), EndpointConfigName: aws.String("cdc"),
		DeploymentConfig: &types.DeploymentConfig{RollingUpdatePolicy: &types.RollingUpdatePolicy{WaitIntervalInSeconds: aws.Int32(60),
			MaximumBatchSize: &types.CapacitySize{Type: types.CapacitySizeTypeInstanceCount, Value: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}
	out := waitInService(t, sm, "cdc")
	if c := out.LastDeploymentConfig; c == nil || c.RollingUpdatePolicy == nil || aws.ToInt32(c.RollingUpdatePolicy.MaximumBatchSize.Value) != 1 {
		t.Fatalf("LastDeploymentConfig = %+v, want the one given at creation", out.LastDeploymentConfig)
	}
	updateRolledByRetained(t, sm, "cdc", "cdc-v2")
}

// TestRollingRollbackInBatches, with the Go SDK under steady load: a
// rolling update of three instances in batches of one, with a
// RollbackMaximumBatchSize of one, is rolled back by its alarm (set with
// SetAlarmState) during its last batch: the endpoint goes RollingBack,
// brings the old instances back one at a time while the new ones serve,
// never has fewer than two healthy instances, ends InService on the old
// configuration with the reason, and fails no request.
func TestRollingRollbackInBatches(t *testing.T) {
	s := everyRuntime["process"](t, t.TempDir(), "--time-scale", "60")
	sm, rt, cw := s.SageMaker(), s.Runtime(), s.cloudWatchClients()["cbor"]
	ctx := context.Background()
	deploy(t, sm, "rb", "ebb example-model --work-ms 1", 3)
	waitInService(t, sm, "rb")
	createConfig(t, sm, "rb-v2", "rb-v2", "ebb example-model --work-ms 2", 3)
	errorsAlarm(t, cw, "rb-watch", "rb", "")
	one := &types.CapacitySize{Type: types.CapacitySizeTypeInstanceCount, Value: aws.Int32(1)}
	stop := traffic(rt, "rb", 2)
	if _, err := sm.UpdateEndpoint(ctx, &sagemaker.UpdateEndpointInput{EndpointName: aws.String("rb"), EndpointConfigName: aws.String("rb-v2"),
		DeploymentConfig: &types.DeploymentConfig{RollingUpdatePolicy: &types.RollingUpdatePolicy{WaitIntervalInSeconds: aws.Int32(600),
			MaximumExecutionTimeoutInSeconds: aws.Int32(28800), MaximumBatchSize: one, RollbackMaximumBatchSize: one},
			AutoRollbackConfiguration: &types.AutoRollbackConfig{Alarms: []types.Alarm{{AlarmName: aws.String("rb-watch")}}}}}); err != nil {
		t.Fatal(err)
	}
	least, statuses := 3, map[string]bool{}
	healthy := func(o *sagemaker.DescribeEndpointOutput) {
		n := int(aws.ToInt32(o.ProductionVariants[0].CurrentInstanceCount))
		if p := o.PendingDeploymentSummary; p != nil {
			n += int(aws.ToInt32(p.ProductionVariants[0].CurrentInstanceCount))
			for _, st := range p.ProductionVariants[0].VariantStatus {
				statuses[aws.ToString(st.StatusMessage)] = true
			}
		}
		least = min(least, n)
	}
	waitFor(t, sm, "rb", "the last batch", func(o *sagemaker.DescribeEndpointOutput) bool {
		healthy(o)
		return statuses["Replacing instances in batches of 1: batch 3 of 3."]
	})
	if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("rb-watch"), StateValue: cwtypes.StateValueAlarm,
		StateReason: aws.String("the test's verdict on the new version")}); err != nil {
		t.Fatal(err)
	}
	out := waitFor(t, sm, "rb", "rolled back in batches", func(o *sagemaker.DescribeEndpointOutput) bool {
		healthy(o)
		return o.EndpointStatus == types.EndpointStatusInService
	})
	if ok, failed, first := stop(); failed > 0 || ok == 0 {
		t.Fatalf("%d served, %d failed (%v); want none failed", ok, failed, first)
	}
	if aws.ToString(out.EndpointConfigName) != "rb" || !strings.HasPrefix(aws.ToString(out.FailureReason), "Rolled back the update to endpoint configuration rb-v2: alarm rb-watch went into ALARM.") {
		t.Fatalf("after the rollback: on %s, reason %q", aws.ToString(out.EndpointConfigName), aws.ToString(out.FailureReason))
	}
	if !statuses["Rolling back in batches of 1: batch 1 of 2."] || least < 2 {
		t.Fatalf("statuses seen %v, at least %d healthy; want the rollback's first batch of two, and never fewer than 2", statuses, least)
	}
	eventually(t, time.Minute, "the new fleet gone", func() (bool, any) { n := len(s.running()); return n == 3, n })
}
