package e2e

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/aws/smithy-go"
)

// deployServerless creates endpoint name of one serverless variant of
// model, 1024 MB, at most maxConcurrency invocations at once.
func deployServerless(t testing.TB, sm *sagemaker.Client, name, model string, maxConcurrency int32) {
	t.Helper()
	ctx := context.Background()
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String(name), ProductionVariants: []types.ProductionVariant{{
		VariantName: aws.String("AllTraffic"), ModelName: aws.String(model),
		ServerlessConfig: &types.ProductionVariantServerlessConfig{MemorySizeInMB: aws.Int32(1024), MaxConcurrency: aws.Int32(maxConcurrency)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String(name), EndpointConfigName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

// TestServerlessOnEveryRuntime: a serverless variant (MaxConcurrency 2)
// on every runtime has no environment until invoked; the first invocation
// waits for one and succeeds, and ModelSetupTime is published; a burst
// beyond MaxConcurrency is throttled (ThrottlingException) while the
// admitted invocations succeed, on no more than two environments; idle,
// the variant goes back to none; given provisioned concurrency in place
// (ServerlessUpdateConfig), it keeps that many warm.
func TestServerlessOnEveryRuntime(t *testing.T) {
	for name, image := range map[string]string{"process": "ebb example-model --work-ms 20", "docker": dockerModelCPU, "kubernetes": kubeModelCPU} {
		t.Run(name, func(t *testing.T) {
			rs := everyRuntime[name](t, t.TempDir(), "--serverless-idle", "3s")
			sm, rt := rs.SageMaker(), rs.Runtime()
			ctx := context.Background()
			if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("sl"), PrimaryContainer: &types.ContainerDefinition{Image: aws.String(image)}}); err != nil {
				t.Fatal(err)
			}
			deployServerless(t, sm, "sl", "sl", 2)
			v := waitInService(t, sm, "sl").ProductionVariants[0]
			if c := v.CurrentServerlessConfig; c == nil || aws.ToInt32(c.MaxConcurrency) != 2 || aws.ToInt32(c.MemorySizeInMB) != 1024 || v.DesiredInstanceCount != nil {
				t.Fatalf("variant %+v, want its serverless configuration and no instance counts", v)
			}
			if n := len(rs.running()); n != 0 {
				t.Fatalf("%d environments before any invocation, want none", n)
			}
			// It has no instance count to set or scale.
			_, err := sm.UpdateEndpointWeightsAndCapacities(ctx, &sagemaker.UpdateEndpointWeightsAndCapacitiesInput{EndpointName: aws.String("sl"),
				DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{{VariantName: aws.String("AllTraffic"), DesiredInstanceCount: aws.Int32(2)}}})
			expectAPIError(t, err, "ValidationException", `The variant "AllTraffic" of endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/sl" is serverless: its environments follow its invocations, and it has no DesiredInstanceCount to set.`)
			_, err = rs.AutoScaling().RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker,
				ResourceId: aws.String("endpoint/sl/variant/AllTraffic"), ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(2)})
			expectAPIError(t, err, "ValidationException", "The variant AllTraffic of endpoint sl is serverless: it has no instance count to scale: register sagemaker:variant:DesiredProvisionedConcurrency, its provisioned concurrency, instead.")

			// From zero: the invocation waits for an environment.
			if _, err := rt.InvokeEndpoint(ctx, invocation("sl")); err != nil {
				t.Fatalf("the first invocation: %v", err)
			}
			eventually(t, 30*time.Second, "ModelSetupTime", func() (bool, any) {
				out, err := rs.cloudWatchClients()["cbor"].GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/SageMaker"),
					MetricName: aws.String("ModelSetupTime"), Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("sl")},
						{Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}},
					StartTime: aws.Time(time.Now().Add(-10 * time.Minute)), EndTime: aws.Time(time.Now().Add(time.Minute)), Period: aws.Int32(3600),
					Statistics: []cwtypes.Statistic{cwtypes.StatisticSampleCount}})
				return err == nil && len(out.Datapoints) == 1, out
			})

			// A burst of six: two are served, the others throttled; no
			// retries, to see each answer.
			once := sagemakerruntime.NewFromConfig(awsConfig("AKIDTEST", "secret"), func(o *sagemakerruntime.Options) {
				o.BaseEndpoint, o.RetryMaxAttempts = aws.String(rs.URL), 1
			})
			var wg sync.WaitGroup
			var mu sync.Mutex
			outcomes := map[string]int{}
			start := make(chan struct{})
			for range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, err := once.InvokeEndpoint(ctx, invocation("sl"))
					outcome := "ok"
					var ae smithy.APIError
					if errors.As(err, &ae) {
						outcome = ae.ErrorCode()
					} else if err != nil {
						outcome = err.Error()
					}
					mu.Lock()
					outcomes[outcome]++
					mu.Unlock()
				}()
			}
			close(start)
			wg.Wait()
			if outcomes["ok"] < 2 || outcomes["ok"]+outcomes["ThrottlingException"] != 6 || outcomes["ThrottlingException"] == 0 {
				t.Fatalf("a burst of 6 at MaxConcurrency 2: %v; want some throttled, the others served, nothing else", outcomes)
			}
			if n := len(rs.running()); n > 2 {
				t.Fatalf("%d environments, want at most MaxConcurrency (2)", n)
			}
			// Environments coming and going are not instances being
			// created, replaced or deleted.
			out, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("sl")})
			if err != nil {
				t.Fatal(err)
			}
			if st := out.ProductionVariants[0].VariantStatus; len(st) != 0 {
				t.Fatalf("VariantStatus %+v, want none", st)
			}

			// Idle: back to none.
			eventually(t, time.Minute, "no environment once idle", func() (bool, any) {
				n := len(rs.running())
				return n == 0, fmt.Sprint(n, " environments")
			})

			// Provisioned concurrency, set in place: that many stay warm.
			if _, err := sm.UpdateEndpointWeightsAndCapacities(ctx, &sagemaker.UpdateEndpointWeightsAndCapacitiesInput{EndpointName: aws.String("sl"),
				DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{{VariantName: aws.String("AllTraffic"),
					ServerlessUpdateConfig: &types.ProductionVariantServerlessUpdateConfig{ProvisionedConcurrency: aws.Int32(1)}}}}); err != nil {
				t.Fatal(err)
			}
			if cur, _ := provisioned(waitInService(t, sm, "sl")); cur != 1 {
				t.Fatalf("provisioned concurrency %d after the update, want 1", cur)
			}
			if n := len(rs.running()); n != 1 {
				t.Fatalf("%d environments with provisioned concurrency 1, want 1", n)
			}
			if _, err := rt.InvokeEndpoint(ctx, invocation("sl")); err != nil {
				t.Fatalf("an invocation on provisioned concurrency: %v", err)
			}
		})
	}
}
