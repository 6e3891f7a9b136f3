package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

func asyncInvoke(t *testing.T, s *server, endpoint, body string, ttl int32) string {
	t.Helper()
	in := &sagemakerruntime.InvokeEndpointAsyncInput{EndpointName: aws.String(endpoint), Body: []byte(body), ContentType: aws.String("text/csv")}
	if ttl > 0 {
		in.RequestTTLSeconds = aws.Int32(ttl)
	}
	out, err := s.Runtime().InvokeEndpointAsync(context.Background(), in)
	if err != nil {
		t.Fatalf("InvokeEndpointAsync: %v", err)
	}
	return aws.ToString(out.InferenceId)
}

func setCapacity(t testing.TB, sm *sagemaker.Client, endpoint, variant string, n int32) {
	t.Helper()
	if _, err := sm.UpdateEndpointWeightsAndCapacities(context.Background(), &sagemaker.UpdateEndpointWeightsAndCapacitiesInput{EndpointName: aws.String(endpoint),
		DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{{VariantName: aws.String(variant), DesiredInstanceCount: aws.Int32(n)}}}); err != nil {
		t.Fatal(err)
	}
}

// TestAsyncCrashSafety sends a burst, kills the server mid-backlog and
// restarts it: every accepted request ends with an output (or a failure).
func TestAsyncCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: restarts the server")
	}
	dir := t.TempDir()
	s := startServer(t, dir)
	ctx := context.Background()
	s.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("async")})
	sm := s.SageMaker()
	asyncConfig(t, sm, "burst", "ebb example-model --work-ms 40", "")
	waitInService(t, sm, "burst")
	var ids []string
	for i := range 40 {
		ids = append(ids, asyncInvoke(t, s, "burst", fmt.Sprintf("%d,1,2", i), 0))
	}
	waitObject(t, s, "out/"+ids[0]+".out") // some done, most still queued
	s.Crash()

	s2 := startServer(t, dir)
	eventually(t, time.Minute, "every accepted request has an output or a failure after the restart", func() (bool, any) {
		var missing []string
		for _, id := range ids {
			_, okOut := readObject(t, s2, "out/"+id+".out")
			_, okFail := readObject(t, s2, "fail/"+id+"-error.out")
			if !okOut && !okFail {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d of %d missing", len(missing), len(ids))
	})
}

// TestAsyncBacklogMetricsAndTTL checks the backlog metrics against what was
// queued, and that a request past its TTL fails with a failure output.
func TestAsyncBacklogMetricsAndTTL(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	s := startServer(t, t.TempDir(), "--time-scale", "60")
	ctx := context.Background()
	s.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("async")})
	sm := s.SageMaker()
	asyncConfig(t, sm, "queue", "ebb example-model --work-ms 1", "")
	waitInService(t, sm, "queue")
	setCapacity(t, sm, "queue", "prod", 0)
	waitFor(t, sm, "queue", "zero", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).CurrentInstanceCount == 0 && o.EndpointStatus == "InService"
	})

	// An inline request with the shortest TTL expires while nothing serves it.
	expired := asyncInvoke(t, s, "queue", "1,2", 60)
	if body := waitObject(t, s, "fail/"+expired+"-error.out"); !strings.Contains(body, "expired") {
		t.Fatalf("failure output %q", body)
	}
	const n = 7
	for i := range n {
		asyncInvoke(t, s, "queue", fmt.Sprintf("%d", i), 0)
	}
	cw := s.cloudWatchClients()["cbor"]
	dims := []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("queue")}}
	max := func(name string) float64 {
		now := time.Now()
		out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/SageMaker"), MetricName: aws.String(name), Dimensions: dims,
			StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(47 * time.Hour)), Period: aws.Int32(86400), Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum}})
		if err != nil || len(out.Datapoints) == 0 {
			return -1
		}
		m := 0.0
		for _, dp := range out.Datapoints {
			m = max(m, *dp.Maximum)
		}
		return m
	}
	eventually(t, time.Minute, "the whole backlog in ApproximateBacklogSize", func() (bool, any) {
		m := max("ApproximateBacklogSize")
		return m >= n, m
	})
	if got := max("ApproximateBacklogSize"); got != n {
		t.Errorf("ApproximateBacklogSize max = %v, want %d", got, n)
	}
	if got := max("HasBacklogWithoutCapacity"); got != 1 {
		t.Errorf("HasBacklogWithoutCapacity max = %v, want 1", got)
	}
	// Capacity returns: the backlog drains.
	setCapacity(t, sm, "queue", "prod", 1)
	s3c := s.S3()
	eventually(t, time.Minute, "every output", func() (bool, any) {
		list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("async"), Prefix: aws.String("out/")})
		if err != nil {
			return false, err
		}
		return len(list.Contents) == n, len(list.Contents)
	})
	// The S3 subset: head, delete.
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("async"), Key: aws.String("fail/" + expired + "-error.out")}); err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if _, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("async"), Key: aws.String("fail/" + expired + "-error.out")}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if _, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("async"), Key: aws.String("fail/" + expired + "-error.out")}); err == nil {
		t.Fatal("object still there after DeleteObject")
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nope"), Key: aws.String("x"), Body: bytes.NewReader([]byte("x"))}); err == nil {
		t.Fatal("PutObject into a bucket that does not exist succeeded")
	}
	// An endpoint without AsyncInferenceConfig refuses async invocations.
	deploy(t, sm, "sync", model, 1)
	_, err := s.Runtime().InvokeEndpointAsync(ctx, &sagemakerruntime.InvokeEndpointAsyncInput{EndpointName: aws.String("sync"), Body: []byte("1")})
	expectAPIError(t, err, "ValidationError", "")
}

// TestAsyncExternalS3 keeps payloads in an external S3-compatible store
// (here another ebb) with --s3-endpoint.
func TestAsyncExternalS3(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: two servers")
	}
	store := startServer(t, t.TempDir())
	ctx := context.Background()
	if _, err := store.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("async")}); err != nil {
		t.Fatal(err)
	}
	store.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("async"), Key: aws.String("in/x.csv"), Body: bytes.NewReader([]byte("1,2"))})
	// ebb signs its requests to the store with these keys; the store, like
	// any ebb, refuses unsigned ones.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	s := startServer(t, t.TempDir(), "--s3-endpoint", store.URL)
	asyncConfig(t, s.SageMaker(), "ext", "ebb example-model --work 0s", "")
	waitInService(t, s.SageMaker(), "ext")
	out, err := s.Runtime().InvokeEndpointAsync(ctx, &sagemakerruntime.InvokeEndpointAsyncInput{EndpointName: aws.String("ext"),
		InputLocation: aws.String("s3://async/in/x.csv"), ContentType: aws.String("text/csv")})
	if err != nil {
		t.Fatal(err)
	}
	if body := waitObject(t, store, "out/"+aws.ToString(out.InferenceId)+".out"); !strings.Contains(body, "predictions") && !strings.Contains(body, ".") {
		t.Fatalf("output %q", body)
	}
}
