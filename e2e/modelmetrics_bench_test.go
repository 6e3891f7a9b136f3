package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"

	"github.com/ebbscale/ebb/internal/clock"
)

// BenchmarkLLMScaleOut: the same burst of long generations on three
// endpoints of the LLM-like engine (8 at once per instance, 20 ms a
// token, 300 tokens), each scaled by another target-tracking policy: on
// the engine's queue (waiting requests per instance, and all it holds per
// instance for the scale-in), on InvocationsPerInstance at AWS's formula
// (the most an instance serves a minute, halved), and on
// ConcurrentRequestsPerModel at 10-second resolution. It reports, per
// policy, from the burst's start: the seconds to the first scale-out, the
// p99 time to first token, and the instance-minutes of forty minutes, all
// on the server's clock (--time-scale 30).
func BenchmarkLLMScaleOut(b *testing.B) {
	const factor = 30
	epoch := time.Now()
	clk := &clock.Scaled{Factor: factor, Epoch: epoch}
	s := startServer(b, b.TempDir(), "--time-scale", "30", "--time-scale-epoch", epoch.Format(time.RFC3339Nano))
	sm, rt, as := s.SageMaker(), s.Runtime(), s.AutoScaling()
	ctx := context.Background()
	image := "ebb example-model --llm --max-batch 8 --time-per-token 20ms"
	// A request is 300 tokens of 20 ms (+5 % per request in the batch):
	// 8 at once take about 8.5 s, four minutes on the server's clock, so
	// an instance serves about 1.9 a minute; AWS's formula halves it.
	policies := map[string]func(string) *aastypes.TargetTrackingScalingPolicyConfiguration{
		"queue": nil,
		"invocations": func(string) *aastypes.TargetTrackingScalingPolicyConfiguration {
			return &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(0.95), ScaleOutCooldown: aws.Int32(60), ScaleInCooldown: aws.Int32(300),
				PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeSageMakerVariantInvocationsPerInstance}}
		},
		"concurrency": func(string) *aastypes.TargetTrackingScalingPolicyConfiguration {
			return &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(6), ScaleOutCooldown: aws.Int32(60), ScaleInCooldown: aws.Int32(300),
				PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: "SageMakerVariantConcurrentRequestsPerModelHighResolution"}}
		},
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range policies {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		llmModel(b, sm, name, image)
	}
	for _, name := range names {
		waitInService(b, sm, name)
		id := aws.String("endpoint/" + name + "/variant/AllTraffic")
		if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id,
			ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(4)}); err != nil {
			b.Fatal(err)
		}
		var cfgs map[string]*aastypes.TargetTrackingScalingPolicyConfiguration
		if policies[name] == nil {
			waiting := queueDepthPolicy(name, 1)
			waiting.DisableScaleIn = aws.Bool(true)
			load := queueDepthPolicy(name, 8)
			load.CustomizedMetricSpecification.Metrics = append(load.CustomizedMetricSpecification.Metrics[:2:2], queueMetric(name, "running", "vllm:num_requests_running"),
				aastypes.TargetTrackingMetricDataQuery{Id: aws.String("per_instance"), Expression: aws.String("(waiting + running) / instances"), ReturnData: aws.Bool(true)})
			cfgs = map[string]*aastypes.TargetTrackingScalingPolicyConfiguration{"waiting": waiting, "load": load}
		} else {
			cfgs = map[string]*aastypes.TargetTrackingScalingPolicyConfiguration{name: policies[name](name)}
		}
		for pn, cfg := range cfgs {
			if _, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String(pn), ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
				ResourceId: id, ScalableDimension: variantDim, PolicyType: aastypes.PolicyTypeTargetTrackingScaling, TargetTrackingScalingPolicyConfiguration: cfg}); err != nil {
				b.Fatal(err)
			}
		}
	}

	// The burst: 24 clients each (three instances' worth), streaming,
	// for twenty virtual minutes, watched for forty. The engines run in
	// real time: a generation of 8.5 s is four virtual minutes.
	type result struct {
		firsts  []time.Duration
		minutes float64
	}
	results := map[string]*result{}
	start := clk.Now()
	burst, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, name := range names {
		results[name] = &result{}
		for range 24 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for clk.Now().Sub(start) < 20*time.Minute && burst.Err() == nil {
					first, err := generate(burst, rt, name, 300, true)
					mu.Lock()
					if err == nil {
						results[name].firsts = append(results[name].firsts, first)
					}
					mu.Unlock()
				}
			}()
		}
	}
	// Instance-minutes: the instances in service, sampled every virtual
	// ten seconds for fifteen minutes.
	for clk.Now().Sub(start) < 40*time.Minute {
		for _, name := range names {
			ep, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String(name)})
			if err == nil {
				results[name].minutes += float64(aws.ToInt32(ep.ProductionVariants[0].CurrentInstanceCount)) / 6
			}
		}
		time.Sleep(10 * time.Second / factor)
	}
	stop()
	wg.Wait()
	for _, name := range names {
		acts, err := as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
			ResourceId: aws.String("endpoint/" + name + "/variant/AllTraffic"), ScalableDimension: variantDim})
		if err != nil {
			b.Fatal(err)
		}
		out := -1.0
		for _, a := range acts.ScalingActivities {
			if strings.Contains(aws.ToString(a.Cause), "AlarmHigh") {
				out = aws.ToTime(a.StartTime).Sub(start).Seconds() // the oldest last
			}
		}
		r := results[name]
		slices.Sort(r.firsts)
		p99 := time.Duration(0)
		if len(r.firsts) > 0 {
			p99 = r.firsts[min(len(r.firsts)-1, len(r.firsts)*99/100)]
		}
		ttft := p99.Seconds() * factor
		fmt.Printf("%-12s scale-out after %5.0f s, TTFT p99 %5.0f s over %d streams, %.1f instance-minutes\n", name, out, ttft, len(r.firsts), r.minutes)
		b.ReportMetric(out, name+"-scaleout-s")
		b.ReportMetric(ttft, name+"-ttft-p99-s")
		b.ReportMetric(r.minutes, name+"-instance-min")
	}
}
