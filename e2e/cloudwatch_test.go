package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// cloudWatchClients returns the Go SDK's CloudWatch client in its default
// protocol (Smithy RPC v2 CBOR) and forced to awsQuery and awsJson 1.0.
func (s *server) cloudWatchClients() map[string]*cloudwatch.Client {
	mk := func(p smithyhttp.ClientProtocol) *cloudwatch.Client {
		return cloudwatch.NewFromConfig(awsConfig("AKIDTEST", "secret"), func(o *cloudwatch.Options) {
			o.BaseEndpoint = aws.String(s.URL)
			if p != nil {
				o.Protocol = p
			}
		})
	}
	return map[string]*cloudwatch.Client{
		"cbor":     mk(nil),
		"awsquery": mk(awsquery.New(schemas.GraniteServiceVersion20100801)),
		"awsjson":  mk(awsjson.New10(schemas.GraniteServiceVersion20100801)),
	}
}

func TestCloudWatchMetricsAllProtocols(t *testing.T) {
	s := startServer(t, t.TempDir())
	ctx := context.Background()
	for proto, cw := range s.cloudWatchClients() {
		t.Run(proto, func(t *testing.T) {
			ns := "Test/" + proto
			dims := []types.Dimension{{Name: aws.String("Host"), Value: aws.String("a")}}
			at := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
			_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
				Namespace: aws.String(ns),
				MetricData: []types.MetricDatum{
					{MetricName: aws.String("Latency"), Dimensions: dims, Timestamp: aws.Time(at), Value: aws.Float64(10), Unit: types.StandardUnitMilliseconds},
					{MetricName: aws.String("Latency"), Dimensions: dims, Timestamp: aws.Time(at.Add(time.Second)), Values: []float64{20, 30}, Counts: []float64{1, 2}, Unit: types.StandardUnitMilliseconds},
					{MetricName: aws.String("Latency"), Dimensions: dims, Timestamp: aws.Time(at.Add(2 * time.Second)),
						StatisticValues: &types.StatisticSet{SampleCount: aws.Float64(2), Sum: aws.Float64(100), Minimum: aws.Float64(40), Maximum: aws.Float64(60)}, Unit: types.StandardUnitMilliseconds},
				},
			})
			if err != nil {
				t.Fatalf("PutMetricData: %v", err)
			}
			out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
				Namespace: aws.String(ns), MetricName: aws.String("Latency"), Dimensions: dims,
				StartTime: aws.Time(at), EndTime: aws.Time(at.Add(time.Minute)), Period: aws.Int32(60),
				Statistics: []types.Statistic{types.StatisticSum, types.StatisticSampleCount, types.StatisticAverage, types.StatisticMinimum, types.StatisticMaximum},
			})
			if err != nil {
				t.Fatalf("GetMetricStatistics: %v", err)
			}
			if len(out.Datapoints) != 1 {
				t.Fatalf("%d datapoints, want 1", len(out.Datapoints))
			}
			dp := out.Datapoints[0]
			if *dp.Sum != 190 || *dp.SampleCount != 6 || math.Abs(*dp.Average-190.0/6) > 1e-9 || *dp.Minimum != 10 || *dp.Maximum != 60 ||
				dp.Unit != types.StandardUnitMilliseconds || !dp.Timestamp.Equal(at) || aws.ToString(out.Label) != "Latency" {
				t.Fatalf("datapoint = %+v (sum %v count %v min %v max %v, unit %s, at %v)", dp, *dp.Sum, *dp.SampleCount, *dp.Minimum, *dp.Maximum, dp.Unit, dp.Timestamp)
			}
			ext, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
				Namespace: aws.String(ns), MetricName: aws.String("Latency"), Dimensions: dims,
				StartTime: aws.Time(at), EndTime: aws.Time(at.Add(time.Minute)), Period: aws.Int32(60),
				ExtendedStatistics: []string{"p50", "p99"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if p99 := ext.Datapoints[0].ExtendedStatistics["p99"]; math.Abs(p99-30) > 0.5 {
				t.Errorf("p99 = %v, want ~30 (statistic sets carry no distribution)", p99)
			}
			md, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
				StartTime: aws.Time(at), EndTime: aws.Time(at.Add(2 * time.Minute)),
				MetricDataQueries: []types.MetricDataQuery{
					{Id: aws.String("m1"), ReturnData: aws.Bool(false), MetricStat: &types.MetricStat{
						Metric: &types.Metric{Namespace: aws.String(ns), MetricName: aws.String("Latency"), Dimensions: dims},
						Period: aws.Int32(60), Stat: aws.String("Sum")}},
					{Id: aws.String("e1"), Expression: aws.String("IF(m1 > 100, m1 / 10, 0)"), Label: aws.String("tenth")},
				},
			})
			if err != nil {
				t.Fatalf("GetMetricData: %v", err)
			}
			if len(md.MetricDataResults) != 1 {
				t.Fatalf("GetMetricData results = %+v", md.MetricDataResults)
			}
			r := md.MetricDataResults[0]
			if aws.ToString(r.Id) != "e1" || aws.ToString(r.Label) != "tenth" || len(r.Values) != 1 || r.Values[0] != 19 || !r.Timestamps[0].Equal(at) || r.StatusCode != types.StatusCodeComplete {
				t.Fatalf("e1 = %+v", r)
			}
			_, err = cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
				StartTime: aws.Time(at), EndTime: aws.Time(at.Add(time.Minute)),
				MetricDataQueries: []types.MetricDataQuery{{Id: aws.String("e1"), Expression: aws.String("m9 +"), Period: aws.Int32(60)}},
			})
			expectCode(t, err, "ValidationError")

			list, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String(ns)})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Metrics) != 1 || aws.ToString(list.Metrics[0].MetricName) != "Latency" || aws.ToString(list.Metrics[0].Dimensions[0].Value) != "a" {
				t.Fatalf("ListMetrics = %+v", list.Metrics)
			}

			// Errors, with the query-compatible codes.
			_, err = cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/Mine"), MetricData: []types.MetricDatum{{MetricName: aws.String("x"), Value: aws.Float64(1)}}})
			expectCode(t, err, "InvalidParameterValue")
			_, err = cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns), MetricData: []types.MetricDatum{{MetricName: aws.String("x"), Value: aws.Float64(1), Values: []float64{1}}}})
			expectCode(t, err, "InvalidParameterCombination")
			_, err = cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
				Namespace: aws.String(ns), MetricName: aws.String("Latency"), StartTime: aws.Time(at), EndTime: aws.Time(at.Add(time.Minute)),
				Period: aws.Int32(7), Statistics: []types.Statistic{types.StatisticSum},
			})
			expectCode(t, err, "InvalidParameterValue")
			_, err = cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
				Namespace: aws.String(ns), MetricName: aws.String("Latency"), StartTime: aws.Time(at.Add(-48 * time.Hour)), EndTime: aws.Time(at),
				Period: aws.Int32(60), Statistics: []types.Statistic{types.StatisticSum},
			})
			expectCode(t, err, "InvalidParameterCombination")
			_, err = cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns), MetricData: []types.MetricDatum{{MetricName: aws.String(strings.Repeat("m", 300)), Value: aws.Float64(1)}}})
			expectCode(t, err, "ValidationError")
		})
	}
}

// expectCode checks an error's query code. Over awsQuery the XML carries
// the code (InvalidParameterValue) and the Go SDK reports the modelled shape
// it maps to (InvalidParameterValueException, ValidationException); both are
// accepted.
func expectCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if !sameCode(ae.ErrorCode(), code) {
		t.Fatalf("got %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
}

// TestEndpointMetrics sends known traffic to an endpoint and reads back the
// metrics SageMaker would publish for it.
func TestEndpointMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: waits for CPU samples")
	}
	// Ten times faster: the emitter samples CPU every 10 scaled seconds.
	s := startServer(t, t.TempDir(), "--time-scale", "10")
	sm, rt := s.SageMaker(), s.Runtime()
	deploy(t, sm, "metered", "ebb example-model --work-ms 5", 1)
	waitInService(t, sm, "metered")
	const n = 60
	for range n {
		invoke(t, rt, "metered", "1,2,3")
	}
	_, err := rt.InvokeEndpoint(context.Background(), &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("metered"), Body: []byte("x,y"), ContentType: aws.String("text/csv")})
	if err == nil {
		t.Fatal("bad input did not fail")
	}
	cw := s.cloudWatchClients()["cbor"]
	dims := []types.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("metered")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}}
	stat := func(ns, name string, st types.Statistic) (float64, bool) {
		// Scaled time runs ahead of the wall clock: ask for a wide window.
		now := time.Now()
		out, err := cw.GetMetricStatistics(context.Background(), &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String(ns), MetricName: aws.String(name), Dimensions: dims,
			StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(23 * time.Hour)), Period: aws.Int32(86400),
			Statistics: []types.Statistic{types.StatisticSum, types.StatisticSampleCount},
		})
		if err != nil {
			t.Fatal(err)
		}
		var sum, count float64
		for _, dp := range out.Datapoints {
			sum += *dp.Sum
			count += *dp.SampleCount
		}
		if st == types.StatisticSampleCount {
			return count, count > 0
		}
		return sum, count > 0
	}
	eventually(t, time.Minute, "the invocations and CPU metrics arrive", func() (bool, any) {
		inv, _ := stat("AWS/SageMaker", "Invocations", types.StatisticSum)
		_, cpu := stat("/aws/sagemaker/Endpoints", "CPUUtilization", types.StatisticSum)
		return inv >= n+1 && cpu, fmt.Sprintf("%v invocations, CPU seen %v", inv, cpu)
	})
	if inv, _ := stat("AWS/SageMaker", "Invocations", types.StatisticSum); inv != n+1 {
		t.Errorf("Invocations = %v, want %d", inv, n+1)
	}
	if per, _ := stat("AWS/SageMaker", "InvocationsPerInstance", types.StatisticSum); per != n+1 {
		t.Errorf("InvocationsPerInstance = %v, want %d (one instance)", per, n+1)
	}
	if e4, _ := stat("AWS/SageMaker", "Invocation4XXErrors", types.StatisticSum); e4 != 1 {
		t.Errorf("Invocation4XXErrors = %v, want 1", e4)
	}
	// The same traffic, scraped the Prometheus way.
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`ebb_invocations_total{endpoint="metered",variant="AllTraffic"} 61`,
		`ebb_invocation_errors_total{endpoint="metered",kind="4xx",variant="AllTraffic"} 1`,
		`ebb_model_latency_seconds_count{endpoint="metered",variant="AllTraffic"} 61`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	latSum, _ := stat("AWS/SageMaker", "ModelLatency", types.StatisticSum)
	latCount, _ := stat("AWS/SageMaker", "ModelLatency", types.StatisticSampleCount)
	// The model's 5 ms of work is calibrated when it starts, so on a busy
	// machine it can be less; microseconds, not milliseconds, is the check.
	if avg := latSum / latCount; latCount != n+1 || avg < 500 || avg > 500000 {
		t.Errorf("ModelLatency: %v samples averaging %v µs; want %d, in microseconds of a 5 ms model", latCount, avg, n+1)
	}
}

// sameCode compares error codes across protocols: awsQuery reports the
// query code (InvalidParameterValue), the JSON protocols the shape's name
// (InvalidParameterValueException).
func sameCode(a, b string) bool {
	norm := func(c string) string { return strings.TrimSuffix(strings.TrimSuffix(c, "Exception"), "Error") }
	return a == b || norm(a) == norm(b)
}
