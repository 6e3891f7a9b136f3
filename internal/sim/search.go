package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// Found is the result of a search: the baseline's report and the best
// policy's, with the policy itself.
type Found struct {
	Baseline Report
	Best     Report
	Policy   Policy
}

// Search tries a grid of target-tracking policies around the baseline's
// (its InvocationsPerInstance TargetValue times 0.5 to 2, or one around the
// model's capacity; and ConcurrentRequestsPerModel, in 10 s and in
// one-minute periods, at 40 to 90 % of an instance's concurrency; each with
// scale-out/scale-in cooldowns from 60 to 600 s) and returns the one with
// the fewest instance-hours whose SLO attainment is at least the
// baseline's. progress, if set, hears of each run.
func Search(ctx context.Context, trace Trace, baseline Policy, m Model, progress func(Report)) (Found, error) {
	base, err := Run(ctx, trace, baseline, m)
	if err != nil {
		return Found{}, err
	}
	f := Found{Baseline: base, Best: base, Policy: baseline}
	target, ok := trackingTarget(baseline)
	if !ok {
		target = 60 * float64(m.Concurrency) / m.meanService() * 0.7
	}
	var candidates []Policy
	cooldowns := [][2]int{{60, 300}, {60, 600}, {120, 300}, {300, 300}}
	for _, factor := range []float64{0.5, 0.75, 1, 1.25, 1.5, 2} {
		for _, cd := range cooldowns {
			p := candidate(baseline, invocationsPerInstance, target*factor, cd[0], cd[1])
			p.Name = fmt.Sprintf("invocations-%.0f-out%d-in%d", target*factor, cd[0], cd[1])
			candidates = append(candidates, p)
		}
	}
	// Requests in flight per instance see the demand a saturated instance
	// cannot serve, which InvocationsPerInstance (what was served) hides.
	// Tracked twice: the high-resolution predefined metric, whose alarms
	// read 10 s periods and follow bursts, and the same metric as a
	// customized one, whose alarms read one-minute averages (as target
	// tracking does for every customized metric), which ride them out.
	for _, share := range []float64{0.4, 0.5, 0.6, 0.7, 0.8, 0.9} {
		for _, cd := range cooldowns {
			t := share * float64(m.Concurrency)
			p := candidate(baseline, concurrentRequests, t, cd[0], cd[1])
			p.Name = fmt.Sprintf("concurrency-%.2g-out%d-in%d", t, cd[0], cd[1])
			candidates = append(candidates, p)
			p = candidate(baseline, concurrentRequestsPerMinute, t, cd[0], cd[1])
			p.Name = fmt.Sprintf("concurrency-1m-%.2g-out%d-in%d", t, cd[0], cd[1])
			candidates = append(candidates, p)
		}
	}
	// A floor that follows the day: the instances the busiest minutes of
	// each hour of the day need, as scheduled MinCapacity, under the
	// baseline's target tracking and a cheaper one.
	if floors := dailyFloors(trace, m); floors != nil {
		for _, share := range []float64{0.75, 1, 1.25, 1.5} {
			for _, factor := range []float64{1, 1.5, 2} {
				p := candidate(baseline, invocationsPerInstance, target*factor, 60, 300)
				p.ScheduledActions = append(slices.Clone(baseline.ScheduledActions), floorActions(floors, share, m.Start, baseline)...)
				p.Name = fmt.Sprintf("daily-floor-%.0f%%-invocations-%.0f", 100*share, target*factor)
				candidates = append(candidates, p)
			}
		}
	}
	for _, p := range candidates {
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
	return f, nil
}

// Candidates is how many policies Search tries on a trace of a day or more
// (on a shorter one, no daily floors: 12 fewer).
const Candidates = 6*4 + 2*6*4 + 4*3

// dailyFloors is, for each hour of the day (counted from the trace's
// start), the instances that the 90th percentile of its minutes' load
// needs at 80 % utilization; nil for a trace shorter than a day.
func dailyFloors(trace Trace, m Model) []int {
	if len(trace) < 86400 {
		return nil
	}
	perHour := make([][]float64, 24)
	service := m.meanService()
	for start := 0; start+60 <= len(trace); start += 60 {
		sum := 0.0
		for _, n := range trace[start : start+60] {
			sum += n
		}
		h := (start / 3600) % 24
		perHour[h] = append(perHour[h], sum/60)
	}
	floors := make([]int, 24)
	for h, rates := range perHour {
		slices.Sort(rates)
		p90 := rates[len(rates)*9/10]
		floors[h] = int(math.Ceil(p90 * service / float64(m.Concurrency) / 0.8))
	}
	return floors
}

// floorActions are scheduled actions that set MinCapacity each hour to
// share of its floor, within the baseline's bounds.
func floorActions(floors []int, share float64, start time.Time, base Policy) []json.RawMessage {
	var out []json.RawMessage
	for h, f := range floors {
		min := max(base.MinCapacity, min(base.MaxCapacity, int(math.Ceil(share*float64(f)))))
		doc, _ := json.Marshal(map[string]any{"ScheduledActionName": fmt.Sprintf("floor-%02d", h),
			"Schedule": fmt.Sprintf("cron(0 %d * * ? *)", (start.Hour()+h)%24), "ScalableTargetAction": map[string]int{"MinCapacity": min}})
		out = append(out, doc)
	}
	return out
}

// The metrics Search tracks: two predefined, and ConcurrentRequestsPerModel
// (what the high-resolution predefined metric reads) as a customized metric
// of the simulated variant; its dimensions name the simulated endpoint, so a
// policy found with it names its own endpoint there before use.
const (
	invocationsPerInstance      = "SageMakerVariantInvocationsPerInstance"
	concurrentRequests          = "SageMakerVariantConcurrentRequestsPerModelHighResolution"
	concurrentRequestsPerMinute = "ConcurrentRequestsPerModel"
)

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
// policy on one of the metrics above.
func candidate(base Policy, metric string, target float64, out, in int) Policy {
	conf := map[string]any{"TargetValue": target, "ScaleOutCooldown": out, "ScaleInCooldown": in}
	if metric == concurrentRequestsPerMinute {
		conf["CustomizedMetricSpecification"] = map[string]any{"Namespace": "AWS/SageMaker", "MetricName": metric, "Statistic": "Average",
			"Dimensions": []map[string]string{{"Name": "EndpointName", "Value": endpointName}, {"Name": "VariantName", "Value": variantName}}}
	} else {
		conf["PredefinedMetricSpecification"] = map[string]string{"PredefinedMetricType": metric}
	}
	doc, _ := json.Marshal(map[string]any{"PolicyName": "searched", "PolicyType": "TargetTrackingScaling",
		"TargetTrackingScalingPolicyConfiguration": conf})
	return Policy{MinCapacity: base.MinCapacity, MaxCapacity: base.MaxCapacity, ScalingPolicies: []json.RawMessage{doc}, ScheduledActions: base.ScheduledActions}
}
