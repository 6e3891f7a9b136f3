package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// BenchmarkHA measures three replicas on PostgreSQL
// (go test -run x -bench HA -benchtime 1x ./e2e): DescribeEndpoint,
// PutScalingPolicy and InvokeEndpoint through the leader and through a
// follower (p50, p99), and the
// failover time (kill -9 of the leader until another replica leads, and
// until DescribeEndpoint answers again through a follower) over 10 trials.
func BenchmarkHA(b *testing.B) {
	for b.Loop() {
		_, reps, start := haReplicas(b, 3)
		lead := leaderOf(b, reps, nil, 30*time.Second)
		fol := reps[(lead+1)%3]
		deploy(b, fol.SageMaker(), "hab", kubeModel, 1)
		waitInService(b, fol.SageMaker(), "hab")
		ctx := context.Background()
		resource := aws.String("endpoint/hab/variant/AllTraffic")
		if _, err := fol.AutoScaling().RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
			ResourceId: resource, ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(4)}); err != nil {
			b.Fatal(err)
		}
		calls := map[string]func(s *server) error{
			"DescribeEndpoint": func(s *server) error {
				_, err := s.SageMaker().DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("hab")})
				return err
			},
			"PutScalingPolicy": func(s *server) error {
				_, err := s.AutoScaling().PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("bench"),
					ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: resource, ScalableDimension: variantDim,
					PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
					TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(100),
						PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeSageMakerVariantInvocationsPerInstance}}})
				return err
			},
			"InvokeEndpoint": func(s *server) error {
				_, err := s.Runtime().InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("hab"), Body: []byte("1,2,3"), ContentType: aws.String("text/csv")})
				return err
			},
		}
		lat := func(s *server, call func(*server) error, n int) (p50, p99 time.Duration) {
			var ds []time.Duration
			for range n {
				t0 := time.Now()
				if err := call(s); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t0))
			}
			slices.Sort(ds)
			return ds[len(ds)/2], ds[len(ds)*99/100]
		}
		for _, name := range []string{"DescribeEndpoint", "PutScalingPolicy", "InvokeEndpoint"} {
			n := 500
			if name == "PutScalingPolicy" {
				n = 100 // each call rewrites the policy and its two alarms
			}
			lp50, lp99 := lat(reps[lead], calls[name], n)
			fp50, fp99 := lat(fol, calls[name], n)
			b.Logf("%s (%d calls): leader p50 %v p99 %v; follower p50 %v p99 %v", name, n, lp50, lp99, fp50, fp99)
			b.ReportMetric(float64(lp50.Microseconds()), "µs-p50-leader-"+name)
			b.ReportMetric(float64(lp99.Microseconds()), "µs-p99-leader-"+name)
			b.ReportMetric(float64(fp50.Microseconds()), "µs-p50-follower-"+name)
			b.ReportMetric(float64(fp99.Microseconds()), "µs-p99-follower-"+name)
		}

		var elect, answer []time.Duration
		for range 10 {
			old := leaderOf(b, reps, nil, 30*time.Second)
			killed := time.Now()
			reps[old].Crash()
			reps[old] = nil
			live := func() []*server {
				var out []*server
				for _, r := range reps {
					if r != nil {
						out = append(out, r)
					}
				}
				return out
			}()
			next := leaderOf(b, live, nil, 30*time.Second)
			elect = append(elect, time.Since(killed))
			f := live[(next+1)%len(live)]
			eventually(b, 30*time.Second, "the new leader's API answers through a follower", func() (bool, any) {
				_, err := f.SageMaker().DescribeEndpoint(context.Background(), &sagemaker.DescribeEndpointInput{EndpointName: aws.String("hab")})
				return err == nil, err
			})
			answer = append(answer, time.Since(killed))
			reps[old] = start(old) // back as a follower, with a clean log
		}
		slices.Sort(elect)
		slices.Sort(answer)
		b.Logf("failover, 10 trials: new leader after %v (median) [%v..%v]; API through a follower after %v (median) [%v..%v]",
			elect[5], elect[0], elect[9], answer[5], answer[0], answer[9])
		b.ReportMetric(elect[5].Seconds(), "s-failover-median")
		b.ReportMetric(elect[9].Seconds(), "s-failover-max")
	}
}

// BenchmarkHAFailover kills the leader with -9 ten times under steady load
// through the followers from clients with the Go SDK's default retryer
// (go test -run x -bench HAFailover -benchtime 1x ./e2e), at the Lease
// timings of before (10 s, 7 s, 1 s) and the defaults, and reports the
// time from the kill to the first control-plane call answered by the new
// leader (median, max), the time to a new leader, and the control-plane
// calls and invocations that failed.
func BenchmarkHAFailover(b *testing.B) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"lease=10s", []string{"--ha-lease-duration", "10s", "--ha-renew-deadline", "7s", "--ha-retry-period", "1s"}},
		{"lease=default", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				benchFailover(b, tc.flags)
			}
		})
	}
}

func benchFailover(b *testing.B, flags []string) {
	_, reps, start := haReplicas(b, 3, flags...)
	lead := leaderOf(b, reps, nil, 30*time.Second)
	deploy(b, reps[(lead+1)%3].SageMaker(), "hf", kubeModel, 1)
	waitInService(b, reps[(lead+1)%3].SageMaker(), "hf")
	ctx := context.Background()
	var answer []time.Duration
	var callsN, callsFailed, invs, invsFailed int64
	var firstErr error
	for range 10 {
		old := leaderOf(b, reps, nil, 30*time.Second)
		var followers []*server
		for i, r := range reps {
			if i != old {
				followers = append(followers, r)
			}
		}
		var control, invoke []func() (int64, int64, error)
		paced := func(call func() error) func() error { // a steady rate per client, not a flood
			return func() error { defer time.Sleep(20 * time.Millisecond); return call() }
		}
		for _, f := range followers {
			waitCond(b, "the follower routes", func() bool { return promValue(b, f, "ebb_healthy_instances", "hf") > 0 })
			cfg := withSDKRetries(awsConfig("AKIDTEST", "secret"))
			sm := sagemaker.NewFromConfig(cfg, func(o *sagemaker.Options) { o.BaseEndpoint = aws.String(f.URL) })
			cw := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.BaseEndpoint = aws.String(f.URL) })
			rt := sagemakerruntime.NewFromConfig(cfg, func(o *sagemakerruntime.Options) { o.BaseEndpoint = aws.String(f.URL) })
			describe, _ := calls(1, paced(func() error {
				_, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("hf")})
				return err
			}))
			put, _ := calls(1, paced(func() error {
				_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Bench/Failover"),
					MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("Calls"), Value: aws.Float64(1)}}})
				return err
			}))
			inv, _ := calls(1, paced(func() error {
				_, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("hf"), Body: []byte("1,2,3"), ContentType: aws.String("text/csv")})
				return err
			}))
			control, invoke = append(control, describe, put), append(invoke, inv)
		}
		killed := time.Now()
		reps[old].Crash()
		// The first control-plane call after the kill: held by the
		// follower until the new leader answers it.
		if _, err := followers[0].SageMaker().DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("hf")}); err != nil {
			b.Fatalf("the first call after the kill: %v", err)
		}
		answer = append(answer, time.Since(killed))
		leaderOf(b, followers, nil, 30*time.Second)
		tally := func(stops []func() (int64, int64, error), n, failed *int64) {
			for _, stop := range stops {
				ok, bad, first := stop()
				*n, *failed = *n+ok+bad, *failed+bad
				if firstErr == nil {
					firstErr = first
				}
			}
		}
		tally(control, &callsN, &callsFailed)
		tally(invoke, &invs, &invsFailed)
		reps[old] = start(old) // back as a follower
	}
	slices.Sort(answer)
	b.Logf("10 kills: first call answered by the new leader after %v median, %v max [min %v]; control-plane calls %d, failed %d; invocations %d, failed %d (first error: %v)",
		answer[5].Round(time.Millisecond), answer[9].Round(time.Millisecond), answer[0].Round(time.Millisecond),
		callsN, callsFailed, invs, invsFailed, firstErr)
	b.ReportMetric(answer[5].Seconds(), "s-answer-median")
	b.ReportMetric(answer[9].Seconds(), "s-answer-max")
	b.ReportMetric(float64(callsFailed), "failed-calls")
	b.ReportMetric(float64(invsFailed), "failed-invocations")
}
