package loadtest

import (
	"math"
	"time"
)

// SafetyFactor is AWS's: "MAX_RPS × SAFETY_FACTOR × 60", with 0.5
// (SageMaker developer guide, load testing for autoscaling).
const SafetyFactor = 0.5

// Measured is what a load test learns beyond latency (zero: not measured).
type Measured struct {
	Instances int           // the endpoint's instances during the test
	CPUAtKnee float64       // CPUUtilization (summed over cores) at the knee
	Startup   time.Duration // an instance's start to its first healthy ping
}

// Recommendation is a policy's numbers, per instance.
type Recommendation struct {
	MaxRPSPerInstance  float64 `json:"max_rps_per_instance"`
	KneeRPSPerInstance float64 `json:"knee_rps_per_instance"`
	// TargetValues of SageMakerVariantInvocationsPerInstance (a minute's
	// invocations): AWS's formula, and ebb's, the knee's rate.
	AWSFormulaTarget float64 `json:"aws_formula_target"`
	KneeTarget       float64 `json:"knee_target"`
	// ConcurrencyTarget is for SageMakerVariantConcurrentRequestsPerModel-
	// HighResolution: requests in flight per instance at the knee (Little's
	// law: rate × mean latency).
	ConcurrencyTarget float64 `json:"concurrency_target"`
	// CPUTarget is CPUUtilization at the knee (0: not measured).
	CPUTarget float64 `json:"cpu_target,omitempty"`
	// Cooldowns, in seconds: scale-out long enough for a new instance to
	// start and take load, scale-in AWS's default unless startup is longer.
	ScaleOutCooldown int `json:"scale_out_cooldown"`
	ScaleInCooldown  int `json:"scale_in_cooldown"`
}

// Recommend turns a ramp into a policy's numbers.
func Recommend(r Result, m Measured) Recommendation {
	n := float64(max(1, m.Instances))
	rec := Recommendation{
		MaxRPSPerInstance:  r.Max.AchievedRPS / n,
		KneeRPSPerInstance: r.Knee.AchievedRPS / n,
		CPUTarget:          round1(m.CPUAtKnee),
	}
	rec.AWSFormulaTarget = math.Round(rec.MaxRPSPerInstance * SafetyFactor * 60)
	rec.KneeTarget = math.Round(rec.KneeRPSPerInstance * 60)
	rec.ConcurrencyTarget = round1(rec.KneeRPSPerInstance * r.Knee.Mean.Seconds())
	rec.ScaleOutCooldown, rec.ScaleInCooldown = 60, 300
	if m.Startup > 0 {
		// A new instance needs its startup and a metric period before the
		// next decision can see its effect.
		rec.ScaleOutCooldown = max(60, int(math.Ceil((2*m.Startup+time.Minute).Seconds()/10))*10)
		rec.ScaleInCooldown = max(300, rec.ScaleOutCooldown)
	}
	return rec
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// Policy is the put_scaling_policy arguments of the recommendation:
// target tracking on InvocationsPerInstance at the knee's target.
func (rec Recommendation) Policy(endpoint, variant string) map[string]any {
	return map[string]any{
		"PolicyName":        endpoint + "-invocations-per-instance",
		"ServiceNamespace":  "sagemaker",
		"ResourceId":        "endpoint/" + endpoint + "/variant/" + variant,
		"ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
		"PolicyType":        "TargetTrackingScaling",
		"TargetTrackingScalingPolicyConfiguration": map[string]any{
			"TargetValue":                   rec.KneeTarget,
			"PredefinedMetricSpecification": map[string]string{"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
			"ScaleOutCooldown":              rec.ScaleOutCooldown,
			"ScaleInCooldown":               rec.ScaleInCooldown,
		},
	}
}
