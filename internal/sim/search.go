package sim

import (
	"context"
	"encoding/json"
	"fmt"
)

// Found is the result of a search: the baseline's report and the best
// policy's, with the policy itself.
type Found struct {
	Baseline Report
	Best     Report
	Policy   Policy
}

// Search tries a grid of target-tracking policies around the baseline's
// (its TargetValue times 0.5 to 2, and scale-out/scale-in cooldowns from 60
// to 600 s; a baseline without target tracking gets one on
// InvocationsPerInstance around the model's capacity) and returns the one
// with the fewest instance-hours whose SLO attainment is at least the
// baseline's. progress, if set, hears of each run.
func Search(ctx context.Context, trace Trace, baseline Policy, m Model, progress func(Report)) (Found, error) {
	base, err := Run(ctx, trace, baseline, m)
	if err != nil {
		return Found{}, err
	}
	f := Found{Baseline: base, Best: base, Policy: baseline}
	target, ok := trackingTarget(baseline)
	if !ok {
		target = 60 * float64(m.Concurrency) / m.ServiceTime.Seconds() * 0.7
	}
	for _, factor := range []float64{0.5, 0.75, 1, 1.25, 1.5, 2} {
		for _, cd := range [][2]int{{60, 300}, {60, 600}, {120, 300}, {300, 300}} {
			p := candidate(baseline, target*factor, cd[0], cd[1])
			p.Name = fmt.Sprintf("tt-%.0f-out%d-in%d", target*factor, cd[0], cd[1])
			r, err := Run(ctx, trace, p, m)
			if err != nil {
				return f, err
			}
			if progress != nil {
				progress(r)
			}
			if r.SLOAttainment >= base.SLOAttainment && r.InstanceHours < f.Best.InstanceHours {
				f.Best, f.Policy = r, p
			}
		}
	}
	return f, nil
}

// trackingTarget is the TargetValue of the policy's first target-tracking
// policy on InvocationsPerInstance.
func trackingTarget(p Policy) (float64, bool) {
	for _, raw := range p.ScalingPolicies {
		var sp struct {
			TargetTrackingScalingPolicyConfiguration *struct {
				TargetValue                   float64
				PredefinedMetricSpecification *struct{ PredefinedMetricType string }
			}
		}
		if json.Unmarshal(raw, &sp) == nil && sp.TargetTrackingScalingPolicyConfiguration != nil {
			c := sp.TargetTrackingScalingPolicyConfiguration
			if c.PredefinedMetricSpecification != nil && c.PredefinedMetricSpecification.PredefinedMetricType == "SageMakerVariantInvocationsPerInstance" {
				return c.TargetValue, true
			}
		}
	}
	return 0, false
}

// candidate is the baseline's bounds and schedules with one target-tracking
// policy on InvocationsPerInstance.
func candidate(base Policy, target float64, out, in int) Policy {
	doc, _ := json.Marshal(map[string]any{"PolicyName": "searched", "PolicyType": "TargetTrackingScaling",
		"TargetTrackingScalingPolicyConfiguration": map[string]any{"TargetValue": target, "ScaleOutCooldown": out, "ScaleInCooldown": in,
			"PredefinedMetricSpecification": map[string]string{"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}})
	return Policy{MinCapacity: base.MinCapacity, MaxCapacity: base.MaxCapacity, ScalingPolicies: []json.RawMessage{doc}, ScheduledActions: base.ScheduledActions}
}
