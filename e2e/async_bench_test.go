package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
)

var logTime = regexp.MustCompile(`time=(\S+) level=INFO msg="instance (started|healthy)".* endpoint=(\S+)`)

// TestColdStartOverhead measures what ebb adds to a request that arrives at
// zero capacity: its latency minus the instance's own time from process
// start to its first healthy ping (read from the server's log).
func TestColdStartOverhead(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: measures cold starts")
	}
	s := startServer(t, t.TempDir())
	sm, rt := s.SageMaker(), s.Runtime()
	scaleToZero(t, s, "overhead", "ebb example-model --work 0s --startup-delay 200ms")
	var overheads []time.Duration
	for i := range 8 {
		if i > 0 {
			setCapacity(t, sm, "overhead", "AllTraffic", 0)
			waitFor(t, sm, "overhead", "zero", func(o *sagemaker.DescribeEndpointOutput) bool {
				return o.EndpointStatus == "InService" && *variantOf(o).CurrentInstanceCount == 0 && len(s.instances()) == 0
			})
		}
		before := len(logTime.FindAllStringSubmatch(s.Log(), -1))
		start := time.Now()
		if _, err := rt.InvokeEndpoint(context.Background(), invocation("overhead")); err != nil {
			t.Fatal(err)
		}
		latency := time.Since(start)
		var started, healthy time.Time
		// The server's log reaches the test through a pipe, possibly a
		// little after the answer: read it until both lines are there.
		eventually(t, 10*time.Second, fmt.Sprintf("the instance's start in the log for cold start %d", i), func() (bool, any) {
			for _, m := range logTime.FindAllStringSubmatch(s.Log(), -1)[before:] {
				at, _ := time.Parse(time.RFC3339Nano, m[1])
				if m[2] == "started" {
					started = at
				} else {
					healthy = at
				}
			}
			return !started.IsZero() && !healthy.IsZero(), nil
		})
		overheads = append(overheads, latency-healthy.Sub(started))
	}
	slices.Sort(overheads)
	t.Logf("cold-start overhead over %d cold starts: p50 %v, p99 (max) %v", len(overheads),
		overheads[len(overheads)/2].Round(time.Millisecond), overheads[len(overheads)-1].Round(time.Millisecond))
}

// TestAsyncThroughput measures the async queue with a no-op model: requests
// accepted per second, completed per second, and the time from enqueue to
// dispatch (TimeInBacklog).
func TestAsyncThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: measures the async queue")
	}
	s := startServer(t, t.TempDir())
	ctx := context.Background()
	s.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("async")})
	sm := s.SageMaker()
	asyncConfig(t, sm, "tput", "ebb example-model --work 0s", "")
	waitInService(t, sm, "tput")
	const n, clients = 400, 16
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				asyncInvoke(t, s, "tput", "1,2,3", 0)
			}
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
	s3c := s.S3()
	eventually(t, 2*time.Minute, "the queue drains", func() (bool, any) {
		list, _ := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("async"), Prefix: aws.String("out/")})
		return list != nil && aws.ToInt32(list.KeyCount) >= n, list
	})
	completed := time.Since(start)
	cw := s.cloudWatchClients()["cbor"]
	var backlog string
	// The per-second metrics arrive with the next flush: wait for all of them.
	eventually(t, 30*time.Second, "TimeInBacklog of every request", func() (bool, any) {
		now := time.Now()
		out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/SageMaker"), MetricName: aws.String("TimeInBacklog"),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("tput")}, {Name: aws.String("VariantName"), Value: aws.String("prod")}},
			StartTime:  aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour)), Period: aws.Int32(7200),
			Statistics: []cwtypes.Statistic{cwtypes.StatisticAverage, cwtypes.StatisticSampleCount}})
		if err == nil && len(out.Datapoints) > 0 && *out.Datapoints[0].SampleCount >= n {
			backlog = fmt.Sprintf("%.1f ms average", *out.Datapoints[0].Average)
			return true, nil
		}
		return false, fmt.Sprint(out, err)
	})
	t.Logf("async queue, %d requests from %d clients, no-op model, 1 instance x 2 concurrent: accepted %.0f/s, completed %.0f/s, enqueue to dispatch %s",
		n, clients, n/accepted.Seconds(), n/completed.Seconds(), backlog)
}
