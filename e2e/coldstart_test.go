package e2e

import (
	"context"
	"errors"
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
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/smithy-go"
)

// scaleToZero deploys an endpoint, registers it with MinCapacity 0 and
// takes it to zero instances.
func scaleToZero(t *testing.T, s *server, name, image string) {
	t.Helper()
	sm, as := s.SageMaker(), s.AutoScaling()
	ctx := context.Background()
	deploy(t, sm, name, image, 1)
	waitInService(t, sm, name)
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
		ResourceId: aws.String("endpoint/" + name + "/variant/AllTraffic"), ScalableDimension: variantDim, MinCapacity: aws.Int32(0), MaxCapacity: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.UpdateEndpointWeightsAndCapacities(ctx, &sagemaker.UpdateEndpointWeightsAndCapacitiesInput{EndpointName: aws.String(name),
		DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{{VariantName: aws.String("AllTraffic"), DesiredInstanceCount: aws.Int32(0)}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sm, name, "zero instances", func(o *sagemaker.DescribeEndpointOutput) bool {
		return o.EndpointStatus == "InService" && *variantOf(o).CurrentInstanceCount == 0 && len(s.instances()) == 0
	})
}

// burst sends n concurrent invocations and returns their errors.
func burst(s *server, name string, n int) []error {
	rt := s.Runtime()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = rt.InvokeEndpoint(context.Background(), invocation(name))
		}()
	}
	wg.Wait()
	return errs
}

// TestColdStartFromZero is ebb's buffered scale from zero for real-time
// endpoints: requests that find no instance wait while one starts, and are
// all served; beyond the buffer they get ServiceUnavailable.
func TestColdStartFromZero(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: starts instances from zero")
	}
	s := startServer(t, t.TempDir(), "--cold-start-buffer", "4")
	scaleToZero(t, s, "cold", "ebb example-model --startup-delay 1s")
	errs := burst(s, "cold", 7)
	ok, full := 0, 0
	for _, err := range errs {
		var ae smithy.APIError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &ae) && ae.ErrorCode() == "ServiceUnavailable" && strings.Contains(ae.ErrorMessage(), "retry with backoff"):
			full++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 4 || full != 3 {
		t.Fatalf("%d served and %d refused; want the 4 the buffer holds served and 3 refused", ok, full)
	}
	out, _ := s.SageMaker().DescribeEndpoint(context.Background(), describe("cold"))
	if *variantOf(out).DesiredInstanceCount != 1 {
		t.Fatalf("desired %d after the cold start, want 1", *variantOf(out).DesiredInstanceCount)
	}
	acts, _ := s.AutoScaling().DescribeScalingActivities(context.Background(), &aas.DescribeScalingActivitiesInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker})
	if len(acts.ScalingActivities) == 0 || !strings.Contains(aws.ToString(acts.ScalingActivities[0].Cause), "ebb cold start") {
		t.Fatalf("no cold-start activity: %+v", acts.ScalingActivities)
	}
	// The cold start is published phase by phase.
	cw := s.cloudWatchClients()["cbor"]
	for _, name := range []string{"ColdStartDecisionTime", "ColdStartWaitTime", "ColdStartFirstResponseTime", "InstanceStartupTime"} {
		eventually(t, 30*time.Second, "the "+name+" metric", func() (bool, any) {
			now := time.Now()
			out, err := cw.GetMetricStatistics(context.Background(), &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("ebb/ColdStart"), MetricName: aws.String(name),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("cold")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}},
				StartTime:  aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour)), Period: aws.Int32(7200), Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum}})
			if err != nil || len(out.Datapoints) == 0 {
				return false, err
			}
			t.Logf("%s: max %.0f ms", name, *out.Datapoints[0].Maximum)
			return true, nil
		})
	}

	// With an instance up, requests flow as usual.
	for _, err := range burst(s, "cold", 8) {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestColdStartTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: starts instances from zero")
	}
	s := startServer(t, t.TempDir(), "--cold-start-timeout", "300ms")
	scaleToZero(t, s, "slow", "ebb example-model --startup-delay 3s")
	for _, err := range burst(s, "slow", 2) {
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" || !strings.Contains(ae.ErrorMessage(), "did not get an instance in time") {
			t.Fatalf("got %v, want ServiceUnavailable for the timeout", err)
		}
	}
	// A variant that is not a scalable target does not start from zero.
	sm := s.SageMaker()
	deploy(t, sm, "manual", model, 1)
	waitInService(t, sm, "manual")
	sm.UpdateEndpointWeightsAndCapacities(context.Background(), &sagemaker.UpdateEndpointWeightsAndCapacitiesInput{EndpointName: aws.String("manual"),
		DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{{VariantName: aws.String("AllTraffic"), DesiredInstanceCount: aws.Int32(0)}}})
	waitFor(t, sm, "manual", "zero", func(o *sagemaker.DescribeEndpointOutput) bool {
		return o.EndpointStatus == "InService" && *variantOf(o).CurrentInstanceCount == 0
	})
	_, err := s.Runtime().InvokeEndpoint(context.Background(), invocation("manual"))
	expectAPIError(t, err, "ValidationError", "")
}
