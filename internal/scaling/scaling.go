package scaling

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// NotScaledReason codes (AWS's NotScaledReason.Code).
const (
	AlreadyAtMaxCapacity           = "AlreadyAtMaxCapacity"
	AlreadyAtMinCapacity           = "AlreadyAtMinCapacity"
	AlreadyAtDesiredCapacity       = "AlreadyAtDesiredCapacity"
	AutoScalingAnticipatedFlapping = "AutoScalingAnticipatedFlapping"
)

// Decision is the outcome of a policy evaluation: a new capacity, or a
// reason not to scale.
type Decision struct {
	Scale    bool
	Desired  int
	Reason   string // NotScaledReason code when !Scale
	Clamped  bool   // Desired was clamped to Min or Max
	Computed int    // capacity before clamping
}

// Clamp bounds capacity to [min, max] and reports the not-scaled reason when
// the result equals the current capacity.
func Clamp(current, desired, min, max int) Decision {
	d := Decision{Computed: desired, Desired: desired}
	if d.Desired > max {
		d.Desired, d.Clamped = max, true
	}
	if d.Desired < min {
		d.Desired, d.Clamped = min, true
	}
	if d.Desired != current {
		d.Scale = true
		return d
	}
	switch {
	case desired > current && current >= max:
		d.Reason = AlreadyAtMaxCapacity
	case desired < current && current <= min:
		d.Reason = AlreadyAtMinCapacity
	default:
		d.Reason = AlreadyAtDesiredCapacity
	}
	return d
}

// TargetTrackingOut is the capacity that brings a per-unit metric back to
// target: proportional, rounded up (AAS documents "rounds up when adding";
// the exact formula is not published). It never returns less than current.
func TargetTrackingOut(current int, metric, target float64) int {
	if current <= 0 || target <= 0 {
		return current
	}
	return max(current, int(math.Ceil(float64(current)*metric/target)))
}

// TargetTrackingIn is the capacity a scale-in may go to: the ceiling keeps
// the predicted per-unit metric at or under target, so a scale-in that would
// push the metric back above target does not happen (ok = false, reason
// AutoScalingAnticipatedFlapping).
func TargetTrackingIn(current int, metric, target float64) (int, bool) {
	if current <= 0 || target <= 0 {
		return current, false
	}
	candidate := int(math.Ceil(float64(current) * metric / target))
	if candidate >= current {
		return current, false
	}
	return max(candidate, 0), true
}

// Adjustment types.
const (
	ChangeInCapacity        = "ChangeInCapacity"
	PercentChangeInCapacity = "PercentChangeInCapacity"
	ExactCapacity           = "ExactCapacity"
)

// Step is one StepAdjustment; nil bounds are infinite.
type Step struct {
	Lower, Upper *float64
	Adjustment   int
}

// StepConfig is a StepScalingPolicyConfiguration.
type StepConfig struct {
	AdjustmentType         string
	Steps                  []Step
	MinAdjustmentMagnitude int
	Cooldown               int // seconds
	MetricAggregationType  string
}

// ValidateSteps applies AWS's rules: upper > lower, no step with both
// bounds open, no overlaps and no gaps, at most one open lower and one open
// upper bound, and the open ends present when bounds cross zero.
func ValidateSteps(steps []Step) error {
	if len(steps) == 0 {
		return errors.New("StepAdjustments must hold at least one step")
	}
	lowerNil, upperNil := 0, 0
	negLower, posUpper := false, false
	for _, s := range steps {
		if s.Lower == nil && s.Upper == nil {
			return errors.New("Only one of MetricIntervalLowerBound or MetricIntervalUpperBound may be null for a step adjustment")
		}
		if s.Lower != nil && s.Upper != nil && *s.Upper <= *s.Lower {
			return fmt.Errorf("MetricIntervalUpperBound (%g) must be greater than MetricIntervalLowerBound (%g)", *s.Upper, *s.Lower)
		}
		if s.Lower == nil {
			lowerNil++
		} else if *s.Lower < 0 {
			negLower = true
		}
		if s.Upper == nil {
			upperNil++
		} else if *s.Upper > 0 {
			posUpper = true
		}
	}
	if lowerNil > 1 {
		return errors.New("There can be at most one step adjustment with a null lower bound")
	}
	if upperNil > 1 {
		return errors.New("There can be at most one step adjustment with a null upper bound")
	}
	if negLower && lowerNil == 0 {
		return errors.New("A step adjustment with a null lower bound is required when a lower bound is negative")
	}
	if posUpper && upperNil == 0 {
		return errors.New("A step adjustment with a null upper bound is required when an upper bound is positive")
	}
	sorted := append([]Step(nil), steps...)
	lo := func(s Step) float64 {
		if s.Lower == nil {
			return math.Inf(-1)
		}
		return *s.Lower
	}
	hi := func(s Step) float64 {
		if s.Upper == nil {
			return math.Inf(1)
		}
		return *s.Upper
	}
	sort.Slice(sorted, func(i, j int) bool { return lo(sorted[i]) < lo(sorted[j]) })
	for i := 1; i < len(sorted); i++ {
		prevHi, curLo := hi(sorted[i-1]), lo(sorted[i])
		if curLo < prevHi {
			return errors.New("Step adjustments cannot overlap")
		}
		if curLo > prevHi {
			return errors.New("Step adjustments cannot have gaps between them")
		}
	}
	return nil
}

// FindStep returns the step whose interval holds the metric's distance from
// the threshold. For an alarm on values above the threshold (above = true)
// lower bounds are inclusive and upper exclusive; for one on values below
// it, the other way round, so a breach exactly at the threshold finds the
// step that ends (or starts) there.
func FindStep(steps []Step, metric, threshold float64, above bool) (Step, bool) {
	d := metric - threshold
	for _, s := range steps {
		lo, hi := math.Inf(-1), math.Inf(1)
		if s.Lower != nil {
			lo = *s.Lower
		}
		if s.Upper != nil {
			hi = *s.Upper
		}
		var in bool
		if above {
			in = lo <= d && d < hi
		} else {
			in = lo < d && d <= hi
		}
		if in {
			return s, true
		}
	}
	return Step{}, false
}

// Apply computes the new capacity for an adjustment, with AWS's rounding of
// percent changes: above 1 down, between 0 and 1 up to 1, between -1 and 0
// down to -1, below -1 toward zero; then |change| raised to
// MinAdjustmentMagnitude.
func Apply(cfg StepConfig, current, adjustment int) int {
	switch cfg.AdjustmentType {
	case ExactCapacity:
		return adjustment
	case PercentChangeInCapacity:
		change := float64(current) * float64(adjustment) / 100
		var c int
		switch {
		case change > 1:
			c = int(math.Floor(change))
		case change > 0:
			c = 1
		case change == 0:
			c = 0
		case change > -1:
			c = -1
		default:
			c = int(math.Ceil(change))
		}
		if m := cfg.MinAdjustmentMagnitude; m > 0 && c != 0 && abs(c) < m {
			if c > 0 {
				c = m
			} else {
				c = -m
			}
		}
		return current + c
	default:
		return current + adjustment
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Aggregate applies MetricAggregationType (Average by default) to the
// alarm's recent datapoints.
func Aggregate(kind string, values []float64) (float64, bool) {
	if len(values) == 0 {
		return 0, false
	}
	switch kind {
	case "Minimum":
		m := values[0]
		for _, v := range values {
			m = math.Min(m, v)
		}
		return m, true
	case "Maximum":
		m := values[0]
		for _, v := range values {
			m = math.Max(m, v)
		}
		return m, true
	}
	sum := 0.0
	for _, v := range values {
		sum += v
	}
	return sum / float64(len(values)), true
}
