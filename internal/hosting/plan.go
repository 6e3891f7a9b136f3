package hosting

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The plan is hosting's decision, apart from its doing (as Nomad's
// reconciler computes its results and the scheduler then applies them):
// planInstances is a pure function of an endpoint's record, what it
// observes of its instances and now, and returns what to start and stop
// and where the status machine goes. The endpoint's goroutine observes,
// plans and applies (reconcile), and plans again while the status moves.
// A new kind of rollout or variant is a new rule here, with its table
// cases in plan_test.go.

// observedInstance is what the plan knows of one of the endpoint's
// variant instances (not copies of inference components).
type observedInstance struct {
	Deployment, Variant string
	Ready, Stopping     bool
	Started             time.Time
}

// planInput is everything planInstances decides on.
type planInput struct {
	Rec       endpointRecord
	Instances []observedInstance
	// Failure is why the operation in progress failed ("" if it has not).
	Failure string
	// NotUntil holds a variant's replacements back (backoff after failures).
	NotUntil map[string]time.Time
	// Alarming are the alarms of the deployment in progress that are in
	// ALARM (its AutoRollbackConfiguration's).
	Alarming []string
	Now      time.Time
}

// startOrder asks for one new instance of a variant of a deployment.
type startOrder struct {
	Deployment string // the deployment's ID (current or pending)
	Variant    string
}

// transition is a move of the status machine: the record as it is after
// the move (the status set, a cut-over or rollback applied, weights made
// current), to persist.
type transition struct {
	Rec endpointRecord
	// ClearFailure: the failure has been dealt with (reported in the
	// status' reason).
	ClearFailure bool
}

// instancePlan is what reconcile does.
type instancePlan struct {
	Start []startOrder
	Stop  []int // indexes into planInput.Instances, in the order to stop
	// Next, if set, is the status machine's move; reconcile applies it
	// and plans again (the new status may want other instances).
	Next *transition
	// WakeIn, if positive, asks for another plan after that long (a
	// weight shift in progress).
	WakeIn time.Duration
}

// planInstances decides an endpoint's instances and status.
func planInstances(in planInput) instancePlan {
	var p instancePlan
	rec := in.Rec
	stopping := make([]bool, len(in.Instances))
	stop := func(i int) {
		if !in.Instances[i].Stopping && !stopping[i] {
			stopping[i] = true
			p.Stop = append(p.Stop, i)
		}
	}
	switch rec.Status {
	case StatusFailed, StatusDeleting:
		for i := range in.Instances {
			stop(i)
		}
		return p
	}
	live := func(d *deployment, v string) []int {
		var out []int
		for i, o := range in.Instances {
			if o.Deployment == d.ID && o.Variant == v && !o.Stopping && !stopping[i] {
				out = append(out, i)
			}
		}
		return out
	}
	// desired is how many instances a variant of a deployment has now:
	// its DesiredCount, but during a rolling deployment, the batch's.
	desired := func(d *deployment, v variant) int { return v.DesiredCount }
	if ro := rec.Rollout; ro != nil && ro.Config.RollingUpdatePolicy != nil && rec.Pending != nil {
		switch {
		case rec.Status == StatusUpdating:
			desired = func(d *deployment, v variant) int { return ro.rollingTarget(rec, d, v) }
		case rec.Status == StatusRollingBack && ro.Back:
			desired = func(d *deployment, v variant) int {
				n := ro.rollbackTarget(rec, d, v)
				if d.ID == rec.Pending.ID {
					// The new fleet only shrinks: none starts, and those
					// not serving go first.
					ready := 0
					for _, i := range live(d, v.Name) {
						if in.Instances[i].Ready {
							ready++
						}
					}
					n = min(n, ready)
				}
				return n
			}
		}
	}
	converge := func(d *deployment) {
		for _, v := range d.Variants {
			idx := live(d, v.Name)
			if missing := desired(d, v) - len(idx); missing > 0 {
				if in.Now.Before(in.NotUntil[v.Name]) || in.Failure != "" {
					continue
				}
				for range missing {
					p.Start = append(p.Start, startOrder{Deployment: d.ID, Variant: v.Name})
				}
			} else if missing < 0 {
				surplusOrder(in.Instances, idx)
				for _, i := range idx[:-missing] {
					stop(i)
				}
			}
		}
		for i, o := range in.Instances {
			if o.Deployment == d.ID && d.variant(o.Variant) == nil {
				stop(i)
			}
		}
	}
	converge(&rec.Current)
	if rec.Pending != nil {
		converge(rec.Pending)
	}
	retiring := rec.Retiring != nil && in.Now.Before(rec.RetireAt)
	for i, o := range in.Instances {
		if retiring && o.Deployment == rec.Retiring.ID {
			continue // the old fleet of a deployment, kept for TerminationWaitInSeconds
		}
		if o.Deployment != rec.Current.ID && (rec.Pending == nil || o.Deployment != rec.Pending.ID) {
			stop(i)
		}
	}
	// converged: every variant of d has exactly its desired number of
	// healthy instances (those started now are not healthy yet).
	converged := func(d *deployment) bool {
		for _, v := range d.Variants {
			idx := live(d, v.Name)
			if len(idx) != desired(d, v) || slices.ContainsFunc(p.Start, func(s startOrder) bool { return s.Deployment == d.ID && s.Variant == v.Name }) {
				return false
			}
			for _, i := range idx {
				if !in.Instances[i].Ready {
					return false
				}
			}
		}
		return true
	}
	next, wake := advance(rec, in.Failure, in.Alarming, in.Now, converged)
	p.Next, p.WakeIn = next, wake
	if retiring && (p.WakeIn == 0 || rec.RetireAt.Sub(in.Now) < p.WakeIn) {
		p.WakeIn = rec.RetireAt.Sub(in.Now)
	}
	return p
}

// advance is the status machine (see the package documentation): the move
// from rec's status given the failure of the operation in progress and
// whether a deployment has converged; nil when it stays.
func advance(rec endpointRecord, failure string, alarming []string, now time.Time, converged func(*deployment) bool) (*transition, time.Duration) {
	move := func(status, reason string, clear bool) *transition { return moveTo(rec, status, reason, now, clear) }
	if rec.Retiring != nil && !now.Before(rec.RetireAt) {
		// The old fleet's wait is over (planInstances stops it).
		rec.Retiring, rec.RetireAt = nil, time.Time{}
		return &transition{Rec: rec}, 0
	}
	if rec.Status == StatusUpdating && rec.Rollout != nil {
		return advanceRollout(rec, failure, alarming, now, converged)
	}
	switch rec.Status {
	case StatusCreating:
		if failure != "" {
			return move(StatusFailed, failure, false), 0
		} else if converged(&rec.Current) {
			rec.Current = withCurrentWeights(rec.Current)
			return move(StatusInService, "", false), 0
		}
	case StatusUpdating:
		switch {
		case rec.Pending != nil && failure != "":
			// The new fleet failed: the current configuration stays.
			rec.Pending = nil
			return move(StatusInService, "Failed to update endpoint: "+failure, true), 0
		case rec.Pending != nil && converged(rec.Pending):
			// Cut over: the new fleet takes the traffic, the old one drains.
			rec.Current, rec.Pending = withCurrentWeights(*rec.Pending), nil
			return move(StatusInService, "", false), 0
		case rec.Pending == nil && failure != "":
			// A capacity change failed: back to the variants before it.
			if rec.Rollback != nil {
				rec.Current.Variants, rec.Rollback = rec.Rollback, nil
			}
			return move(StatusRollingBack, failure, true), 0
		case rec.Pending == nil && converged(&rec.Current):
			if wait := rec.LastModifiedTime.Add(weightShift).Sub(now); wait > 0 && weightsChanging(rec.Current) {
				return nil, wait
			}
			rec.Rollback = nil
			rec.Current = withCurrentWeights(rec.Current)
			return move(StatusInService, "", false), 0
		}
	case StatusRollingBack:
		if ro := rec.Rollout; ro != nil && ro.Back {
			// A rollback in batches: each once the batch before is healthy.
			if !converged(&rec.Current) || !converged(rec.Pending) {
				return nil, 0
			}
			if rec.Current.variantsAt(func(v variant) int { return ro.rollbackTarget(rec, &rec.Current, v) }) {
				rec.Pending, rec.Rollout = nil, nil
				rec.Current = withCurrentWeights(rec.Current)
				return move(StatusInService, rec.FailureReason, false), 0
			}
			next := *ro
			next.Step++
			rec.Rollout = &next
			return move(StatusRollingBack, rec.FailureReason, false), 0
		}
		if converged(&rec.Current) {
			rec.Current = withCurrentWeights(rec.Current)
			return move(StatusInService, rec.FailureReason, false), 0
		}
	}
	return nil, 0
}

// moveTo is the move of rec (as the caller changed it) to status, with
// reason, at now.
func moveTo(rec endpointRecord, status, reason string, now time.Time, clear bool) *transition {
	rec.Status, rec.FailureReason, rec.LastModifiedTime = status, reason, now
	return &transition{Rec: rec, ClearFailure: clear}
}

// advanceRollout moves a deployment with a DeploymentConfig
// (rollout.go): rolled back on an alarm, a failure or the time limit;
// else a blue/green one's traffic steps and bakes and its cut-over, or a
// rolling one's batches.
func advanceRollout(rec endpointRecord, failure string, alarming []string, now time.Time, converged func(*deployment) bool) (*transition, time.Duration) {
	move := func(status, reason string, clear bool) *transition { return moveTo(rec, status, reason, now, clear) }
	ro := *rec.Rollout
	limit := ro.Started.Add(ro.Config.timeout())
	back := func(why string) *transition {
		reason := rolledBack(rec.Pending.ConfigName, why)
		if r := ro.Config.RollingUpdatePolicy; r != nil && ro.rollbackBatch(rec.Current.Variants[0]) < rec.Current.Variants[0].DesiredCount {
			// In batches: the new fleet serves until old instances
			// replace it, a batch at a time.
			v, nv := rec.Current.Variants[0], rec.Pending.Variants[0]
			back := ro
			back.Back, back.Step, back.Since = true, 0, time.Time{}
			back.Old, back.New = ro.rollingTarget(rec, &rec.Current, v), ro.rollingTarget(rec, rec.Pending, nv)
			rec.Rollout = &back
			return move(StatusRollingBack, reason, true)
		}
		rec.Pending, rec.Rollout = nil, nil
		if ro.Config.RollingUpdatePolicy != nil {
			// Old instances are gone: the old fleet comes back first.
			return move(StatusRollingBack, reason, true)
		}
		return move(StatusInService, reason, true)
	}
	switch {
	case failure != "":
		return back("the new fleet failed: " + failure), 0
	case len(alarming) > 0:
		return back(fmt.Sprintf("alarm %s went into ALARM", strings.Join(alarming, ", "))), 0
	case !now.Before(limit):
		return back(fmt.Sprintf("the deployment did not complete within MaximumExecutionTimeoutInSeconds (%d)", int(ro.Config.timeout().Seconds()))), 0
	case !converged(rec.Pending):
		return nil, limit.Sub(now)
	}
	if r := ro.Config.RollingUpdatePolicy; r != nil {
		// The batch is healthy: bake it, then the next.
		if ro.Since.IsZero() {
			ro.Since = now
			rec.Rollout = &ro
			return move(StatusUpdating, "", false), 0
		}
		if bake := ro.Since.Add(time.Duration(r.WaitIntervalInSeconds) * time.Second).Sub(now); bake > 0 {
			return nil, min(bake, limit.Sub(now))
		}
		if rec.Pending.variantsAt(func(v variant) int { return ro.rollingTarget(rec, rec.Pending, v) }) {
			rec.Current, rec.Pending, rec.Rollout = withCurrentWeights(*rec.Pending), nil, nil
			return move(StatusInService, "", false), 0
		}
		ro.Step, ro.Since = ro.Step+1, time.Time{}
		rec.Rollout = &ro
		return move(StatusUpdating, "", false), 0
	}
	p := ro.Config.BlueGreenUpdatePolicy
	shares := p.shares(rec.Pending.capacity())
	if ro.Step >= 0 {
		if bake := ro.Since.Add(p.wait()).Sub(now); bake > 0 {
			return nil, min(bake, limit.Sub(now))
		}
	}
	if ro.Step+1 < len(shares) {
		// The next step of traffic, baked from now.
		ro.Step, ro.Since = ro.Step+1, now
		rec.Rollout = &ro
		return move(StatusUpdating, "", false), 0
	}
	// All traffic on the new fleet, baked: it is current; the old one
	// stays TerminationWaitInSeconds.
	old := rec.Current
	rec.Current, rec.Pending, rec.Rollout = withCurrentWeights(*rec.Pending), nil, nil
	if wait := p.terminationWait(); wait > 0 {
		rec.Retiring, rec.RetireAt = &old, now.Add(wait)
	}
	return move(StatusInService, "", false), 0
}

// weightShift is how long a change of variant weights keeps the endpoint
// Updating before the new weights are current, as SageMaker shifts traffic
// over a while (how long is undocumented; ebb's choice), so that a client
// sees Updating and then InService, as waiters expect.
const weightShift = 5 * time.Second

// weightsChanging reports a variant whose desired weight is not current.
func weightsChanging(d deployment) bool {
	return slices.ContainsFunc(d.Variants, func(v variant) bool { return v.CurrentWeight != v.DesiredWeight })
}

// withCurrentWeights returns d with its desired weights current (its
// variants copied: the record it came from is not changed).
func withCurrentWeights(d deployment) deployment {
	d.Variants = slices.Clone(d.Variants)
	for i := range d.Variants {
		d.Variants[i].CurrentWeight = d.Variants[i].DesiredWeight
	}
	return d
}

// surplusOrder orders instances (indexes into all) in the order they are
// given up: those still starting first, then the newest.
func surplusOrder(all []observedInstance, idx []int) {
	slices.SortStableFunc(idx, func(a, b int) int {
		if all[a].Ready != all[b].Ready {
			if all[a].Ready {
				return 1
			}
			return -1
		}
		return all[b].Started.Compare(all[a].Started)
	})
}
