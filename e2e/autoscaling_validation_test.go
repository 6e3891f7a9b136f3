package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
)

// TestAutoScalingAPI drives the Application Auto Scaling operations and
// their error paths with the Go SDK.
func TestAutoScalingAPI(t *testing.T) {
	s := startServer(t, t.TempDir())
	sm, as := s.SageMaker(), s.AutoScaling()
	ctx := context.Background()
	deploy(t, sm, "api", model, 1)
	waitInService(t, sm, "api")
	ns := aastypes.ServiceNamespaceSagemaker
	id := aws.String("endpoint/api/variant/AllTraffic")

	// Errors before the target exists.
	_, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("p"), ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim,
		PolicyType: aastypes.PolicyTypeStepScaling, StepScalingPolicyConfiguration: &aastypes.StepScalingPolicyConfiguration{AdjustmentType: aastypes.AdjustmentTypeChangeInCapacity}})
	expectAPIError(t, err, "ObjectNotFoundException", "No scalable target registered for service namespace: sagemaker, resource ID: endpoint/api/variant/AllTraffic, scalable dimension: sagemaker:variant:DesiredInstanceCount")
	_, err = as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim})
	expectAPIError(t, err, "ValidationException", "MinCapacity and MaxCapacity are required to register a new scalable target.")
	_, err = as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim, MinCapacity: aws.Int32(5), MaxCapacity: aws.Int32(2)})
	expectAPIError(t, err, "ValidationException", "Minimum capacity (5) cannot be greater than maximum capacity (2).")
	_, err = as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: ns, ResourceId: aws.String("endpoint/nope/variant/AllTraffic"), ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(2)})
	expectAPIError(t, err, "ValidationException", "")
	_, err = as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: ns, ResourceId: aws.String("endpoint/api"), ScalableDimension: variantDim, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(2)})
	expectAPIError(t, err, "ValidationException", "Unsupported service namespace, resource type or scalable dimension")
	_, err = as.DeregisterScalableTarget(ctx, &aas.DeregisterScalableTargetInput{ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim})
	expectAPIError(t, err, "ObjectNotFoundException", "")

	reg, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim,
		MinCapacity: aws.Int32(2), MaxCapacity: aws.Int32(3), Tags: map[string]string{"team": "ml"}, RoleARN: aws.String("arn:aws:iam::123456789012:role/mine")})
	if err != nil {
		t.Fatal(err)
	}
	// SageMaker's targets use the service-linked role, whatever RoleARN says.
	if got, err := as.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: ns, ResourceIds: []string{*id}}); err != nil || len(got.ScalableTargets) != 1 ||
		aws.ToString(got.ScalableTargets[0].RoleARN) != "arn:aws:iam::123456789012:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" {
		t.Errorf("RoleARN of a target registered with a role of the caller's: %+v, %v", got, err)
	}
	// Registering with Min 2 moves the variant from 1 to 2 at once.
	waitInService(t, sm, "api")
	ep, _ := sm.DescribeEndpoint(ctx, describe("api"))
	if *variantOf(ep).DesiredInstanceCount != 2 {
		t.Fatalf("capacity not moved into [2, 3]: %d", *variantOf(ep).DesiredInstanceCount)
	}
	targets, err := as.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: ns})
	if err != nil || len(targets.ScalableTargets) != 1 || *targets.ScalableTargets[0].MinCapacity != 2 || aws.ToString(targets.ScalableTargets[0].ScalableTargetARN) != aws.ToString(reg.ScalableTargetARN) {
		t.Fatalf("DescribeScalableTargets = %+v, %v", targets, err)
	}
	tags, err := as.ListTagsForResource(ctx, &aas.ListTagsForResourceInput{ResourceARN: reg.ScalableTargetARN})
	if err != nil || tags.Tags["team"] != "ml" {
		t.Fatalf("tags = %+v, %v", tags, err)
	}
	// UpdateEndpoint may not change a scalable variant's instance type.
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("api-c5"),
		ProductionVariants: []types.ProductionVariant{{VariantName: aws.String("AllTraffic"), ModelName: aws.String("api"),
			InstanceType: types.ProductionVariantInstanceTypeMlC5Large, InitialInstanceCount: aws.Int32(1)}}}); err != nil {
		t.Fatal(err)
	}
	_, err = sm.UpdateEndpoint(ctx, &sagemaker.UpdateEndpointInput{EndpointName: aws.String("api"), EndpointConfigName: aws.String("api-c5")})
	expectAPIError(t, err, "ValidationException", `Cannot update endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/api": production variant "AllTraffic" is a scalable target of Application Auto Scaling, and the new endpoint configuration removes it or changes its instance type. Deregister the scalable target first.`)
	// An update changes only what it names.
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim, MaxCapacity: aws.Int32(4),
		SuspendedState: &aastypes.SuspendedState{DynamicScalingInSuspended: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	targets, _ = as.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: ns, ResourceIds: []string{*id}})
	if tg := targets.ScalableTargets[0]; *tg.MinCapacity != 2 || *tg.MaxCapacity != 4 || !aws.ToBool(tg.SuspendedState.DynamicScalingInSuspended) {
		t.Fatalf("after update: %+v", tg)
	}

	// An autoscaled variant cannot change its instance type by UpdateEndpoint.
	createConfigOfType(t, sm, "api-big", "ml.c5.2xlarge")
	_, err = sm.UpdateEndpoint(ctx, &sagemaker.UpdateEndpointInput{EndpointName: aws.String("api"), EndpointConfigName: aws.String("api-big")})
	expectAPIError(t, err, "ValidationException", "")

	// Step policy validation.
	step := func(adjs ...aastypes.StepAdjustment) error {
		_, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("step"), ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim,
			PolicyType: aastypes.PolicyTypeStepScaling, StepScalingPolicyConfiguration: &aastypes.StepScalingPolicyConfiguration{
				AdjustmentType: aastypes.AdjustmentTypeChangeInCapacity, StepAdjustments: adjs, Cooldown: aws.Int32(60)}})
		return err
	}
	expectAPIError(t, step(aastypes.StepAdjustment{MetricIntervalLowerBound: aws.Float64(0), MetricIntervalUpperBound: aws.Float64(10), ScalingAdjustment: aws.Int32(1)},
		aastypes.StepAdjustment{MetricIntervalLowerBound: aws.Float64(20), ScalingAdjustment: aws.Int32(2)}), "ValidationException", "Step adjustments cannot have gaps between them")
	expectAPIError(t, step(aastypes.StepAdjustment{MetricIntervalLowerBound: aws.Float64(0), MetricIntervalUpperBound: aws.Float64(10), ScalingAdjustment: aws.Int32(1)},
		aastypes.StepAdjustment{MetricIntervalLowerBound: aws.Float64(5), ScalingAdjustment: aws.Int32(2)}), "ValidationException", "Step adjustments cannot overlap")
	expectAPIError(t, step(aastypes.StepAdjustment{ScalingAdjustment: aws.Int32(1)}), "ValidationException", "Only one of MetricIntervalLowerBound or MetricIntervalUpperBound may be null for a step adjustment")
	var many []aastypes.StepAdjustment
	for i := range 21 {
		lo := float64(i)
		var hi *float64
		if i < 20 {
			hi = aws.Float64(lo + 1)
		}
		many = append(many, aastypes.StepAdjustment{MetricIntervalLowerBound: aws.Float64(lo), MetricIntervalUpperBound: hi, ScalingAdjustment: aws.Int32(1)})
	}
	expectAPIError(t, step(many...), "LimitExceededException", "")
	// The seed's step policy is valid.
	if err := step(aastypes.StepAdjustment{MetricIntervalLowerBound: aws.Float64(0), MetricIntervalUpperBound: aws.Float64(50), ScalingAdjustment: aws.Int32(1)},
		aastypes.StepAdjustment{MetricIntervalLowerBound: aws.Float64(50), ScalingAdjustment: aws.Int32(2)}); err != nil {
		t.Fatalf("seed step policy: %v", err)
	}

	// Target tracking validation.
	tt := func(cfg *aastypes.TargetTrackingScalingPolicyConfiguration, name string) error {
		_, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String(name), ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim,
			PolicyType: aastypes.PolicyTypeTargetTrackingScaling, TargetTrackingScalingPolicyConfiguration: cfg})
		return err
	}
	expectAPIError(t, tt(&aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(70)}, "tt"), "ValidationException", "A target tracking scaling policy requires a PredefinedMetricSpecification or a CustomizedMetricSpecification.")
	expectAPIError(t, tt(&aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(70),
		PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeECSServiceAverageCPUUtilization}}, "tt"), "ValidationException", "")
	expectAPIError(t, tt(&aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(1e300),
		PredefinedMetricSpecification: &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeSageMakerVariantInvocationsPerInstance}}, "tt"),
		"ValidationException", "TargetValue 1e+300 is out of range: it must be between -2^360 and 2^360.")
	cpu := &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(50), CustomizedMetricSpecification: &aastypes.CustomizedMetricSpecification{
		MetricName: aws.String("CPUUtilization"), Namespace: aws.String("/aws/sagemaker/Endpoints"), Statistic: aastypes.MetricStatisticAverage,
		Dimensions: []aastypes.MetricDimension{{Name: aws.String("EndpointName"), Value: aws.String("api")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}}}}
	if err := tt(cpu, "cpu"); err != nil {
		t.Fatalf("the seeds' CPU policy: %v", err)
	}
	expectAPIError(t, tt(cpu, "cpu-again"), "ValidationException", "")
	pols, err := as.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: ns, ResourceId: id})
	if err != nil || len(pols.ScalingPolicies) != 2 {
		t.Fatalf("DescribeScalingPolicies = %+v, %v", pols, err)
	}
	for _, p := range pols.ScalingPolicies {
		if p.PolicyType == aastypes.PolicyTypeTargetTrackingScaling && (len(p.Alarms) != 2 || *p.TargetTrackingScalingPolicyConfiguration.TargetValue != 50) {
			t.Fatalf("TT policy described as %+v", p)
		}
	}
	_, err = as.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: ns, MaxResults: aws.Int32(11)})
	expectAPIError(t, err, "ValidationException", "")
	_, err = as.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: ns, NextToken: aws.String("junk")})
	expectAPIError(t, err, "InvalidNextTokenException", "")
	_, err = as.DeleteScalingPolicy(ctx, &aas.DeleteScalingPolicyInput{PolicyName: aws.String("nope"), ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim})
	expectAPIError(t, err, "ObjectNotFoundException", "")

	// Scheduled actions.
	put := func(schedule string) error {
		_, err := as.PutScheduledAction(ctx, &aas.PutScheduledActionInput{ScheduledActionName: aws.String("morning"), ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim,
			Schedule: aws.String(schedule), Timezone: aws.String("America/New_York"), ScalableTargetAction: &aastypes.ScalableTargetAction{MinCapacity: aws.Int32(3)}})
		return err
	}
	expectAPIError(t, put("cron(0 9 * * *)"), "ValidationException", "")
	expectAPIError(t, put("rate(0 minutes)"), "ValidationException", "")
	if err := put("cron(0 8 * * ? *)"); err != nil {
		t.Fatalf("the seeds' scheduled action: %v", err)
	}
	sched, err := as.DescribeScheduledActions(ctx, &aas.DescribeScheduledActionsInput{ServiceNamespace: ns})
	if err != nil || len(sched.ScheduledActions) != 1 || aws.ToString(sched.ScheduledActions[0].Timezone) != "America/New_York" || *sched.ScheduledActions[0].ScalableTargetAction.MinCapacity != 3 {
		t.Fatalf("DescribeScheduledActions = %+v, %v", sched, err)
	}
	if _, err := as.DeleteScheduledAction(ctx, &aas.DeleteScheduledActionInput{ScheduledActionName: aws.String("morning"), ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim}); err != nil {
		t.Fatal(err)
	}

	// Deregistering removes the policies and their alarms.
	if _, err := as.DeregisterScalableTarget(ctx, &aas.DeregisterScalableTargetInput{ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim}); err != nil {
		t.Fatal(err)
	}
	pols, _ = as.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: ns})
	if len(pols.ScalingPolicies) != 0 {
		t.Fatalf("policies left after deregister: %d", len(pols.ScalingPolicies))
	}
	// Raw validation from the model.
	status, doc, _ := postTarget(t, s.URL, "AnyScaleFrontendService.DescribeScalableTargets", `{}`)
	if status != 400 || doc["__type"] != "ValidationException" {
		t.Fatalf("missing ServiceNamespace: %d %v", status, doc)
	}
}

func createConfigOfType(t *testing.T, sm *sagemaker.Client, name, instanceType string) {
	t.Helper()
	if _, err := sm.CreateEndpointConfig(context.Background(), &sagemaker.CreateEndpointConfigInput{
		EndpointConfigName: aws.String(name),
		ProductionVariants: []types.ProductionVariant{{VariantName: aws.String("AllTraffic"), ModelName: aws.String("api"),
			InstanceType: types.ProductionVariantInstanceType(instanceType), InitialInstanceCount: aws.Int32(1)}},
	}); err != nil {
		t.Fatal(err)
	}
}
