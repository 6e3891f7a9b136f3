package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
)

// TestPartitionFollowsRegion: in a China region every ARN ebb returns is in
// the aws-cn partition (endpoint, scalable target, policy, its alarms, the
// service-linked role).
func TestPartitionFollowsRegion(t *testing.T) {
	s := startServer(t, t.TempDir(), "--region", "cn-north-1")
	cfg := awsConfig("AKIDTEST", "secret")
	cfg.Region = "cn-north-1"
	sm := sagemaker.NewFromConfig(cfg, func(o *sagemaker.Options) { o.BaseEndpoint = aws.String(s.URL) })
	as := aas.NewFromConfig(cfg, func(o *aas.Options) { o.BaseEndpoint = aws.String(s.URL) })
	ctx := context.Background()
	deploy(t, sm, "cn", model, 1)
	waitInService(t, sm, "cn")
	ep, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("cn")})
	if err != nil {
		t.Fatal(err)
	}
	arns := []string{aws.ToString(ep.EndpointArn)}
	id := aws.String("endpoint/cn/variant/AllTraffic")
	reg, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id,
		ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	arns = append(arns, aws.ToString(reg.ScalableTargetARN))
	pol, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("p"), ServiceNamespace: aastypes.ServiceNamespaceSagemaker, ResourceId: id,
		ScalableDimension: variantDim, PolicyType: aastypes.PolicyTypeTargetTrackingScaling,
		TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(10),
			PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeSageMakerVariantInvocationsPerInstance}}})
	if err != nil {
		t.Fatal(err)
	}
	arns = append(arns, aws.ToString(pol.PolicyARN))
	for _, a := range pol.Alarms {
		arns = append(arns, aws.ToString(a.AlarmARN))
	}
	ts, _ := as.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceSagemaker})
	arns = append(arns, aws.ToString(ts.ScalableTargets[0].RoleARN))
	for _, a := range arns {
		if !strings.HasPrefix(a, "arn:aws-cn:") {
			t.Errorf("ARN %s is not in the aws-cn partition", a)
		}
	}
}
