package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/aws/smithy-go"
)

// TestRefusedFeatures: what ebb does not implement is refused with a
// ValidationException that names it, and nothing is created; it is never
// accepted and then ignored. Routing headers that do not apply to a plain
// endpoint get AWS's ValidationError.
func TestRefusedFeatures(t *testing.T) {
	s := startServer(t, t.TempDir())
	sm := s.SageMaker()
	ctx := context.Background()
	role := aws.String("arn:aws:iam::123456789012:role/ebb")
	check := func(what string, err error, want string) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" || !strings.Contains(ae.ErrorMessage(), want) ||
			!strings.Contains(ae.ErrorMessage(), "ebb does not support") {
			t.Errorf("%s: %v, want a ValidationException naming %s", what, err, want)
		}
	}
	_, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("mme"), ExecutionRoleArn: role,
		PrimaryContainer: &types.ContainerDefinition{Image: aws.String(model), Mode: types.ContainerModeMultiModel}})
	expectAPIError(t, err, "ValidationException", "A model with Mode MultiModel needs a ModelDataUrl: the prefix its TargetModel artifacts are under.")
	_, err = sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("pkg"), ExecutionRoleArn: role,
		PrimaryContainer: &types.ContainerDefinition{ModelPackageName: aws.String("arn:aws:sagemaker:us-east-1:123456789012:model-package/p/1")}})
	check("ModelPackageName", err, "ModelPackageName")
	for _, name := range []string{"mme", "pkg"} {
		if _, err := sm.DescribeModel(ctx, &sagemaker.DescribeModelInput{ModelName: aws.String(name)}); err == nil {
			t.Errorf("refused model %s exists", name)
		}
	}

	deploy(t, sm, "plain", model, 1)
	variant := []types.ProductionVariant{{VariantName: aws.String("v"), ModelName: aws.String("plain"),
		InstanceType: types.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(1)}}
	_, err = sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("capture"), ProductionVariants: variant,
		DataCaptureConfig: &types.DataCaptureConfig{DestinationS3Uri: aws.String("s3://b/c"), InitialSamplingPercentage: aws.Int32(100),
			CaptureOptions: []types.CaptureOption{{CaptureMode: types.CaptureModeInput}}}})
	check("DataCaptureConfig", err, "DataCaptureConfig")
	_, err = sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("shadow"), ProductionVariants: variant,
		ShadowProductionVariants: []types.ProductionVariant{{VariantName: aws.String("s"), ModelName: aws.String("plain"),
			InstanceType: types.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(1)}}})
	check("ShadowProductionVariants", err, "ShadowProductionVariants")
	_, err = sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("canary"), EndpointConfigName: aws.String("plain"),
		DeploymentConfig: &types.DeploymentConfig{BlueGreenUpdatePolicy: &types.BlueGreenUpdatePolicy{
			TrafficRoutingConfiguration: &types.TrafficRoutingConfig{Type: types.TrafficRoutingConfigTypeAllAtOnce, WaitIntervalInSeconds: aws.Int32(0)}},
			AutoRollbackConfiguration: &types.AutoRollbackConfig{Alarms: []types.Alarm{{AlarmName: aws.String("nowhere")}}}}})
	expectAPIError(t, err, "ValidationException", "The alarm nowhere of AutoRollbackConfiguration does not exist: create it (PutMetricAlarm) first.")
	if _, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("canary")}); err == nil {
		t.Error("the refused endpoint exists")
	}
	// Production variant members ebb does not honour.
	for member, set := range map[string]func(*types.ProductionVariant){
		"VolumeSizeInGB": func(v *types.ProductionVariant) { v.VolumeSizeInGB = aws.Int32(30) },
		"ScaleInPolicy": func(v *types.ProductionVariant) {
			v.ManagedInstanceScaling = &types.ProductionVariantManagedInstanceScaling{Status: types.ManagedInstanceScalingStatusEnabled,
				ScaleInPolicy: &types.ProductionVariantManagedInstanceScalingScaleInPolicy{Strategy: types.ManagedInstanceScalingScaleInStrategyIdleRelease}}
		},
		"ContainerStartupHealthCheckTimeoutInSeconds": func(v *types.ProductionVariant) { v.ContainerStartupHealthCheckTimeoutInSeconds = aws.Int32(600) },
		"EnableSSMAccess": func(v *types.ProductionVariant) { v.EnableSSMAccess = aws.Bool(true) },
		"RANDOM": func(v *types.ProductionVariant) {
			v.RoutingConfig = &types.ProductionVariantRoutingConfig{RoutingStrategy: types.RoutingStrategyRandom}
		},
	} {
		pv := variant[0]
		set(&pv)
		_, err = sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("v-" + strings.ToLower(member[:6])),
			ProductionVariants: []types.ProductionVariant{pv}})
		check(member, err, member)
	}
	// PrimaryContainer with Containers: refused (AWS takes one or the other).
	_, err = sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("both"), ExecutionRoleArn: role,
		PrimaryContainer: &types.ContainerDefinition{Image: aws.String(model)}, Containers: []types.ContainerDefinition{{Image: aws.String(model)}}})
	expectAPIError(t, err, "ValidationException", "Specify either PrimaryContainer or Containers, not both.")
	// A member set to the value that asks for nothing is accepted and echoed
	// back, as Terraform sends EnableSSMAccess false in every variant.
	idle := variant[0]
	idle.EnableSSMAccess = aws.Bool(false)
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("idle"), ProductionVariants: []types.ProductionVariant{idle}}); err != nil {
		t.Fatalf("CreateEndpointConfig with idle members: %v", err)
	}
	if ec, err := sm.DescribeEndpointConfig(ctx, &sagemaker.DescribeEndpointConfigInput{EndpointConfigName: aws.String("idle")}); err != nil || ec.ProductionVariants[0].EnableSSMAccess == nil || *ec.ProductionVariants[0].EnableSSMAccess {
		t.Errorf("DescribeEndpointConfig of idle members: %+v, %v (want EnableSSMAccess false echoed)", ec, err)
	}
	// What the router does is accepted and reported: LEAST_OUTSTANDING_REQUESTS.
	lor := variant[0]
	lor.RoutingConfig = &types.ProductionVariantRoutingConfig{RoutingStrategy: types.RoutingStrategyLeastOutstandingRequests}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("lor"), ProductionVariants: []types.ProductionVariant{lor}}); err != nil {
		t.Fatal(err)
	}
	ec, err := sm.DescribeEndpointConfig(ctx, &sagemaker.DescribeEndpointConfigInput{EndpointConfigName: aws.String("lor")})
	if err != nil || aws.ToFloat32(ec.ProductionVariants[0].InitialVariantWeight) != 1 {
		t.Errorf("DescribeEndpointConfig without InitialVariantWeight: %+v, %v (want the default 1.0 echoed)", ec, err)
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("lor"), EndpointConfigName: aws.String("lor")}); err != nil {
		t.Fatal(err)
	}
	waitInService(t, sm, "lor")
	ep, _ := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("lor")})
	if rc := ep.ProductionVariants[0].RoutingConfig; rc == nil || rc.RoutingStrategy != types.RoutingStrategyLeastOutstandingRequests {
		t.Errorf("DescribeEndpoint RoutingConfig = %+v", rc)
	}
	// A weight-only change: Updating first, then InService with the weight current.
	if _, err := sm.UpdateEndpointWeightsAndCapacities(ctx, &sagemaker.UpdateEndpointWeightsAndCapacitiesInput{EndpointName: aws.String("lor"),
		DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{{VariantName: aws.String("v"), DesiredWeight: aws.Float32(2)}}}); err != nil {
		t.Fatal(err)
	}
	if ep, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("lor")}); err != nil || ep.EndpointStatus != types.EndpointStatusUpdating {
		t.Errorf("right after a weight change: %v, %v; want Updating", ep.EndpointStatus, err)
	}
	if w := aws.ToFloat32(waitInService(t, sm, "lor").ProductionVariants[0].CurrentWeight); w != 2 {
		t.Errorf("CurrentWeight after the change: %g, want 2", w)
	}
	_, err = sm.UpdateEndpointWeightsAndCapacities(ctx, &sagemaker.UpdateEndpointWeightsAndCapacitiesInput{EndpointName: aws.String("lor"),
		DesiredWeightsAndCapacities: []types.DesiredWeightAndCapacity{{VariantName: aws.String("v"), DesiredInstanceCount: aws.Int32(2)}, {VariantName: aws.String("v"), DesiredWeight: aws.Float32(2)}}})
	expectAPIError(t, err, "ValidationException", `The variant "v" appears more than once in DesiredWeightsAndCapacities; give each variant once.`)

	waitInService(t, sm, "plain")
	_, err = s.Runtime().InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("plain"), Body: []byte("1"),
		ContentType: aws.String("text/csv"), TargetModel: aws.String("m.tar.gz")})
	expectAPIError(t, err, "ValidationError", "Endpoint plain is not a multi-model endpoint and does not support target model header.")
	_, err = s.Runtime().InvokeEndpoint(ctx, &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("plain"), Body: []byte("1"),
		ContentType: aws.String("text/csv"), InferenceComponentName: aws.String("ic")})
	expectAPIError(t, err, "ValidationError", "Endpoint plain does not host inference components and does not support inference component header.")
}
