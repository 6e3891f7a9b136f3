package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/smithy-go"
)

// TestAutoScalingRefusesWhatAWSRefuses: requests AWS refuses are refused
// with ValidationException and change nothing (Go SDK v2).
func TestAutoScalingRefusesWhatAWSRefuses(t *testing.T) {
	s := startServer(t, t.TempDir())
	sm, as := s.SageMaker(), s.AutoScaling()
	ctx := context.Background()
	deploy(t, sm, "fid", model, 1)
	waitInService(t, sm, "fid")
	ns := aastypes.ServiceNamespaceSagemaker
	id := aws.String("endpoint/fid/variant/AllTraffic")
	_, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim,
		MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(3), Tags: map[string]string{"aws:team": "ml"}})
	expectRefused(t, err, "")
	if _, err := as.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim,
		MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	tt := func(c *aastypes.TargetTrackingScalingPolicyConfiguration) error {
		_, err := as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("tt"), ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim,
			PolicyType: aastypes.PolicyTypeTargetTrackingScaling, TargetTrackingScalingPolicyConfiguration: c})
		return err
	}
	inv := func() *aastypes.PredefinedMetricSpecification {
		return &aastypes.PredefinedMetricSpecification{PredefinedMetricType: aastypes.MetricTypeSageMakerVariantInvocationsPerInstance}
	}
	expectRefused(t, tt(&aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(10), PredefinedMetricSpecification: inv(), ScaleInCooldown: aws.Int32(-1)}),
		"ScaleInCooldown must be greater than or equal to 0.")
	expectRefused(t, tt(&aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(10), PredefinedMetricSpecification: inv(), ScaleOutCooldown: aws.Int32(-5)}),
		"ScaleOutCooldown must be greater than or equal to 0.")
	withLabel := inv()
	withLabel.ResourceLabel = aws.String("app/x/y/targetgroup/z/w")
	expectRefused(t, tt(&aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(10), PredefinedMetricSpecification: withLabel}),
		"ResourceLabel")
	_, err = as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("step"), ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim,
		PolicyType: aastypes.PolicyTypeStepScaling, StepScalingPolicyConfiguration: &aastypes.StepScalingPolicyConfiguration{AdjustmentType: aastypes.AdjustmentTypePercentChangeInCapacity,
			MinAdjustmentMagnitude: aws.Int32(-1), StepAdjustments: []aastypes.StepAdjustment{{MetricIntervalLowerBound: aws.Float64(0), ScalingAdjustment: aws.Int32(10)}}}})
	expectRefused(t, err, "MinAdjustmentMagnitude must be greater than or equal to 0.")
	_, err = as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("bad\x01name"), ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim,
		PolicyType: aastypes.PolicyTypeTargetTrackingScaling, TargetTrackingScalingPolicyConfiguration: &aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(10), PredefinedMetricSpecification: inv()}})
	expectRefused(t, err, "policyName")

	_, err = as.PutScalingPolicy(ctx, &aas.PutScalingPolicyInput{PolicyName: aws.String("p"), ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim,
		PolicyType: aastypes.PolicyType("Bogus")})
	expectRefused(t, err, "Member must satisfy enum value set: [PredictiveScaling, StepScaling, TargetTrackingScaling]")

	sched := func(name, expr string, min, max *int32) error {
		_, err := as.PutScheduledAction(ctx, &aas.PutScheduledActionInput{ScheduledActionName: aws.String(name), ServiceNamespace: ns, ResourceId: id, ScalableDimension: variantDim,
			Schedule: aws.String(expr), ScalableTargetAction: &aastypes.ScalableTargetAction{MinCapacity: min, MaxCapacity: max}})
		return err
	}
	expectRefused(t, sched("both-stars", "cron(0 8 * * * *)", aws.Int32(1), nil), "cannot both be *")
	expectRefused(t, sched("seconds", "cron(61 0 8 * * ? *)", aws.Int32(1), nil), "seconds")
	expectRefused(t, sched("negative", "rate(1 hour)", aws.Int32(-1), nil), "Capacity values must be greater than or equal to 0.")
	expectRefused(t, sched("a:b", "rate(1 hour)", aws.Int32(1), nil), "scheduledActionName")
	expectRefused(t, sched(" lead", "rate(1 hour)", aws.Int32(1), nil), "scheduledActionName")

	// A ScalableDimension without ResourceId, on each of the four Describe calls.
	_, err = as.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: ns, ScalableDimension: variantDim})
	expectRefused(t, err, "")
	_, err = as.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: ns, ScalableDimension: variantDim})
	expectRefused(t, err, "")
	_, err = as.DescribeScheduledActions(ctx, &aas.DescribeScheduledActionsInput{ServiceNamespace: ns, ScalableDimension: variantDim})
	expectRefused(t, err, "")
	_, err = as.DescribeScalingActivities(ctx, &aas.DescribeScalingActivitiesInput{ServiceNamespace: ns, ScalableDimension: variantDim})
	expectRefused(t, err, "")

	// Nothing refused was stored.
	pols, _ := as.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{ServiceNamespace: ns})
	acts, _ := as.DescribeScheduledActions(ctx, &aas.DescribeScheduledActionsInput{ServiceNamespace: ns})
	if len(pols.ScalingPolicies) != 0 || len(acts.ScheduledActions) != 0 {
		t.Fatalf("refused requests left %d policies and %d scheduled actions", len(pols.ScalingPolicies), len(acts.ScheduledActions))
	}

	// A metric-math target tracking policy: its alarms' Metrics come back in
	// the model's shape (Id, MetricStat with the period in seconds,
	// Expression, ReturnData), in every protocol.
	dims := []aastypes.TargetTrackingMetricDimension{{Name: aws.String("EndpointName"), Value: aws.String("fid")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}}
	if err := tt(&aastypes.TargetTrackingScalingPolicyConfiguration{TargetValue: aws.Float64(10), CustomizedMetricSpecification: &aastypes.CustomizedMetricSpecification{
		Metrics: []aastypes.TargetTrackingMetricDataQuery{
			{Id: aws.String("m1"), ReturnData: aws.Bool(false), MetricStat: &aastypes.TargetTrackingMetricStat{Stat: aws.String("Sum"),
				Metric: &aastypes.TargetTrackingMetric{Namespace: aws.String("AWS/SageMaker"), MetricName: aws.String("Invocations"), Dimensions: dims}}},
			{Id: aws.String("e1"), Expression: aws.String("m1 / 2"), Label: aws.String("half"), ReturnData: aws.Bool(true)},
		}}}); err != nil {
		t.Fatal(err)
	}
	for proto, cw := range s.cloudWatchClients() {
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("TargetTracking-endpoint/fid/")})
		if err != nil || len(out.MetricAlarms) != 2 {
			t.Fatalf("%s: DescribeAlarms = %+v, %v", proto, out, err)
		}
		for _, a := range out.MetricAlarms {
			if a.Period != nil || len(a.Metrics) != 2 {
				t.Fatalf("%s: alarm %s: Period %v, %d metrics", proto, aws.ToString(a.AlarmName), a.Period, len(a.Metrics))
			}
			m, e := a.Metrics[0], a.Metrics[1]
			if aws.ToString(m.Id) != "m1" || m.MetricStat == nil || aws.ToInt32(m.MetricStat.Period) != 60 || aws.ToString(m.MetricStat.Stat) != "Sum" ||
				aws.ToString(m.MetricStat.Metric.Namespace) != "AWS/SageMaker" || len(m.MetricStat.Metric.Dimensions) != 2 || aws.ToBool(m.ReturnData) ||
				m.Expression != nil || m.Label != nil {
				t.Errorf("%s: the metric query = %+v (stat %+v)", proto, m, m.MetricStat)
			}
			if aws.ToString(e.Id) != "e1" || aws.ToString(e.Expression) != "m1 / 2" || aws.ToString(e.Label) != "half" || !aws.ToBool(e.ReturnData) || e.MetricStat != nil {
				t.Errorf("%s: the expression = %+v", proto, e)
			}
		}
	}
}

// expectRefused checks for a ValidationException whose message holds part.
func expectRefused(t *testing.T, err error, part string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" || !strings.Contains(ae.ErrorMessage(), part) {
		t.Errorf("got %v, want ValidationException containing %q", err, part)
	}
}
