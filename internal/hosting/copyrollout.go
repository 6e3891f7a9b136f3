package hosting

import (
	"fmt"
	"strings"
	"time"
)

// Rolling updates of an inference component's copies, as SageMaker's
// InferenceComponentRollingUpdatePolicy runs them (UpdateInferenceComponent's
// DeploymentConfig): a batch of copies of the new specification starts
// beside the old ones and takes its share of traffic (the router spreads a
// component's requests over all its healthy copies, so a fleet's share is
// its copies'); once the batch is healthy it bakes for
// WaitIntervalInSeconds while the AutoRollbackConfiguration's alarms are
// watched; then as many old copies go as the next batch starts, so that
// the copies serving stay at the desired count. An alarm in ALARM, a copy
// of the new specification that fails, or MaximumExecutionTimeoutInSeconds
// passing rolls the component back: the previous specification is current
// again, its missing copies start at once (SageMaker's default
// RollbackMaximumBatchSize, the whole fleet), and the new copies go as
// soon as a copy of the previous specification serves, traffic first;
// with a smaller RollbackMaximumBatchSize they come back that many at a
// time, and the new copies serve until as many of the previous
// specification are healthy.
// The component is then InService on its previous specification with the
// reason in FailureReason. The decisions are advanceCopies' (here) and
// planCopies' (place.go), pure and table-tested.

// ComponentDeploymentConfig is UpdateInferenceComponent's DeploymentConfig.
// Its InferenceComponentRollingUpdatePolicy has the members of an
// endpoint's RollingUpdatePolicy, its sizes COPY_COUNT or CAPACITY_PERCENT
// of the component's copies.
type ComponentDeploymentConfig struct {
	RollingUpdatePolicy       *RollingUpdatePolicy `json:",omitempty"`
	AutoRollbackConfiguration *AutoRollbackConfig  `json:",omitempty"`
}

// copyRollout is a rolling update of a component in progress: the
// configuration, the specification it replaces, when it started, the
// batch being replaced (Step), and Since when that batch's copies were all
// healthy (zero before).
type copyRollout struct {
	Config   ComponentDeploymentConfig `json:"config"`
	Previous componentSpec             `json:"previous"`
	Started  time.Time                 `json:"started"`
	Step     int                       `json:"step"`
	Since    time.Time                 `json:"since"`
}

// targets are how many copies of the new and of the previous
// specification the batch in progress wants of desired copies: the new one
// Step+1 batches, the previous one what the completed batches leave.
func (ro *copyRollout) targets(desired int) (next, previous int) {
	b := ro.Config.RollingUpdatePolicy.MaximumBatchSize.batch(desired)
	return min(desired, (ro.Step+1)*b), max(0, desired-ro.Step*b)
}

// timeout is how long the update may take: MaximumExecutionTimeoutInSeconds,
// else the model's largest value.
func (c ComponentDeploymentConfig) timeout() time.Duration {
	if p := c.RollingUpdatePolicy; p != nil && p.MaximumExecutionTimeoutInSeconds != nil {
		return time.Duration(*p.MaximumExecutionTimeoutInSeconds) * time.Second
	}
	return DefaultMaximumExecutionTimeout
}

func (c ComponentDeploymentConfig) alarms() []string {
	return DeploymentConfig{AutoRollbackConfiguration: c.AutoRollbackConfiguration}.alarms()
}

// checkComponentDeployment refuses a DeploymentConfig ebb does not run or
// SageMaker documents as invalid, for a component of desired copies. The
// model makes RollingUpdatePolicy, its MaximumBatchSize and
// WaitIntervalInSeconds required; AWS's messages for the rest are not
// documented, and each names the member.
func checkComponentDeployment(c ComponentDeploymentConfig, desired int) error {
	r := c.RollingUpdatePolicy
	if r == nil {
		return errorf(ErrInvalid, "A DeploymentConfig of an inference component needs a RollingUpdatePolicy.")
	}
	if err := checkPercents(&r.MaximumBatchSize, r.RollbackMaximumBatchSize); err != nil {
		return err
	}
	// SageMaker: "The value must be between 5% to 50% of the copy count".
	if share := float64(r.MaximumBatchSize.batch(desired)) / float64(max(1, desired)); share < 0.05 || share > 0.5 {
		return errorf(ErrInvalid, "MaximumBatchSize (%s %d) must be 5%% to 50%% of the inference component's %d copies.", r.MaximumBatchSize.Type, r.MaximumBatchSize.Value, desired)
	}
	return nil
}

// advanceCopies moves a component's rolling update: rolled back on an
// alarm, a failed copy of the new specification or the time limit; else,
// once every copy of the batch is healthy (ready of them), the batch bakes
// and the next begins; after the last batch's bake the update is done, and
// planCopies stops what is left of the previous specification and puts the
// component InService. It returns the component, whether it changed, and
// when to look again (0: no sooner than something happens).
func advanceCopies(c component, ready int, failure string, alarming []string, now time.Time) (component, bool, time.Duration) {
	ro := *c.Rollout
	limit := ro.Started.Add(ro.Config.timeout())
	back := func(why string) (component, bool, time.Duration) {
		c.RollbackBatch = 0
		if b := ro.Config.RollingUpdatePolicy.RollbackMaximumBatchSize; b != nil && b.batch(c.DesiredCopies) < c.DesiredCopies {
			c.RollbackBatch = b.batch(c.DesiredCopies)
		}
		c.Discard, c.componentSpec, c.Rollout = c.Generation, ro.Previous, nil
		c.RollbackReason = fmt.Sprintf("Rolled back the update of inference component %s: %s. All traffic is on the previous specification.", c.Name, why)
		c.LastModifiedTime = now
		return c, true, 0
	}
	switch {
	case failure != "":
		return back("a copy of the new specification failed: " + failure)
	case len(alarming) > 0:
		return back(fmt.Sprintf("alarm %s went into ALARM", strings.Join(alarming, ", ")))
	case !now.Before(limit):
		return back(fmt.Sprintf("the update did not complete within MaximumExecutionTimeoutInSeconds (%d)", int(ro.Config.timeout().Seconds())))
	}
	next, _ := ro.targets(c.DesiredCopies)
	if ready < next {
		return c, false, limit.Sub(now)
	}
	wait := time.Duration(ro.Config.RollingUpdatePolicy.WaitIntervalInSeconds) * time.Second
	switch {
	case ro.Since.IsZero():
		ro.Since = now
	case now.Before(ro.Since.Add(wait)):
		return c, false, min(ro.Since.Add(wait).Sub(now), limit.Sub(now))
	case next >= c.DesiredCopies:
		c.Rollout = nil
		return c, true, 0
	default:
		ro.Step, ro.Since = ro.Step+1, time.Time{}
	}
	c.Rollout = &ro
	return c, true, 0
}
