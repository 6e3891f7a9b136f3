package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/sagemakerruntime/types"
)

// llmModel creates a model of the LLM-like example engine that asks ebb to
// read its metrics, and an endpoint config of one ml.m5.large.
func llmModel(t testing.TB, sm *sagemaker.Client, name, image string) {
	t.Helper()
	ctx := context.Background()
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String(name), ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/ebb"),
		PrimaryContainer: &smtypes.ContainerDefinition{Image: aws.String(image), Environment: map[string]string{"EBB_METRICS_PATH": "/metrics"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String(name),
		ProductionVariants: []smtypes.ProductionVariant{{VariantName: aws.String("AllTraffic"), ModelName: aws.String(name),
			InstanceType: smtypes.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(1)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String(name), EndpointConfigName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

// queueDepthPolicy targets the model server's waiting requests per
// instance, through metric math over what ebb publishes in ebb/ModelServer.
func queueDepthPolicy(endpoint string, target float64) *aastypes.TargetTrackingScalingPolicyConfiguration {
	return &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(target), ScaleOutCooldown: aws.Int32(60), ScaleInCooldown: aws.Int32(300),
		CustomizedMetricSpecification: &aastypes.CustomizedMetricSpecification{Metrics: []aastypes.TargetTrackingMetricDataQuery{
			queueMetric(endpoint, "waiting", "vllm:num_requests_waiting"), queueMetric(endpoint, "instances", "ScrapedTargets"),
			{Id: aws.String("per_instance"), Expression: aws.String("waiting / instances"), Label: aws.String("waiting requests per instance"), ReturnData: aws.Bool(true)}}}}
}

// queueMetric is one of ebb/ModelServer's series of a variant, averaged.
func queueMetric(endpoint, id, metric string) aastypes.TargetTrackingMetricDataQuery {
	dims := []aastypes.TargetTrackingMetricDimension{{Name: aws.String("EndpointName"), Value: aws.String(endpoint)}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}}
	return aastypes.TargetTrackingMetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(false), MetricStat: &aastypes.TargetTrackingMetricStat{Stat: aws.String("Average"),
		Metric: &aastypes.TargetTrackingMetric{Namespace: aws.String("ebb/ModelServer"), MetricName: aws.String(metric), Dimensions: dims}}}
}

// generate sends one long generation, streamed when stream is set, and
// returns the time to its first token.
func generate(ctx context.Context, rt *sagemakerruntime.Client, endpoint string, tokens int, stream bool) (time.Duration, error) {
	body := []byte(fmt.Sprintf(`{"inputs": "tell me a long story", "parameters": {"max_new_tokens": %d}}`, tokens))
	start := time.Now()
	if !stream {
		_, err := rt.InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String(endpoint), Body: body, ContentType: aws.String("application/json")})
		return time.Since(start), err
	}
	out, err := rt.InvokeEndpointWithResponseStream(ctx, &sagemakerruntime.InvokeEndpointWithResponseStreamInput{EndpointName: aws.String(endpoint), Body: body,
		ContentType: aws.String("application/json"), Accept: aws.String("text/event-stream")})
	if err != nil {
		return 0, err
	}
	s := out.GetStream()
	defer s.Close()
	var first time.Duration
	for ev := range s.Events() {
		if p, ok := ev.(*rttypes.ResponseStreamMemberPayloadPart); ok && first == 0 && strings.Contains(string(p.Value.Bytes), "data: ") {
			first = time.Since(start)
		}
	}
	return first, s.Err()
}

// TestModelServerMetrics: an LLM-like engine's own metrics (vLLM's names)
// reach CloudWatch, per instance and per variant, and a target-tracking
// policy on waiting requests per instance (metric math, through the Go
// SDK unchanged) scales the endpoint out under a burst of long
// generations. A wrong Environment key is refused by name.
func TestModelServerMetrics(t *testing.T) {
	s := startServer(t, t.TempDir(), "--time-scale", "30")
	sm, rt, as, cw := s.SageMaker(), s.Runtime(), s.AutoScaling(), s.cloudWatchClients()["cbor"]
	ctx := context.Background()
	_, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("bad"), ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/ebb"),
		PrimaryContainer: &smtypes.ContainerDefinition{Image: aws.String("ebb example-model --llm"), Environment: map[string]string{"EBB_METRICS_PATH": "metrics"}}})
	expectAPIError(t, err, "ValidationException", `Environment EBB_METRICS_PATH "metrics": want a path such as /metrics.`)

	// Two requests run at once, 20 ms a token: 300 tokens are 6 s (three
	// minutes at --time-scale 30).
	llmModel(t, sm, "chat", "ebb example-model --llm --max-batch 2 --time-per-token 20ms")
	waitInService(t, sm, "chat")
	id := aws.String("endpoint/chat/variant/AllTraffic")
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id,
		ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("queue-depth"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
		ResourceId: id, ScalableDimension: variantDim, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: queueDepthPolicy("chat", 1)}); err != nil {
		t.Fatal(err)
	}

	// The burst: eight long generations at once, two of them streamed, and
	// more as they end, until the endpoint has scaled out.
	burst, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	var firsts []time.Duration
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for burst.Err() == nil {
				first, err := generate(burst, rt, "chat", 300, i < 2)
				mu.Lock()
				if err != nil && burst.Err() == nil {
					failed = err
				} else if err == nil && i < 2 {
					firsts = append(firsts, first)
				}
				mu.Unlock()
			}
		}()
	}
	dims := []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("chat")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}}
	eventually(t, 90*time.Second, "waiting requests in CloudWatch", func() (bool, any) {
		out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("ebb/ModelServer"), MetricName: aws.String("vllm:num_requests_waiting"),
			Dimensions: dims, StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(23 * time.Hour)), Period: aws.Int32(60), // on the scaled clock
			Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum}})
		if err != nil {
			return false, err
		}
		most := 0.0
		for _, d := range out.Datapoints {
			most = max(most, aws.ToFloat64(d.Maximum))
		}
		return most >= 4, most // eight requests, two running
	})
	eventually(t, 120*time.Second, "the scale-out on waiting requests per instance", func() (bool, any) {
		acts, err := as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id, ScalableDimension: variantDim})
		if err != nil {
			return false, err
		}
		for _, a := range acts.ScalingActivities {
			if strings.Contains(aws.ToString(a.Cause), "AlarmHigh") && strings.Contains(aws.ToString(a.Description), "Setting desired instance count to") {
				return true, aws.ToString(a.Description)
			}
		}
		return false, len(acts.ScalingActivities)
	})
	// The console draws the engine's queue and KV cache.
	eventually(t, 30*time.Second, "the console's model server charts", func() (bool, any) {
		resp, err := http.Get(s.URL + "/console/endpoints/chat/live?once=1&range=1h")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		var snap struct {
			Charts []struct {
				ID     string
				Series []struct {
					Label  string
					Values []*float64
				}
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
			return false, err
		}
		seen := map[string]bool{}
		for _, c := range snap.Charts {
			for _, sr := range c.Series {
				for _, v := range sr.Values {
					if v != nil && *v > 0 {
						seen[c.ID+"/"+sr.Label] = true
					}
				}
			}
		}
		return seen["model-server/waiting"] && seen["model-server/running"] && seen["kv-cache/fullest instance"], seen
	})
	eventually(t, 60*time.Second, "streamed generations to end", func() (bool, any) {
		mu.Lock()
		defer mu.Unlock()
		return len(firsts) >= 2, len(firsts)
	})
	stop()
	wg.Wait()
	if failed != nil {
		t.Fatalf("a generation failed: %v", failed)
	}
	// Per instance too, with its InstanceId.
	lm, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("ebb/ModelServer"), MetricName: aws.String("vllm:kv_cache_usage_perc")})
	if err != nil {
		t.Fatal(err)
	}
	perInstance := false
	for _, m := range lm.Metrics {
		for _, d := range m.Dimensions {
			perInstance = perInstance || aws.ToString(d.Name) == "InstanceId"
		}
	}
	if !perInstance {
		t.Fatalf("no per-instance series: %+v", lm.Metrics)
	}
	t.Logf("streamed generations' time to first token: %v", firsts)
}

// TestModelServerMetricsEveryRuntime: ebb reads the engine's metrics where
// each runtime serves it (a container's mapped port, a pod's address).
func TestModelServerMetricsEveryRuntime(t *testing.T) {
	for name, image := range map[string]string{"docker": dockerModelLLM, "kubernetes": kubeModelLLM} {
		t.Run(name, func(t *testing.T) {
			s := everyRuntime[name](t, t.TempDir(), "--time-scale", "30")
			sm, rt, cw := s.SageMaker(), s.Runtime(), s.cloudWatchClients()["cbor"]
			ctx := context.Background()
			llmModel(t, sm, "chat", image)
			waitInService(t, sm, "chat")
			if _, err := generate(ctx, rt, "chat", 5, true); err != nil {
				t.Fatal(err)
			}
			eventually(t, 60*time.Second, "the engine's metrics, per instance", func() (bool, any) {
				out, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("ebb/ModelServer"), MetricName: aws.String("vllm:generation_tokens_total")})
				if err != nil {
					return false, err
				}
				for _, m := range out.Metrics {
					for _, d := range m.Dimensions {
						if aws.ToString(d.Name) == "InstanceId" {
							return true, m
						}
					}
				}
				return false, out.Metrics
			})
		})
	}
}
