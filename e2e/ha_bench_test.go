package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
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
			for {
				if _, err := f.SageMaker().DescribeEndpoint(context.Background(), &sagemaker.DescribeEndpointInput{EndpointName: aws.String("hab")}); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond) // polling for the new leader's API
			}
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
