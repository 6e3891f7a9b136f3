package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// BenchmarkServerless measures, on each runtime, a serverless variant's
// cold start beyond its environment's own start (the median time from an
// invocation at zero environments to its answer, less the median
// InstanceStartupTime: ebb's own part), and a warm serverless variant's
// invocation latency against an instance-based variant's of the same model,
// in the same run.
//
//	go test -run x -bench Serverless -benchtime 1x ./e2e
func BenchmarkServerless(b *testing.B) {
	for _, name := range []string{"process", "docker", "kubernetes"} {
		image := map[string]string{"process": "ebb example-model --work-ms 0", "docker": dockerModelLogs, "kubernetes": kubeModelLogs}[name]
		b.Run(name, func(b *testing.B) {
			for range b.N {
				rs := everyRuntime[name](b, b.TempDir(), "--serverless-idle", "300ms")
				sm, rt := rs.SageMaker(), rs.Runtime()
				ctx := context.Background()
				deploy(b, sm, "inst", image, 1)
				deployServerless(b, sm, "sl", "inst", 1)
				waitInService(b, sm, "inst")
				waitInService(b, sm, "sl")
				const colds = 10
				var cold []time.Duration
				for range colds {
					eventually(b, time.Minute, "no environment", func() (bool, any) { n := len(rs.running()); return n <= 1, n }) // the instance-based one
					start := time.Now()
					if _, err := rt.InvokeEndpoint(ctx, invocation("sl")); err != nil {
						b.Fatal(err)
					}
					cold = append(cold, time.Since(start))
				}
				startups := func(stat func(*cloudwatch.GetMetricStatisticsInput)) (cwtypes.Datapoint, bool) {
					in := &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("ebb/ColdStart"),
						MetricName: aws.String("InstanceStartupTime"), Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("sl")},
							{Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}},
						StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Minute)), Period: aws.Int32(3600)}
					stat(in)
					out, err := rs.cloudWatchClients()["cbor"].GetMetricStatistics(ctx, in)
					if err != nil || len(out.Datapoints) != 1 {
						return cwtypes.Datapoint{}, false
					}
					return out.Datapoints[0], true
				}
				eventually(b, time.Minute, "InstanceStartupTime of every environment", func() (bool, any) {
					d, ok := startups(func(in *cloudwatch.GetMetricStatisticsInput) {
						in.Statistics = []cwtypes.Statistic{cwtypes.StatisticSampleCount}
					})
					return ok && aws.ToFloat64(d.SampleCount) >= colds, d.SampleCount
				})
				p50, _ := startups(func(in *cloudwatch.GetMetricStatisticsInput) { in.ExtendedStatistics = []string{"p50"} })
				startup := p50.ExtendedStatistics["p50"]
				slices.Sort(cold)
				median := float64(cold[len(cold)/2].Microseconds()) / 1000
				b.ReportMetric(median, "ms/cold-invocation")
				b.ReportMetric(startup, "ms/environment-start")
				b.ReportMetric(median-startup, "ms/cold-overhead")

				// Warm: one invocation at a time on each, alternating.
				if _, err := rt.InvokeEndpoint(ctx, invocation("sl")); err != nil {
					b.Fatal(err)
				}
				const warm = 200
				var sl, inst time.Duration
				for range warm {
					for _, ep := range []string{"sl", "inst"} {
						start := time.Now()
						if _, err := rt.InvokeEndpoint(ctx, invocation(ep)); err != nil {
							b.Fatal(err)
						}
						if ep == "sl" {
							sl += time.Since(start)
						} else {
							inst += time.Since(start)
						}
					}
				}
				b.ReportMetric(float64(sl.Microseconds())/warm, "µs/serverless-invocation")
				b.ReportMetric(float64(inst.Microseconds())/warm, "µs/instance-invocation")
				b.ReportMetric(float64(sl)/float64(inst), "serverless/instance")
			}
		})
	}
}
