// Command gosdk is the blog's main flow with the AWS SDK for Go v2 against
// ebb: deploy the example model, register the variant as a scalable target,
// attach the InvocationsPerInstance target tracking policy, and read the
// policy and its CloudWatch alarms back (CloudWatch over RPC v2 CBOR, as
// this SDK speaks it).
//
//	EBB_ENDPOINT_URL=http://127.0.0.1:8080 go run ./examples/gosdk
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "FAILED", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	url := os.Getenv("EBB_ENDPOINT_URL")
	if url == "" {
		url = "http://127.0.0.1:8080"
	}
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", ""),
		BaseEndpoint: aws.String(url),
	}
	sm, scaling, cw := sagemaker.NewFromConfig(cfg), aas.NewFromConfig(cfg), cloudwatch.NewFromConfig(cfg)

	name := "go-sdk-example"
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{
		ModelName:        aws.String(name),
		PrimaryContainer: &smtypes.ContainerDefinition{Image: aws.String("ebb example-model --work-ms 1")},
		ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/ebb-example"),
	}); err != nil {
		return err
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{
		EndpointConfigName: aws.String(name),
		ProductionVariants: []smtypes.ProductionVariant{{
			VariantName: aws.String("AllTraffic"), ModelName: aws.String(name),
			InstanceType: smtypes.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(1),
		}},
	}); err != nil {
		return err
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String(name), EndpointConfigName: aws.String(name)}); err != nil {
		return err
	}
	waiter := sagemaker.NewEndpointInServiceWaiter(sm, func(o *sagemaker.EndpointInServiceWaiterOptions) { o.MinDelay = time.Second })
	if err := waiter.Wait(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String(name)}, 2*time.Minute); err != nil {
		return err
	}

	resourceID := "endpoint/" + name + "/variant/AllTraffic"
	if _, err := scaling.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
		ServiceNamespace:  aastypes.ServiceNamespaceSagemaker,
		ResourceId:        aws.String(resourceID),
		ScalableDimension: aastypes.ScalableDimensionSageMakerVariantDesiredInstanceCount,
		MinCapacity:       aws.Int32(1),
		MaxCapacity:       aws.Int32(2),
	}); err != nil {
		return err
	}
	policy, err := scaling.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{
		PolicyName:        aws.String("Invocations-ScalingPolicy"),
		ServiceNamespace:  aastypes.ServiceNamespaceSagemaker,
		ResourceId:        aws.String(resourceID),
		ScalableDimension: aastypes.ScalableDimensionSageMakerVariantDesiredInstanceCount,
		PolicyType:        aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{
			TargetValue: aws.Float64(10),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{
				PredefinedMetricType: aastypes.MetricTypeSageMakerVariantInvocationsPerInstance,
			},
			ScaleInCooldown:  aws.Int32(600),
			ScaleOutCooldown: aws.Int32(300),
		},
	})
	if err != nil {
		return err
	}
	fmt.Println("policy", aws.ToString(policy.PolicyARN))

	alarms, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("TargetTracking-" + resourceID)})
	if err != nil {
		return err
	}
	if len(alarms.MetricAlarms) != 2 {
		return fmt.Errorf("want the policy's 2 alarms in CloudWatch, found %d", len(alarms.MetricAlarms))
	}
	for _, a := range alarms.MetricAlarms {
		fmt.Printf("ok     alarm %s (%s)\n", aws.ToString(a.AlarmName), a.StateValue)
	}
	return nil
}
