package e2e

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/chromedp/chromedp"

	"github.com/ebbscale/ebb/internal/clock"
)

// predictivePolicy is a PredictiveScaling configuration on invocations
// per instance, with the pair ebb defines for SageMaker variants.
func predictivePolicy(target float64, mode aastypes.PredictiveScalingMode, buffer int32) *aastypes.PredictiveScalingPolicyConfiguration {
	return &aastypes.PredictiveScalingPolicyConfiguration{Mode: mode, SchedulingBufferTime: aws.Int32(buffer),
		MetricSpecifications: []aastypes.PredictiveScalingMetricSpecification{{TargetValue: aws.Float64(target),
			PredefinedMetricPairSpecification: &aastypes.PredictiveScalingPredefinedMetricPairSpecification{PredefinedMetricType: aws.String("SageMakerVariantInvocationsPerInstance")}}}}
}

// TestPredictiveScaling, with the Go SDK on a clock 2,880 times faster (a
// day in 30 s): a variant's traffic follows a daily pattern, quiet but for
// a busy afternoon (12:00 to 16:00). A predictive policy (ForecastAndScale,
// SchedulingBufferTime 50 minutes) beside target tracking forecasts it
// from the first day on; on a following day the capacity rises to the
// afternoon's before the afternoon's load comes, caused by the forecast,
// and target tracking takes it back down in the evening. Its forecast
// (GetPredictiveScalingForecast) and PredictedCapacity are read as AWS
// serves them, and what it refuses is refused by name.
func TestPredictiveScaling(t *testing.T) {
	const factor = 2880
	epoch := time.Now()
	clk := &clock.Scaled{Factor: factor, Epoch: epoch}
	s := startServer(t, t.TempDir(), "--time-scale", "2880", "--time-scale-epoch", epoch.Format(time.RFC3339Nano))
	sm, rt, as := s.SageMaker(), s.Runtime(), s.AutoScaling()
	ctx := context.Background()
	deploy(t, sm, "pred", "ebb example-model --work-ms 0", 1)
	waitInService(t, sm, "pred")
	ns, id, dim := aastypes.ServiceNamespaceSagemaker, aws.String("endpoint/pred/variant/AllTraffic"), aastypes.ScalableDimensionSageMakerVariantDesiredInstanceCount
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: ns, ResourceId: id, ScalableDimension: dim,
		MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	put := func(name string, cfg *aastypes.PredictiveScalingPolicyConfiguration) error {
		_, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String(name), ServiceNamespace: ns, ResourceId: id, ScalableDimension: dim,
			PolicyType: aastypes.PolicyTypePredictiveScaling, PredictiveScalingPolicyConfiguration: cfg})
		return err
	}
	// Refused by name.
	invocations := func(id string, returned bool) aastypes.PredictiveScalingMetricDataQuery {
		return aastypes.PredictiveScalingMetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(returned), MetricStat: &aastypes.PredictiveScalingMetricStat{Stat: aws.String("Sum"),
			Metric: &aastypes.PredictiveScalingMetric{Namespace: aws.String("AWS/SageMaker"), MetricName: aws.String("Invocations"),
				Dimensions: []aastypes.PredictiveScalingMetricDimension{{Name: aws.String("EndpointName"), Value: aws.String("pred")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}}}}}
	}
	custom := predictivePolicy(1.5, aastypes.PredictiveScalingModeForecastOnly, 300)
	custom.MetricSpecifications[0].PredefinedMetricPairSpecification = nil
	custom.MetricSpecifications[0].PredefinedLoadMetricSpecification = &aastypes.PredictiveScalingPredefinedLoadMetricSpecification{PredefinedMetricType: aws.String("SageMakerVariantTotalInvocations")}
	custom.MetricSpecifications[0].CustomizedScalingMetricSpecification = &aastypes.PredictiveScalingCustomizedMetricSpecification{
		MetricDataQueries: []aastypes.PredictiveScalingMetricDataQuery{invocations("m1", true)}}
	expectAPIError(t, put("bad", custom), "ValidationException", "A CustomizedScalingMetricSpecification needs a CustomizedCapacityMetricSpecification: ebb publishes no metric of a variant's capacity to learn from.")
	unknown := predictivePolicy(1.5, aastypes.PredictiveScalingModeForecastOnly, 300)
	unknown.MetricSpecifications[0].PredefinedMetricPairSpecification.PredefinedMetricType = aws.String("ECSServiceCPUUtilization")
	expectAPIError(t, put("bad", unknown), "ValidationException", "Unsupported predefined metric type ECSServiceCPUUtilization for predictive scaling of sagemaker:variant:DesiredInstanceCount.")
	buffered := predictivePolicy(1.5, aastypes.PredictiveScalingModeForecastOnly, 300)
	buffered.MaxCapacityBreachBehavior = aastypes.PredictiveScalingMaxCapacityBreachBehaviorIncreaseMaxCapacity
	expectAPIError(t, put("bad", buffered), "ValidationException", "MaxCapacityBuffer is required when MaxCapacityBreachBehavior is IncreaseMaxCapacity.")
	// A predictive configuration on a policy of another type is not ignored.
	_, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("bad"), ServiceNamespace: ns, ResourceId: id, ScalableDimension: dim,
		PolicyType: aastypes.PolicyTypeTargetTrackingScaling, PredictiveScalingPolicyConfiguration: predictivePolicy(1.5, aastypes.PredictiveScalingModeForecastOnly, 300),
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(1.5),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeSageMakerVariantInvocationsPerInstance}}})
	expectAPIError(t, err, "ValidationException", "PredictiveScalingPolicyConfiguration is not valid with PolicyType TargetTrackingScaling.")

	// 1.5 invocations per instance per minute: the quiet hours (about
	// 0.2 a minute) need one instance, the afternoon (about 4) three.
	if err := put("daily", predictivePolicy(1.5, aastypes.PredictiveScalingModeForecastAndScale, 3000)); err != nil {
		t.Fatal(err)
	}
	// The same load as a customized metric, doubled by metric math (say,
	// tokens), beside the predefined scaling metric: the history teaches
	// it that a unit carries twice the invocations' load, so it forecasts
	// twice the load and the same capacity.
	tokens := predictivePolicy(1.5, aastypes.PredictiveScalingModeForecastOnly, 300)
	tokens.MetricSpecifications[0].PredefinedMetricPairSpecification = nil
	tokens.MetricSpecifications[0].PredefinedScalingMetricSpecification = &aastypes.PredictiveScalingPredefinedScalingMetricSpecification{PredefinedMetricType: aws.String("SageMakerVariantInvocationsPerInstance")}
	tokens.MetricSpecifications[0].CustomizedLoadMetricSpecification = &aastypes.PredictiveScalingCustomizedMetricSpecification{
		MetricDataQueries: []aastypes.PredictiveScalingMetricDataQuery{invocations("inv", false), {Id: aws.String("tokens"), Expression: aws.String("2 * inv"), ReturnData: aws.Bool(true)}}}
	if err := put("tokens", tokens); err != nil {
		t.Fatal(err)
	}
	tracking(t, as, *id, dim, 1, 4, "reactive", aastypes.MetricTypeSageMakerVariantInvocationsPerInstance, 1.5)
	pols, err := as.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: ns, PolicyNames: []string{"daily"}})
	if err != nil || len(pols.ScalingPolicies) != 1 || pols.ScalingPolicies[0].PredictiveScalingPolicyConfiguration == nil ||
		pols.ScalingPolicies[0].PredictiveScalingPolicyConfiguration.Mode != aastypes.PredictiveScalingModeForecastAndScale {
		t.Fatalf("DescribeScalingPolicies = %+v, %v", pols, err)
	}

	// The traffic: 10 requests a second, 200 in the afternoon.
	afternoon := func(at time.Time) bool { h := at.UTC().Hour(); return h >= 12 && h < 16 }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed error
	var mu sync.Mutex
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(map[bool]time.Duration{true: 20 * time.Millisecond, false: 400 * time.Millisecond}[afternoon(clk.Now())]):
				}
				if _, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("pred"), Body: []byte("1,2"), ContentType: aws.String("text/csv")}); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	// A forecast once a day of history is in.
	var forecast *aas.GetPredictiveScalingForecastOutput
	eventually(t, 90*time.Second, "the first forecast", func() (bool, any) {
		now := clk.Now()
		out, err := as.GetPredictiveScalingForecast(ctx, &aas.GetPredictiveScalingForecastInput{ServiceNamespace: ns, ResourceId: id, ScalableDimension: dim,
			PolicyName: aws.String("daily"), StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(48 * time.Hour))})
		if err != nil {
			return false, err
		}
		forecast = out
		return out.UpdateTime != nil && len(out.CapacityForecast.Values) > 0, now.Sub(epoch).Round(time.Hour)
	})
	peak := 0.0
	for i, v := range forecast.CapacityForecast.Values {
		if afternoon(forecast.CapacityForecast.Timestamps[i]) {
			peak = max(peak, v)
		}
	}
	if peak < 2 || len(forecast.LoadForecast) != 1 || len(forecast.LoadForecast[0].Values) != len(forecast.CapacityForecast.Values) {
		t.Fatalf("forecast: capacity %v in the afternoon (want at least 2), load %+v", peak, forecast.LoadForecast)
	}
	// Each policy forecasts on its own schedule (every 6 hours from its
	// first forecast, which may be a tick apart), so the customized one is
	// checked against itself: every hour's capacity is its load over what
	// it learnt a unit carries (twice the invocations' 60, at the target of
	// 1.5), within the target's bounds; and its load is about twice the
	// pair's over the same hours.
	var daily, tf *aas.GetPredictiveScalingForecastOutput
	eventually(t, 30*time.Second, "the customized load's forecast", func() (bool, any) {
		var errs [2]error
		for i, name := range []string{"tokens", "daily"} {
			out, err := as.GetPredictiveScalingForecast(ctx, &aas.GetPredictiveScalingForecastInput{ServiceNamespace: ns, ResourceId: id, ScalableDimension: dim,
				PolicyName: aws.String(name), StartTime: aws.Time(forecast.CapacityForecast.Timestamps[0]), EndTime: aws.Time(forecast.CapacityForecast.Timestamps[0].Add(48 * time.Hour))})
			errs[i] = err
			if i == 0 {
				tf = out
			} else {
				daily = out
			}
		}
		if errs[0] != nil || errs[1] != nil {
			return false, errs
		}
		return tf.UpdateTime != nil && len(tf.LoadForecast) == 1 && len(tf.LoadForecast[0].Values) > 0, tf.UpdateTime
	})
	var tokensSum, invocationsSum float64
	for i, load := range tf.LoadForecast[0].Values {
		want := min(4, max(1, math.Ceil(load/(1.5*120)-1e-9)))
		if got := tf.CapacityForecast.Values[i]; got != want {
			t.Fatalf("the customized load's capacity at %v: %v for a load of %v, want %v", tf.CapacityForecast.Timestamps[i], got, load, want)
		}
		if j := slices.IndexFunc(daily.LoadForecast[0].Timestamps, tf.LoadForecast[0].Timestamps[i].Equal); j >= 0 {
			tokensSum, invocationsSum = tokensSum+load, invocationsSum+daily.LoadForecast[0].Values[j]
		}
	}
	if ratio := tokensSum / invocationsSum; !(ratio > 1.6 && ratio < 2.4) {
		t.Fatalf("the customized load's forecast is %.2f times the invocations', want about 2", ratio)
	}

	// The next afternoon: its capacity is there before its load.
	now := clk.Now()
	next := now.UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	if !next.After(now.Add(time.Hour)) {
		next = next.Add(24 * time.Hour)
	}
	eventually(t, 60*time.Second, "ten minutes before the afternoon", func() (bool, any) { return !clk.Now().Before(next.Add(-10 * time.Minute)), clk.Now() })
	ep, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("pred")})
	if err != nil {
		t.Fatal(err)
	}
	if desired := aws.ToInt32(ep.ProductionVariants[0].DesiredInstanceCount); desired < 2 || afternoon(clk.Now()) {
		t.Fatalf("at %s (the afternoon's load not yet come) desired instances %d, want the forecast's %v", clk.Now().Format("15:04"), desired, peak)
	}
	acts, err := as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: ns, ResourceId: id, ScalableDimension: dim})
	if err != nil || len(acts.ScalingActivities) == 0 || !strings.Contains(aws.ToString(acts.ScalingActivities[0].Cause), "predictive scaling policy daily forecast capacity") {
		t.Fatalf("the newest activity %+v (%v); want the forecast's", acts.ScalingActivities[:min(1, len(acts.ScalingActivities))], err)
	}
	targets, err := as.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: ns, ResourceIds: []string{*id}})
	if err != nil || len(targets.ScalableTargets) != 1 || aws.ToInt32(targets.ScalableTargets[0].PredictedCapacity) < 2 {
		t.Fatalf("DescribeScalableTargets = %+v, %v; want the afternoon's PredictedCapacity", targets, err)
	}
	// The console draws each policy's forecast against the load as it
	// came, to the forecast's end (the customized one through its metric
	// math), with the capacity scheduled on a second axis.
	b := newBrowser(t)
	b.run(t, 30*time.Second, chromedp.Navigate(s.URL+"/console/endpoints/pred"), chromedp.WaitVisible(`#chart-instances`))
	for _, name := range []string{"daily", "tokens"} {
		b.waitJS(t, 20*time.Second, "policy "+name+"'s forecast chart", fmt.Sprintf(`(() => {
			const f = document.querySelector('[id="chart-policy-AllTraffic-%s"]');
			if (!f || !f.dataset.summary) return false;
			const s = Object.fromEntries(JSON.parse(f.dataset.summary).map(x => [x.label, x]));
			return s["load"]?.max > 0 && s["load forecast"]?.max > 0 && s["capacity forecast"]?.max >= 2 && Number(f.dataset.points) >= 24 &&
				!!f.querySelector("canvas");
		})()`, name))
	}
	b.screenshot(t, screenshotDir(t), "predictive")
	b.noErrors(t)

	// In the evening target tracking brings it back down.
	eventually(t, 60*time.Second, "the evening's capacity", func() (bool, any) {
		ep, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("pred")})
		if err != nil {
			return false, err
		}
		d := aws.ToInt32(ep.ProductionVariants[0].DesiredInstanceCount)
		return d == 1 && clk.Now().After(next.Add(5*time.Hour)), d
	})
	mu.Lock()
	defer mu.Unlock()
	if failed != nil {
		t.Fatalf("an invocation failed: %v", failed)
	}
}
