package scaling

import "time"

// Cooldown is a policy's cooldown state: when its cooldowns end, and the
// capacity its last scale-out went from and to.
type Cooldown struct {
	ScaleOutFrom, ScaleOutTo int
	ScaleOutUntil            time.Time
	ScaleInUntil             time.Time
}

// Completed is the cooldown after one of the policy's activities completed
// successfully at now: cooldowns start when an activity completes, and a
// scale-out ends the scale-in cooldown.
func (c Cooldown) Completed(out bool, from, to int, now time.Time, outCooldown, inCooldown time.Duration) Cooldown {
	if out {
		return Cooldown{ScaleOutFrom: from, ScaleOutTo: to, ScaleOutUntil: now.Add(outCooldown)}
	}
	c.ScaleInUntil = now.Add(inCooldown)
	return c
}

// TargetTrackingScaleOut decides a target-tracking policy's high alarm. In
// the scale-out cooldown the capacity the cooling activity added counts: the
// policy scales out again only if the computation from the capacity before
// it asks for more than there is now. At zero capacity a per-instance metric
// says nothing, so nothing is decided.
func TargetTrackingScaleOut(current int, metric, target float64, c Cooldown, now time.Time) (int, bool) {
	if current == 0 {
		return 0, false
	}
	if !now.Before(c.ScaleOutUntil) {
		return TargetTrackingOut(current, metric, target), true
	}
	desired := TargetTrackingOut(c.ScaleOutFrom, metric, target)
	if desired <= current {
		return 0, false
	}
	return desired, true
}

// ScaleInVote is one target-tracking policy's say in a scale-in of their
// target: whether its low alarm is in ALARM with a metric value, the value
// and the policy's target.
type ScaleInVote struct {
	Ready          bool
	Metric, Target float64
}

// TargetTrackingScaleIn decides a scale-in by the consensus of every
// target-tracking policy of the target that may scale in (votes): all must
// be ready, and the largest capacity any of them wants wins. Nothing
// happens in the deciding policy's scale-in cooldown.
func TargetTrackingScaleIn(current int, votes []ScaleInVote, c Cooldown, now time.Time) (int, bool) {
	if now.Before(c.ScaleInUntil) || len(votes) == 0 {
		return 0, false
	}
	desired := -1
	for _, v := range votes {
		if !v.Ready {
			return 0, false
		}
		candidate, ok := TargetTrackingIn(current, v.Metric, v.Target)
		if !ok {
			candidate = current
		}
		desired = max(desired, candidate)
	}
	return desired, true
}

// StepScaling decides a step policy whose alarm breached: the metric is
// the aggregate of values (MetricAggregationType), its distance from the
// threshold picks the step (above: a GreaterThan alarm). In the scale-out
// cooldown only what the step asks beyond the cooling activity is added; in
// the scale-in cooldown nothing is removed.
func StepScaling(cfg StepConfig, current int, values []float64, threshold float64, above bool, c Cooldown, now time.Time) (desired int, out, ok bool) {
	agg, ok := Aggregate(cfg.MetricAggregationType, values)
	if !ok {
		return 0, false, false
	}
	step, ok := FindStep(cfg.Steps, agg, threshold, above)
	if !ok {
		return 0, false, false
	}
	desired = Apply(cfg, current, step.Adjustment)
	out = desired > current
	if cfg.AdjustmentType == ExactCapacity {
		out = desired >= current
	}
	if out && now.Before(c.ScaleOutUntil) {
		desired = Apply(cfg, c.ScaleOutFrom, step.Adjustment)
		if desired <= current {
			return 0, false, false
		}
	}
	if !out && now.Before(c.ScaleInUntil) {
		return 0, false, false
	}
	return desired, out, true
}

// DueRun is the run of a schedule that is due at now, given its last run:
// the latest occurrence after last and not after now (older ones are not
// replayed), within [start, end] when those are set. late reports a run
// more than grace behind now, which is skipped as missed.
func DueRun(s Schedule, last, now time.Time, start, end *time.Time, grace time.Duration) (run time.Time, late, ok bool) {
	next, ok := s.Next(last)
	if !ok || next.After(now) {
		return time.Time{}, false, false
	}
	for i := 0; i < 100000; i++ {
		after, ok := s.Next(next)
		if !ok || after.After(now) {
			break
		}
		next = after
	}
	if end != nil && next.After(*end) || start != nil && next.Before(*start) {
		return time.Time{}, false, false
	}
	return next, now.Sub(next) > grace, true
}
