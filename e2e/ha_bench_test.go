package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
)

// BenchmarkHA measures three replicas on PostgreSQL
// (go test -run x -bench HA -benchtime 1x ./e2e): DescribeEndpoint through
// the leader and through a follower (p50, p99 of 500 calls each), and the
// failover time (kill -9 of the leader until another replica leads, and
// until DescribeEndpoint answers again through a follower) over 10 trials.
func BenchmarkHA(b *testing.B) {
	for b.Loop() {
		_, reps, start := haReplicas(b, 3)
		lead := leaderOf(b, reps, nil, 30*time.Second)
		fol := reps[(lead+1)%3]
		deploy(b, fol.SageMaker(), "hab", kubeModel, 1)
		waitInService(b, fol.SageMaker(), "hab")
		lat := func(s *server) (p50, p99 time.Duration) {
			sm := s.SageMaker()
			var ds []time.Duration
			for range 500 {
				t0 := time.Now()
				if _, err := sm.DescribeEndpoint(context.Background(), &sagemaker.DescribeEndpointInput{EndpointName: aws.String("hab")}); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t0))
			}
			slices.Sort(ds)
			return ds[len(ds)/2], ds[len(ds)*99/100]
		}
		lp50, lp99 := lat(reps[lead])
		fp50, fp99 := lat(fol)
		b.ReportMetric(float64(lp50.Microseconds()), "µs-p50-leader")
		b.ReportMetric(float64(lp99.Microseconds()), "µs-p99-leader")
		b.ReportMetric(float64(fp50.Microseconds()), "µs-p50-follower")
		b.ReportMetric(float64(fp99.Microseconds()), "µs-p99-follower")

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
